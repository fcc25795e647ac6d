// `domains list|show|delete`: first on a database file no server has open, then against one
// running server on that same file, through its admin listener. Most runs are in this process
// (test/support/cli.ts: the dispatch main.ts calls); a child process for each exit code (0, 1,
// 2) and for what needs one (a pipe, a reader that goes away).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/store/db.ts";
import { createStore } from "../../src/store/domains.ts";
import { decode, encodeQuery, udpExchange } from "../dns/client.ts";
import { info, subscribe } from "../support/helpers.ts";
import { cliInProcess } from "../support/cli.ts";
import { serverCommand } from "../support/server-binary.ts";
import { freePort, type RunningServer, runCli, startServer } from "../support/server.ts";

// A CLI run in a child process is a process start (about a second on a loaded machine).
setDefaultTimeout(60_000);

const dir = mkdtempSync(join(tmpdir(), "regsrv-cli-"));
const dbPath = join(dir, "registration.sqlite");
const KEEP = { label: "keep", token: "22222222-2222-4222-8222-222222222222", ip: "203.0.113.5", email: "owner@example.org" };
const GONE = { label: "gone", token: "33333333-3333-4333-8333-333333333333", ip: "203.0.113.6" };
let adminPort = 0;
let server: RunningServer | undefined;

const on = (args: string[]) => [...args, "--domain", "example.test", "--db", dbPath, "--admin-port", String(adminPort)];
/** The CLI on this file's database and admin port, in this process. */
const cli = (...args: string[]) => cliInProcess(on(args));
/** The same in a child process. */
const cliProcess = (...args: string[]) => runCli(on(args));
const rcode = async (name: string) => decode(await udpExchange(server!.dnsPort, encodeQuery(name, "A"))).rcode;

beforeAll(async () => {
  adminPort = await freePort(); // nothing listens there until the server starts
  const db = openDatabase(dbPath);
  const store = createStore(db);
  const now = Math.floor(Date.now() / 1000);
  for (const g of [KEEP, GONE]) {
    store.insertDomain({ name: `${g.label}.example.test.`, token: g.token, description: `the ${g.label} gateway`, mode: 1, timestamp: now });
    store.recordPing(g.token, now, g.ip);
  }
  store.setPendingEmail(store.findDomainByName("keep.example.test.")!.id, KEEP.email, false, "link-keep", now + 3600);
  store.verifyEmail("link-keep", now);
  db.$client.close();
});

