// kill -9 in the middle of a burst of /ping (pings are group-committed, issue 5): every ping
// that was answered 200 is in the database file afterwards, with its time and address.
import { afterAll, describe, expect, test } from "bun:test";
import { get, startServer, type RunningServer } from "../support/server.ts";
import { burstThenKill, nowSeconds, openSqlite, subscribe, writeDb } from "../support/helpers.ts";

let server: RunningServer | undefined;
afterAll(async () => {
  await server?.cleanup();
});

describe("crash safety of /ping", () => {
  test("SIGKILL during a burst of /ping loses no acknowledged ping", async () => {
    server = await startServer();
    const first = server;
    const tokens: string[] = [];
    for (let i = 0; i < 600; i++) tokens.push((await subscribe(first, `pingcrash-${process.pid}-${i}`)).token);
    // Every row looks long unseen, so a stored ping shows in both its columns.
    const longAgo = nowSeconds() - 86_400;
    writeDb(first.dbPath, "UPDATE domains SET timestamp = ?, last_ip = ''", longAgo);
    const startedAt = nowSeconds();

    let next = 0;
    const { acknowledged, inFlightAtKill, exitCode } = await burstThenKill(first, {
      connections: 32,
      killAfter: 250,
      // round and round the tokens: the burst never runs dry before the kill lands
      request: async () => {
        const token = tokens[next++ % tokens.length];
        const res = await get(first, `/ping?token=${token}`);
        if (res.status !== 200) throw new Error(`unexpected ${res.status} ${res.text}`);
        return token;
      },
    });
    expect(exitCode).not.toBe(0);
    // the kill really landed mid-burst: pings were in flight
    expect(inFlightAtKill).toBeGreaterThan(0);

    const db = openSqlite(first.dbPath);
    const row = db.query("SELECT timestamp, last_ip FROM domains WHERE token = ?");
    const lost = acknowledged.filter((token) => {
      const r = row.get(token) as { timestamp: number; last_ip: string } | null;
      return !r || r.timestamp < startedAt || r.last_ip !== "127.0.0.1";
    });
    db.close();
    expect(lost).toEqual([]);
  });
});
