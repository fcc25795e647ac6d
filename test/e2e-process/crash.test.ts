// kill -9 in the middle of a burst of /subscribe: every subscription that was answered 200
// is still there after a restart on the same database file.
import { afterAll, describe, expect, test } from "bun:test";
import { get, startServer, type RunningServer } from "../support/server.ts";
import { info } from "../fixtures/helpers.ts";

const started: RunningServer[] = [];
afterAll(async () => {
  // the first server owns (and removes) the directory: clean it up last
  for (const s of started.reverse()) await s.cleanup();
});

describe("crash safety", () => {
  test("SIGKILL during a burst of /subscribe loses no acknowledged row", async () => {
    const first = await startServer();
    started.push(first);
    const acknowledged: { name: string; token: string }[] = [];
    let failedAfterKill = 0;
    let killed = false;
    let sent = 0;
    const prefix = `crash-${process.pid}-${Date.now().toString(36)}`;

    let workerError: unknown;
    const worker = async () => {
      while (!killed) {
        const name = `${prefix}-${sent++}`;
        try {
          const res = await get(first, `/subscribe?name=${name}&desc=burst`);
          if (res.status === 200) acknowledged.push({ name: res.json.name, token: res.json.token });
          else throw new Error(`unexpected ${res.status} ${res.text}`);
        } catch (e) {
          if (!killed) {
            workerError = e;
            throw e;
          }
          failedAfterKill++;
        }
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    // kill while requests are in flight, once a good number were acknowledged
    while (acknowledged.length < 300) {
      if (workerError) throw workerError;
      await Bun.sleep(5);
    }
    killed = true;
    first.proc.kill("SIGKILL");
    await Promise.allSettled(workers);
    expect(await first.proc.exited).not.toBe(0);
    expect(acknowledged.length).toBeGreaterThanOrEqual(300);
    // the kill really landed mid-burst: requests were in flight
    expect(failedAfterKill).toBeGreaterThan(0);

    const second = await startServer({ dir: first.dir, dbPath: first.dbPath });
    started.push(second);
    const missing: string[] = [];
    for (const { name, token } of acknowledged) {
      const res = await info(second, token);
      if (res.status !== 200 || res.json.name !== `${name}.example.test.`) missing.push(`${name} -> ${res.status}`);
    }
    expect(missing).toEqual([]);
  });
});
