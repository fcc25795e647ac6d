// kill -9 in the middle of a burst of /ping (pings are group-committed: docs/operations.md, "Storage"): every ping
// that was answered 200 is in the database file afterwards, with its time and address.
import { afterAll, describe, expect, test } from "bun:test";
import { get, startServer, type RunningServer } from "../support/server.ts";
import { burstThenKill, nowSeconds, openSqlite } from "../support/helpers.ts";

let server: RunningServer | undefined;
afterAll(async () => {
  await server?.cleanup();
});

describe("crash safety of /ping", () => {
  test("SIGKILL during a burst of /ping loses no acknowledged ping", async () => {
    server = await startServer();
    const first = server;
    // 600 names, more than are pinged before the kill: each acknowledged ping is a name's only one.
    // Planted in the file as /subscribe writes them (the owner-less account), each row long unseen,
    // so a stored ping shows in both its columns.
    const longAgo = nowSeconds() - 86_400;
    const tokens = Array.from({ length: 600 }, () => crypto.randomUUID());
    const db0 = openSqlite(first.dbPath);
    db0.run("INSERT OR IGNORE INTO accounts (email, optout) VALUES ('', 1)");
    const account = (db0.query("SELECT id FROM accounts WHERE email = ''").get() as { id: number }).id;
    const insert = db0.query("INSERT INTO domains (name, account_id, token, description, timestamp, mode) VALUES (?, ?, ?, '', ?, 0)");
    db0.transaction(() => {
      for (const [i, token] of tokens.entries()) insert.run(`pingcrash-${i}.example.test.`, account, token, longAgo);
    })();
    db0.close();
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
