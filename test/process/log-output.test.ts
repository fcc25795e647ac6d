// The log as the whole process writes it (docs/operations.md, "Logs"): under journald (JOURNAL_STREAM naming
// stdout) no timestamp of our own; with log.format = json every line is one JSON object.
import { afterEach, describe, expect, test } from "bun:test";
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { subscribe, waitFor } from "../support/helpers.ts";
import { serverCommand } from "../support/server-binary.ts";
import { get, loopbackArgs, startServer, TEST_SERVER_ENV, type RunningServer } from "../support/server.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * The server with its stdout on a file, as journald's stream would be a socket: JOURNAL_STREAM
 * set to that file's device and inode. Stops at the ready line. (A JOURNAL_STREAM naming another
 * stream, a child that inherited the variable but writes elsewhere: test/log.test.ts decides it,
 * test/dns/process.test.ts's server runs with one and keeps its timestamps.)
 */
async function journaldReadyLine(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "regsrv-journal-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, "stdout");
  const fd = openSync(out, "w");
  const stat = fstatSync(fd, { bigint: true });
  const stream = `${stat.dev}:${stat.ino}`;
  const proc = Bun.spawn([...(await serverCommand()), ...loopbackArgs(join(dir, "registration.sqlite"))], {
    cwd: dir,
    env: { ...process.env, ...TEST_SERVER_ENV, JOURNAL_STREAM: stream },
    stdout: fd,
    stderr: "ignore",
    stdin: "ignore",
  });
  closeSync(fd);
  cleanups.push(async () => {
    proc.kill("SIGKILL");
    await proc.exited;
  });
  const text = await waitFor(
    () => {
      const now = readFileSync(out, "utf8");
      return /ready: http=/.test(now) ? now : null;
    },
    "the ready line",
    15_000,
  );
  return text.split("\n").find((line) => line.includes("ready: http="))!;
}

describe("the process's log", () => {
  test("under journald (JOURNAL_STREAM names stdout) has no timestamp of its own", async () => {
    expect(await journaldReadyLine()).toStartWith("registration-server ");
  });

  test("with log.format = json is one JSON object a line, request lines with their fields", async () => {
    const server: RunningServer = await startServer({ env: { REGISTRATION_LOG_FORMAT: "json", REGISTRATION_HTTP_ACCESS_LOG: "all" } });
    cleanups.push(() => server.cleanup());
    const { token, name } = await subscribe(server);
    expect((await get(server, `/info?token=${token}`)).status).toBe(200);
    await server.waitForOutput(/"path":"\/info\?token=/);
    expect(await server.stop("SIGTERM")).toBe(0);
    const objects = server
      .output()
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line));
    expect(objects.length).toBeGreaterThan(3);
    for (const o of objects) {
      expect(Object.keys(o).slice(0, 3)).toEqual(["time", "level", "msg"]);
      expect(Number.isNaN(Date.parse(o.time))).toBe(false);
    }
    expect(objects[0].msg).toMatch(/^registration-server .* ready: /);
    expect(objects.find((o) => o.path?.startsWith("/info"))).toMatchObject({
      method: "GET",
      path: `/info?token=${token.slice(0, 4)}...`,
      status: 200,
      client: "127.0.0.1",
      name: `${name}.example.test`,
    });
    expect(objects.at(-1).msg).toBe("stopped");
    expect(server.output()).not.toContain(token.slice(4));
  });
});