afterAll(async () => {
  await server?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe("with no server answering, the CLI works on the file", () => {
  test("domains list: one line per name with mode, last ping and the verified email masked", async () => {
    const { code, stdout, stderr } = await cli("domains", "list");
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const lines = stdout.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^keep\.example\.test dynamic-dns \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ owne\.\.\.$/);
    expect(lines[1]).toMatch(/^gone\.example\.test dynamic-dns \S+ -$/);
    expect(stdout).not.toContain(KEEP.email);
  });

  test("domains list --json: a JSON array of the same", async () => {
    const { code, stdout } = await cli("domains", "list", "--json");
    expect(code).toBe(0);
    const list = JSON.parse(stdout) as { name: string; mode: string; email: string }[];
    expect(list.map((d) => [d.name, d.mode, d.email])).toEqual([
      ["keep.example.test", "dynamic-dns", "owne..."],
      ["gone.example.test", "dynamic-dns", ""],
    ]);
  });

  test("domains show: any form of the name, every field, tokens masked", async () => {
    for (const typed of ["keep", "KEEP.example.test", "keep.Example.Test."]) {
      const { code, stdout } = await cli("domains", "show", typed);
      expect(code).toBe(0);
      expect(stdout).toContain("name: keep.example.test\n");
      expect(stdout).toContain("token: 2222...\n");
      expect(stdout).toContain("lastIp: 203.0.113.5\n");
      expect(stdout).toContain("description: the keep gateway\n");
      expect(stdout).not.toContain(KEEP.token);
      expect(stdout).not.toContain(KEEP.email);
    }
  });

  test("domains delete removes the row from the file; a second delete fails with exit 1", async () => {
    const first = await cli("domains", "delete", "gone.example.test.");
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^deleted gone\.example\.test \(in .*no server answered/);
    const again = await cliProcess("domains", "delete", "gone"); // exit 1 from the process
    expect(again.code).toBe(1);
    expect(again.stderr).toBe("registration-server: no such name: gone\n");
  });

  test("domains list --json into a slow reader holds every row of every page (6,000 names, two pages)", async () => {
    const big = join(dir, "big.sqlite");
    const db = openDatabase(big);
    db.$client.run("INSERT INTO accounts (id, email, optout) VALUES (1, '', 1)");
    const insert = db.$client.prepare("INSERT INTO domains (name, account_id, token, description, timestamp) VALUES (?, 1, ?, '', 1700000000)");
    db.$client.transaction(() => {
      for (let i = 0; i < 6000; i++) insert.run(`n${i}.example.test.`, `token-${i}`);
    })();
    db.$client.close();
    // A reader that comes late, as `| less` does: the ~1 MB does not fit the pipe (64 KB), so the
    // process must wait for the reader before it exits. One that exits meanwhile, dropping what
    // the pipe has not taken (before each write waited to be handed over), cuts the JSON short.
    const command = [...(await serverCommand()), "domains", "list", "--json", "--db", big, "--admin-port", String(adminPort)];
    const proc = Bun.spawn(["bash", "-c", 'set -o pipefail; "$@" | (sleep 0.3; cat)', "bash", ...command], {
      stdout: "pipe",
      stderr: "inherit",
      stdin: "ignore",
    });
    const [stdout, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    expect(code).toBe(0);
    const list = JSON.parse(stdout) as { name: string }[];
    expect(list).toHaveLength(6000);
    expect(list.at(-1)!.name).toBe("n5999.example.test");
  });

  test("domains list into a reader that stops after its first chunk (| head): exit 0, nothing on stderr", async () => {
    const proc = Bun.spawn([...(await serverCommand()), "domains", "list", "--db", join(dir, "big.sqlite"), "--admin-port", "0"], {
      stdout: "pipe",
      stderr: "pipe",
      stdin: "ignore",
    });
    const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
    expect((await reader.read()).done).toBe(false);
    await reader.cancel();
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr as ReadableStream<Uint8Array>).text()]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
  });

  test("a server started afterwards does not serve the deleted name", async () => {
    server = await startServer({ dir, dbPath, env: { REGISTRATION_ADMIN_PORT: String(adminPort) } });
    expect(await rcode("gone.example.test")).toBe("NXDOMAIN");
    expect(await rcode("keep.example.test")).toBe("NOERROR");
  });
});

describe("through the running server's admin listener", () => {
  test("domains delete: the very next DNS query is NXDOMAIN and /info is 404", async () => {
    const { name, token } = await subscribe(server!);
    // both caches hold the name first
    expect(await rcode(`${name}.example.test`)).toBe("NOERROR");
    expect((await info(server!, token)).status).toBe(200);
    const { code, stdout } = await cli("domains", "delete", name.toUpperCase());
    expect(code).toBe(0);
    expect(stdout).toBe(`deleted ${name}.example.test (through the running server at http://127.0.0.1:${adminPort})\n`);
    expect(await rcode(`${name}.example.test`)).toBe("NXDOMAIN");
    expect((await info(server!, token)).status).toBe(404);
  });

  test("domains list and show read the server's data", async () => {
    const { name } = await subscribe(server!);
    const list = await cli("domains", "list", "--json");
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as { name: string }[]).map((d) => d.name)).toEqual(["keep.example.test", `${name}.example.test`]);
    const show = await cli("domains", "show", `${name}.example.test.`);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(`name: ${name}.example.test\nmode: tunnel\n`);
    const json = await cli("domains", "show", name, "--json");
    expect(JSON.parse(json.stdout)).toMatchObject({ name: `${name}.example.test`, mode: "tunnel", verified: false });
    expect((await cli("domains", "show", "nobody")).code).toBe(1);
  });

  test("a server on the admin port that serves another file: exit 1, nothing deleted", async () => {
    const other = join(dir, "other.sqlite");
    const { code, stderr } = await cliInProcess(["domains", "delete", "keep", "--db", other, "--admin-port", String(adminPort)]);
    expect(code).toBe(1);
    expect(stderr).toBe(`registration-server: the server at http://127.0.0.1:${adminPort} serves ${dbPath}, not ${other} (check --db and --admin-port)\n`);
    expect(await rcode("keep.example.test")).toBe("NOERROR");
  });
});

