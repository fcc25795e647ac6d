// `backup FILE` as a child process while a running server takes a loop of /subscribe: the copy
// opens, passes PRAGMA integrity_check and holds every name acknowledged before the command
// started; an existing FILE is kept unless --force. The copy under load and Ctrl-C during a copy
// are child processes; the other runs are in this process (test/support/cli.ts), on their own
// connection as the CLI's (a CLI process's exits 1 and 2 are pinned by test/cli/domains.test.ts).
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, renameSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { freshName, subscribe } from "../support/helpers.ts";
import { openDatabase } from "../../src/store/db.ts";
import { cliInProcess } from "../support/cli.ts";
import { serverCommand } from "../support/server-binary.ts";
import { type RunningServer, runCli, startServer } from "../support/server.ts";

// A CLI run in a child process is a process start (about a second on a loaded machine).
setDefaultTimeout(60_000);

let server: RunningServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.cleanup();
});

const args = (more: string[]) => ["backup", ...more, "--db", server.dbPath, "--admin-port", "0"];
/** `backup` on the running server's file, in a child process. */
const backup = (...more: string[]) => runCli(args(more));
/** The same in this process. */
const backupHere = (...more: string[]) => cliInProcess(args(more));

const sha = (path: string) => new Bun.CryptoHasher("sha256").update(readFileSync(path)).digest("hex");

function namesIn(path: string): Set<string> {
  const copy = new Database(path, { readonly: true });
  try {
    expect(copy.query("PRAGMA integrity_check").values()).toEqual([["ok"]]);
    return new Set((copy.query("SELECT name FROM domains").values() as [string][]).map(([name]) => name));
  } finally {
    copy.close();
  }
}

describe("backup FILE", () => {
  test("under a write load: the copy passes integrity_check and holds every name acknowledged before it began", async () => {
    const acknowledged: string[] = [];
    let running = true;
    // Four clients subscribing in a loop, each name recorded once the server has answered 200.
    const load = Array.from({ length: 4 }, async () => {
      while (running) acknowledged.push((await subscribe(server, freshName("load"))).name);
    });
    while (acknowledged.length < 40) await Bun.sleep(20);
    const before = [...acknowledged];
    const file = join(server.dir, "copy.sqlite");
    const result = await backup(file);
    const during = acknowledged.length - before.length;
    running = false;
    await Promise.all(load);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: "" });
    expect(result.stdout).toMatch(/^backed up .* to .*copy\.sqlite: \d+ domains, \d+ bytes, integrity ok\n$/);
    expect(during).toBeGreaterThan(0); // the server took writes while the backup ran
    const names = namesIn(file);
    expect(before.filter((label) => !names.has(`${label}.example.test.`))).toEqual([]);
    // no temporary file is left beside the copy
    expect(readdirSync(server.dir).filter((f) => f.includes(".tmp"))).toEqual([]);
  });

  test("an existing FILE is refused (exit 1, file untouched) and replaced with --force", async () => {
    const file = join(server.dir, "again.sqlite");
    expect((await backupHere(file)).code).toBe(0);
    const first = readFileSync(file);
    const { name } = await subscribe(server);
    const refused = await backupHere(file);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`registration-server: ${file} exists (--force replaces it)\n`);
    expect(readFileSync(file).equals(first)).toBe(true);
    expect((await backupHere(file, "--force")).code).toBe(0);
    expect(namesIn(file).has(`${name}.example.test.`)).toBe(true);
  });

  test("failures: no such directory or no database is exit 1; no FILE is exit 2", async () => {
    const [noDir, noDb, noFile] = await Promise.all([
      backupHere(join(server.dir, "missing", "copy.sqlite")),
      cliInProcess(["backup", join(server.dir, "x.sqlite"), "--db", join(server.dir, "none.sqlite"), "--admin-port", "0"]),
      cliInProcess(["backup", "--admin-port", "0"]),
    ]);
    expect([noDir.code, noDir.stderr]).toEqual([1, `registration-server: no such directory: ${join(server.dir, "missing")}\n`]);
    expect([noDb.code, noDb.stderr]).toEqual([1, `registration-server: no database at ${join(server.dir, "none.sqlite")}\n`]);
    expect([noFile.code, noFile.stderr]).toEqual([2, "registration-server: usage: registration-server backup FILE [--force]\n"]);
    expect(existsSync(join(server.dir, "none.sqlite"))).toBe(false);
  });

  test("a FILE that is the database itself (its path, a link to it, its -wal) is refused even with --force; the server's writes still reach the file", async () => {
    const link = join(server.dir, "link-to-db.sqlite");
    symlinkSync(server.dbPath, link);
    for (const target of [server.dbPath, link, `${server.dbPath}-wal`]) {
      const refused = await backupHere(target, "--force");
      expect([refused.code, refused.stderr]).toEqual([
        1,
        `registration-server: ${target} is the database itself (or its -wal/-shm file): back up to another file\n`,
      ]);
    }
    // Before, the copy was renamed over the live file: the server went on writing to the unlinked one.
    const { name } = await subscribe(server);
    expect(namesIn(server.dbPath).has(`${name}.example.test.`)).toBe(true);
  });
});

