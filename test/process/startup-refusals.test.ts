// Start-up refuses, with one line and exit 2, a database it must not serve from
// (docs/operations.md, "Start-up and shutdown"): one it cannot write, one failing PRAGMA
// quick_check, one a newer version migrated, another program's SQLite file. Each case is a real
// file; the file is left exactly as it was.
// The exit (2, one line) goes through a process once (failing quick_check) and for the cases that
// need another user (as nobody); the others call openDatabase, the function serve.ts calls, whose
// error message is the line's reason.
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { chmodSync, closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { embeddedMigrations } from "../../src/store/migrations.ts";
import { openDatabase } from "../../src/store/db.ts";
import { createStore } from "../../src/store/domains.ts";
import { serverCommand } from "../support/server-binary.ts";
import { loopbackArgs, runCli } from "../support/server.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function fileIn(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), "regsrv-refuse-"));
  dirs.push(dir);
  return join(dir, name);
}

/** A database of ours with `n` domains, checkpointed into the main file and closed. */
function ourDatabase(path: string, n = 0): void {
  const db = openDatabase(path);
  const store = createStore(db);
  db.$client.transaction(() => {
    for (let i = 0; i < n; i++)
      store.insertDomain({ name: `gw${i}.example.test.`, token: crypto.randomUUID(), description: "x".repeat(200), mode: 0, timestamp: 2_000_000_000 });
  })();
  db.$client.run("PRAGMA wal_checkpoint(TRUNCATE)");
  db.$client.close();
}

/** The server's start-up on `path` until it exits (or is killed after 15 s). */
function start(path: string) {
  return runCli(loopbackArgs(path));
}

/** What serve.ts's start-up would print after `cannot open database <path>: `: openDatabase's error, in this process. */
function refusal(path: string): string {
  try {
    openDatabase(path).$client.close();
  } catch (e) {
    const message = (e as Error).message;
    expect(message.split("\n")).toHaveLength(1);
    return message;
  }
  throw new Error(`openDatabase(${path}) did not refuse the file`);
}

/** Exit 2, nothing on stdout past the settings, exactly one line on stderr, starting with the path. */
function expectRefused(result: Awaited<ReturnType<typeof start>>, path: string, reason: RegExp): void {
  expect(result.timedOut).toBe(false);
  expect(result.stdout).not.toContain("ready:");
  expect(result.code, result.stderr).toBe(2);
  const lines = result.stderr.split("\n").filter((l) => l !== "");
  expect(lines.length, result.stderr).toBe(1);
  expect(lines[0]).toStartWith(`registration-server: cannot open database ${path}: `);
  expect(lines[0]).toMatch(reason);
}

function canRunAsNobody(): boolean {
  if (process.getuid?.() === 0 && Bun.spawnSync(["setpriv", "--version"]).exitCode === 0) return true;
  console.warn("skipped: needs root and setpriv to run the server as nobody");
  return false;
}
/** The server's start-up on `path` as nobody (uid 65534), until it exits: the compiled binary (test/support/server-binary.ts), readable by all. */
async function startAsNobody(path: string) {
  return runCli([], {
    command: ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ...(await serverCommand()), ...loopbackArgs(path)],
  });
}

const sha = (path: string) => new Bun.CryptoHasher("sha256").update(readFileSync(path)).digest("hex");