describe("signals", () => {
  test("SIGINT (Ctrl-C) during a subcommand ends it by the signal: no exit 0, none of the server's shutdown lines", async () => {
    // an admin port that accepts and never answers: the CLI waits in its /healthz probe
    const sockets: Socket[] = [];
    let connected: () => void = () => {};
    const probed = new Promise<void>((resolve) => (connected = resolve));
    const silent = createServer((socket) => {
      sockets.push(socket);
      connected();
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const proc = Bun.spawn([...(await serverCommand()), "domains", "list", "--db", join(dir, "signal.sqlite"), "--admin-port", String(port)], {
        stdout: "pipe",
        stderr: "pipe",
        stdin: "ignore",
      });
      await probed;
      proc.kill("SIGINT");
      const [stdout, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
      expect({ code, signal: proc.signalCode }).toEqual({ code: 130, signal: "SIGINT" });
      expect(stdout).not.toContain("shutting down");
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});

describe("usage", () => {
  test("--help for each subcommand: exit 0 and its usage line", async () => {
    const commands = [["domains", "list"], ["domains", "show"], ["domains", "delete"], ["domains"], ["backup"], ["check-config"], ["serve"]];
    // serve's help is main.ts's, and one subcommand's goes through a process; the rest in this one
    const inProcess = (command: string[]) => !["serve", "backup"].includes(command[0]);
    const runs = await Promise.all(commands.map((command) => (inProcess(command) ? cliInProcess : runCli)([...command, "--help"])));
    for (const [i, { code, stdout }] of runs.entries()) {
      expect(code).toBe(0);
      expect(stdout).toContain(commands[i][0] === "serve" ? "Usage: registration-server [serve]" : `Usage: registration-server ${commands[i].join(" ")}`);
    }
  }, 30_000);

  test("bad usage and bad settings: exit 2 with one line", async () => {
    const cases: [string[], RegExp][] = [
      [["domains", "show"], /usage: registration-server domains show NAME \[--json\]/],
      [["domains", "delete", "a", "b"], /usage: registration-server domains delete NAME/],
      [["domains", "list", "extra"], /usage: registration-server domains list/],
      [["domains", "rename", "a"], /unknown command 'domains rename'/],
      [["frobnicate"], /unknown command 'frobnicate'/],
      [["domains"], /unknown command 'domains' \(commands: domains list\|show\|delete/],
      [["domains", "list", "--admin-port", "70000"], /admin.port must be a port number/],
      [["serve", "--dns-port", "99999"], /dns.port must be a port number/],
    ];
    // serve's settings are main.ts's, and one subcommand's usage error goes through a process; the rest in this one
    const inProcess = (args: string[]) => !["serve", "frobnicate"].includes(args[0]);
    const runs = await Promise.all(cases.map(([args]) => (inProcess(args) ? cliInProcess : runCli)(args)));
    for (const [i, { code, stderr }] of runs.entries()) {
      expect({ args: cases[i][0], code }).toEqual({ args: cases[i][0], code: 2 });
      expect(stderr).toMatch(cases[i][1]);
      expect(stderr.trim().split("\n")).toHaveLength(1);
    }
  }, 30_000);
});