describe("signals", () => {
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const)
    test(`${signal} during the copy: the unfinished copy is removed, FILE is not written, one line on stderr, and the signal ends the process (${code})`, async () => {
      const source = join(server.dir, `held-${signal}.sqlite`);
      // close(true): a plain close() waits for the statements Drizzle prepared, and the file stays open meanwhile
      openDatabase(source).$client.close(true);
      // A connection in exclusive locking mode keeps every other reader out: the copy waits inside
      // VACUUM INTO (up to its 5 s busy timeout), where a big database's copy spends its time.
      const holder = new Database(source);
      holder.run("PRAGMA locking_mode = EXCLUSIVE");
      holder.run("BEGIN EXCLUSIVE");
      const file = join(server.dir, "stopped.sqlite");
      const proc = Bun.spawn([...(await serverCommand()), "backup", file, "--db", source, "--admin-port", "0"], {
        stdout: "pipe",
        stderr: "pipe",
        stdin: "ignore",
      });
      const temporary = join(server.dir, `.stopped.sqlite.${proc.pid}.tmp`);
      try {
        for (let i = 0; i < 1000 && proc.exitCode === null && !existsSync(temporary); i++) await Bun.sleep(10);
        expect(existsSync(temporary)).toBe(true);
        proc.kill(signal);
        const [stderr, exitCode] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
        expect({ exitCode, signal: proc.signalCode, stderr }).toEqual({
          exitCode: code,
          signal,
          stderr: `registration-server: ${signal}: backup stopped, ${file} not written\n`,
        });
        expect(readdirSync(server.dir).filter((f) => f.startsWith(".stopped.sqlite"))).toEqual([]);
        expect(existsSync(file)).toBe(false);
      } finally {
        proc.kill("SIGKILL");
        holder.close();
      }
    });
});

describe("a database file replaced under the running server", () => {
  test("is refused by backup, domains list/show/delete and dnssec ds (exit 1, naming the server): a connection to the new file would read the served file's WAL as its own", async () => {
    // Shown before the refusal: a backup of the 20-name file put there held 40 names, its pages
    // read through the -wal and -shm the server writes for the file it has open.
    const own = await startServer();
    try {
      for (let i = 0; i < 20; i++) await subscribe(own, freshName("served"));
      // an operator restores a copy over the live file while the server runs
      const restored = join(own.dir, "restored.sqlite");
      const source = new Database(own.dbPath);
      source.run(`VACUUM INTO '${restored}'`);
      source.close();
      renameSync(restored, own.dbPath);
      for (let i = 0; i < 20; i++) await subscribe(own, freshName("after")); // into the served file's WAL
      // the bytes of the file put there (any connection to it would read the served file's WAL)
      const restoredBytes = sha(own.dbPath);
      const result = await runCli(["backup", join(own.dir, "copy.sqlite"), "--db", own.dbPath, "--admin-port", "0"]);
      expect({ code: result.code, stderr: result.stderr }).toEqual({
        code: 1,
        stderr: expect.stringContaining(`${own.dbPath} is not the file the server (pid ${own.proc.pid}) has open`),
      });
      expect(existsSync(join(own.dir, "copy.sqlite"))).toBe(false);
      // The other commands that open the file refuse too (the server has no admin listener to ask):
      // shown before, `domains list` printed the 40 names the mixed view held.
      const refusal = `${own.dbPath} is not the file the server (pid ${own.proc.pid}) has open: it was replaced while the server ran. Restart the server (it serves the file at the path then), or stop it, and run this again\n`;
      for (const command of [
        ["domains", "list"],
        ["domains", "show", "anything"],
        ["domains", "delete", "anything"],
        ["dnssec", "ds"],
      ])
        expect(await cliInProcess([...command, "--db", own.dbPath, "--admin-port", "0"])).toEqual({
          code: 1,
          stdout: "",
          stderr: `registration-server: ${refusal}`,
        });
      expect(sha(own.dbPath)).toBe(restoredBytes);
    } finally {
      await own.cleanup();
    }
  });
});