describe("start-up refuses a database", () => {
  test("it cannot write (an immutable file): exit 2 and one line, not a server answering 501", async () => {
    const path = fileIn("ro.sqlite");
    ourDatabase(path, 3);
    // Tests run as root, for whom mode 444 stops no write: the immutable flag does (ext4, xfs, btrfs).
    const chattr = Bun.spawnSync(["chattr", "+i", path], { stderr: "pipe" });
    if (chattr.exitCode !== 0) {
      console.warn(`skipped: chattr +i is not possible here (${chattr.stderr.toString().trim()}), so no file is read-only to root`);
      return;
    }
    try {
      expect(refusal(path)).toMatch(/the file is not writable .*-wal and -shm/);
    } finally {
      Bun.spawnSync(["chattr", "-i", path]);
    }
  });

  test("it cannot write (mode 444), run as a user other than root", async () => {
    const path = fileIn("ro444.sqlite");
    ourDatabase(path, 1);
    chmodSync(path, 0o444);
    chmodSync(dirname(path), 0o777);
    if (!canRunAsNobody()) return;
    expectRefused(await startAsNobody(path), path, /the file is not writable \(EACCES\)/);
  });

  test("in a directory it cannot write (no room for the -wal and -shm files), run as a user other than root", async () => {
    const path = fileIn("dir.sqlite");
    ourDatabase(path, 1);
    chmodSync(path, 0o666);
    chmodSync(dirname(path), 0o755);
    if (!canRunAsNobody()) return;
    expectRefused(await startAsNobody(path), path, /the directory \S+ is not writable \(EACCES\)/);
  });

  test("failing PRAGMA quick_check (garbage over one page of a real database)", async () => {
    const path = fileIn("corrupt.sqlite");
    ourDatabase(path, 400);
    const pageSize = (() => {
      const db = new Database(path, { readonly: true });
      const size = (db.query("PRAGMA page_size").get() as { page_size: number }).page_size;
      db.close();
      return size;
    })();
    const fd = openSync(path, "r+");
    writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, pageSize * 4);
    closeSync(fd);
    const before = sha(path);
    expectRefused(await start(path), path, /quick_check .*restore a backup/);
    expect(sha(path)).toBe(before);
  });

  test("migrated by a newer version (a migration row later than every embedded one)", async () => {
    const path = fileIn("newer.sqlite");
    ourDatabase(path, 1);
    const last = Math.max(...embeddedMigrations().map((m) => m.folderMillis));
    const db = new Database(path);
    db.query("INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)").run("f".repeat(64), last + 86_400_000);
    db.close();
    expect(refusal(path)).toMatch(/migrated by a newer version of registration-server .*run that version or newer/);
    expect(readdirSync(join(path, "..")).filter((f) => f.includes(".pre-"))).toEqual([]);
  });

  test("of another program (tables, none of ours or the Rust server's): no table of ours is added", async () => {
    const path = fileIn("other.sqlite");
    const db = new Database(path);
    db.run("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)");
    db.run("INSERT INTO notes (body) VALUES ('keep me')");
    db.close();
    expect(refusal(path)).toMatch(/holds tables \(notes\) but is neither this server's database nor the Rust registration server's/);
    const after = new Database(path, { readonly: true });
    expect(after.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all()).toEqual([{ name: "notes" }]);
    after.close();
  });
});

describe("start-up on a database path that is a directory", () => {
  test("names it as one and a file to use instead, not SQLite's 'unable to open database file'", () => {
    const path = dirname(fileIn("x"));
    expect(refusal(path)).toBe(`it is a directory: point database.path (--db) at a file, e.g. ${join(path, "registration.sqlite")}`);
  });
});

/**
 * Start-up on a database a sqlite3 shell left in a transaction: the server waits 2 s for the
 * write lock before it refuses. Begun when this file loads, so the wait passes while the tests
 * above run; the test below reads what came of it.
 */
const lockedStart = (async () => {
  const path = fileIn("locked.sqlite");
  ourDatabase(path, 1);
  const holder = new Database(path);
  holder.run("BEGIN IMMEDIATE");
  try {
    return { path, result: await start(path) };
  } finally {
    holder.run("ROLLBACK");
    holder.close();
  }
})();
lockedStart.catch(() => {}); // a failure is the test's to report, not an unhandled rejection

describe("start-up on a database another connection holds the write lock of", () => {
  test("exits 1, not 2 (systemd's Restart=on-failure tries again; RestartPreventExitStatus=2 would keep it down), naming the lock", async () => {
    const { path, result } = await lockedStart;
    expect(result.timedOut).toBe(false);
    expect(result.stdout).not.toContain("ready:");
    expect({ code: result.code, stderr: result.stderr }).toEqual({
      code: 1,
      stderr: `registration-server: cannot open database ${path}: another connection holds its write lock (database is locked, waited 2 s): end its transaction (a sqlite3 shell?) and try again\n`,
    });
  });
});
