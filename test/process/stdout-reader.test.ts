// The log's reader (docs/operations.md, "The log"): when it goes away (`| head`, a dead shipper), EPIPE on
// stdout never ends the process; when it stops reading, what waits for it stays bounded.
// One server for both, in this order: a reader that stops and comes back, then one that goes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { get, loopbackArgs, TEST_SERVER_ENV } from "../support/server.ts";
import { serverCommand } from "../support/server-binary.ts";
import { freshName, waitFor } from "../support/helpers.ts";

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The server with its stdout on a named pipe this test reads (or not) through a non-blocking descriptor. */
async function startOnFifo() {
  const dir = mkdtempSync(join(tmpdir(), "regsrv-stdout-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const fifo = join(dir, "stdout");
  Bun.spawnSync(["mkfifo", fifo]);
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const writer = openSync(fifo, constants.O_WRONLY);
  const proc = Bun.spawn([...(await serverCommand()), ...loopbackArgs(join(dir, "registration.sqlite"))], {
    cwd: dir,
    env: { ...process.env, ...TEST_SERVER_ENV },
    stdout: writer,
    stderr: "pipe",
    stdin: "ignore",
  });
  closeSync(writer);
  let stderr = "";
  (async () => {
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) stderr += new TextDecoder().decode(chunk);
  })();
  cleanups.push(async () => {
    proc.kill("SIGKILL");
    await proc.exited;
  });
  let readerOpen = true;
  const buffer = Buffer.alloc(1 << 16);
  let stdout = "";
  /** What the server wrote since the last call, read without blocking. */
  const read = () => {
    for (;;) {
      let n = 0;
      try {
        n = readSync(reader, buffer);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EAGAIN") return stdout;
        throw e;
      }
      if (n === 0) return stdout;
      stdout += buffer.toString("utf8", 0, n);
    }
  };
  const closeReader = () => {
    if (readerOpen) closeSync(reader);
    readerOpen = false;
  };
  cleanups.push(closeReader);
  const ready = await waitFor(() => read().match(/ready: http=\S+:(\d+) /), "the ready line on stdout", 15_000);
  return { server: { url: `http://127.0.0.1:${ready[1]}` }, proc, read, closeReader, stderr: () => stderr };
}

describe("stdout's reader", () => {
  let fifo: Awaited<ReturnType<typeof startOnFifo>>;
  beforeAll(async () => {
    fifo = await startOnFifo();
  });

  test("not reading: past 4 MB of unread log the lines are dropped and counted, and the count is logged once it reads again", async () => {
    const { server, proc, read } = fifo;
    read();
    // about 8 MB of request lines (8 KB paths) while nothing reads the pipe (64 KB): twice the cap
    const long = `/${"x".repeat(8000)}`;
    for (let round = 0; round < 20; round++) {
      const answers = await Promise.all(Array.from({ length: 50 }, () => get(server, long)));
      expect(answers.every((a) => a.status === 404)).toBe(true);
    }
    expect(proc.exitCode).toBeNull();
    // the reader comes back: what was kept arrives, then a line saying how many were dropped
    await waitFor(() => /ready/.test(read()), "earlier output");
    let after = 0;
    await waitFor(
      async () => {
        after++;
        await get(server, "/after-the-flood");
        const out = read();
        return /log: \d+ line\(s\) dropped/.test(out) ? out : null;
      },
      "the dropped-lines count",
      15_000,
    );
    await Bun.sleep(300); // the last request's line too
    const text = read();
    const droppedCount = Number(/log: (\d+) line\(s\) dropped/.exec(text)![1]);
    const kept = text.split("\n").filter((l) => l.includes(long)).length;
    const keptAfter = text.split("\n").filter((l) => l.includes("/after-the-flood")).length;
    expect(droppedCount).toBeGreaterThan(0);
    // every request line is either written or counted
    expect(kept + keptAfter + droppedCount).toBe(1000 + after);
    // what was queued stayed near the cap: 4 MB plus one turn's lines, not all 8 MB
    expect(kept * long.length).toBeLessThan(6 * 1024 * 1024);
  });

  test("gone (EPIPE): the process keeps answering requests that log lines, and says so once on stderr", async () => {
    const { server, proc, closeReader, stderr } = fifo;
    closeReader();
    // each of these writes a request line to the closed pipe
    for (let i = 0; i < 50; i++) expect((await get(server, `/subscribe?name=${freshName("epipe")}`)).status).toBe(200);
    for (let i = 0; i < 20; i++) expect((await get(server, "/no-such-path")).status).toBe(404);
    await Bun.sleep(200);
    expect(proc.exitCode).toBeNull();
    expect((await get(server, "/connectivity-check")).status).toBe(200);
    expect(stderr()).toMatch(/stdout failed \(EPIPE\)/);
    expect(stderr().match(/stdout failed/g)).toHaveLength(1);
    expect(stderr()).not.toMatch(/at .*\(|Bun v/); // no stack trace, no crash report
  });
});
