// kill -9 in the middle of a burst of /subscribe: every subscription that was answered 200
// is still there after a restart on the same database file.
import { afterAll, describe, expect, test } from "bun:test";
import { get, startServer, type RunningServer } from "../support/server.ts";
import { startApp } from "../support/app.ts";
import { burstThenKill, info } from "../support/helpers.ts";

const started: RunningServer[] = [];
afterAll(async () => {
  // the first server owns (and removes) the directory: clean it up last
  for (const s of started.reverse()) await s.cleanup();
});

describe("crash safety", () => {
  test("SIGKILL during a burst of /subscribe loses no acknowledged row", async () => {
    const first = await startServer();
    started.push(first);
    let sent = 0;
    const prefix = `crash-${process.pid}-${Date.now().toString(36)}`;
    const { acknowledged, inFlightAtKill, exitCode } = await burstThenKill(first, {
      connections: 16,
      killAfter: 300,
      request: async () => {
        const res = await get(first, `/subscribe?name=${prefix}-${sent++}&desc=burst`);
        if (res.status !== 200) throw new Error(`unexpected ${res.status} ${res.text}`);
        return { name: res.json.name as string, token: res.json.token as string };
      },
    });
    expect(exitCode).not.toBe(0);
    expect(acknowledged.length).toBeGreaterThanOrEqual(300);
    // the kill really landed mid-burst: requests were in flight
    expect(inFlightAtKill).toBeGreaterThan(0);

    // the restart's open of the file (WAL recovery) and its /info, in this process
    const second = startApp({ dbPath: first.dbPath });
    const missing: string[] = [];
    try {
      for (const { name, token } of acknowledged) {
        const res = await info(second, token);
        if (res.status !== 200 || res.json.name !== `${name}.example.test.`) missing.push(`${name} -> ${res.status}`);
      }
    } finally {
      await second.close();
    }
    expect(missing).toEqual([]);
  });
});
