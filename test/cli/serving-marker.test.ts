// `domains delete` on a database a running server has open, when that server has no admin
// listener (admin.port = 0): the CLI cannot go through it, and changing the file itself would
// leave the server's DNS answer cache and /info rows stale, so it refuses and says why. Once
// the server has stopped, the same command works on the file.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode, encodeQuery, udpExchange } from "../dns/client.ts";
import { subscribe } from "../support/helpers.ts";
import { cliInProcess } from "../support/cli.ts";
import { loopbackArgs, type RunningServer, runCli, startServer, TEST_SERVER_ENV } from "../support/server.ts";
import { servingProcess } from "../../src/ops/serving-marker.ts";

setDefaultTimeout(60_000);
let server: RunningServer | undefined;
let other: RunningServer | undefined;
afterAll(async () => {
  await server?.cleanup();
  await other?.cleanup();
});

test("a server without an admin listener makes the CLI refuse to delete, until it stops", async () => {
  server = await startServer(); // the harness runs servers with admin.port = 0
  const { name } = await subscribe(server);
  expect(existsSync(`${server.dbPath}.serving`)).toBe(true);
  const on = (args: string[]) => [...args, "--domain", "example.test", "--db", server!.dbPath, "--admin-port", "0"];
  // the refusal from a child process; the reads and the last delete in this one (test/support/cli.ts)
  const cli = (...args: string[]) => cliInProcess(on(args));

  const refused = await runCli(on(["domains", "delete", name]));
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain(`a server (pid ${server.proc.pid}) has ${server.dbPath} open with no admin listener`);
  expect(decode(await udpExchange(server.dnsPort, encodeQuery(`${name}.example.test`, "A"))).rcode).toBe("NOERROR");
  // reading does not make anything stale
  expect((await cli("domains", "show", name)).code).toBe(0);

  expect(await server.stop("SIGTERM")).toBe(0);
  expect(existsSync(`${server.dbPath}.serving`)).toBe(false);
  const done = await cli("domains", "delete", name);
  expect({ code: done.code, stderr: done.stderr }).toEqual({ code: 0, stderr: "" });
});

test("a second server on a file a running server has open refuses to start (exit 2, one line); the first keeps serving and its marker", async () => {
  other = await startServer();
  const marker = readFileSync(`${other.dbPath}.serving`, "utf8");
  // Before, it started: two processes wrote one file, each with caches blind to the other's
  // writes, and the second's stop removed the first's marker, unguarding the command line.
  const second = await runCli(loopbackArgs(other.dbPath), { env: TEST_SERVER_ENV, timeoutMs: 10_000 });
  expect({ code: second.code, stderr: second.stderr }).toEqual({
    code: 2,
    stderr: `registration-server: a server (pid ${other.proc.pid}) has ${other.dbPath} open already: stop it first (two servers on one file answer from stale caches)\n`,
  });
  expect(readFileSync(`${other.dbPath}.serving`, "utf8")).toBe(marker);
  expect((await subscribe(other)).name).toBeTruthy();
});

/** A marker for the pid of a live process that is not a server (`sleep`), as a killed server leaves once its pid is reused. */
async function withStrangersMarker(started: string | undefined, run: (dir: string, dbPath: string) => Promise<void> | void) {
  const dir = mkdtempSync(join(tmpdir(), "regsrv-marker-"));
  const dbPath = join(dir, "registration.sqlite");
  const sleeper = Bun.spawn(["sleep", "30"]);
  try {
    writeFileSync(`${dbPath}.serving`, `${JSON.stringify({ pid: sleeper.pid, admin: null, started })}\n`);
    await run(dir, dbPath);
  } finally {
    sleeper.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

// start-up's check (servingProcess(path, true), as serve.ts calls it) for each form of such a
// marker; one of them through a whole start below
test.each([
  ["another start time (pid reuse)", "1"],
  ["another boot's start", "00000000-0000-0000-0000-000000000000/1"],
  ["no start time (an older version's)", undefined],
])("a marker left by a killed server whose pid another process now has is no server to start-up: %s", async (_, started) => {
  await withStrangersMarker(started, (_dir, dbPath) => {
    expect(servingProcess(dbPath, true)).toBeNull();
    // the command line's guard errs toward refusing only where it cannot read the start
    expect(servingProcess(dbPath) === null).toBe(started !== undefined);
  });
});

test("a marker left by a killed server whose pid another process now has does not stop a start", async () => {
  await withStrangersMarker("1", async (dir, dbPath) => {
    const server = await startServer({ dir, dbPath });
    expect(await server.stop("SIGTERM")).toBe(0);
  });
});
