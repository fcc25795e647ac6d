// Group commit (docs/operations.md, "Storage"): the pings of one event-loop turn share one transaction, and each
// caller hears back only after that transaction is committed.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { openDatabase } from "../../src/store/db.ts";
import { createStore } from "../../src/store/domains.ts";
import { groupCommit } from "../../src/store/group-commit.ts";

const dir = mkdtempSync(join(tmpdir(), "regsrv-group-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("group commit", () => {
  test("pings of one turn are written together and resolve only once another connection can read them", async () => {
    const path = join(dir, "pings.sqlite");
    const db = openDatabase(path);
    const store = createStore(db);
    const tokens = Array.from({ length: 50 }, (_, i) => {
      const token = crypto.randomUUID();
      store.insertDomain({ name: `g${i}.example.test.`, token, description: "", mode: 1, timestamp: 1 });
      return token;
    });
    const reader = new Database(path);
    const seenByReader = () => (reader.query("SELECT count(*) AS n FROM domains WHERE last_ip = '192.0.2.1'").get() as { n: number }).n;

    const pending = tokens.map((token) => store.recordPingGrouped(token, 1000, "192.0.2.1"));
    pending.push(store.recordPingGrouped("00000000-0000-4000-8000-000000000000", 1000, "192.0.2.1"));
    // nothing is written before the turn ends
    expect(seenByReader()).toBe(0);
    const results = await Promise.all(pending);
    expect(results).toEqual([...tokens.map(() => true), false]);
    // resolved means committed: a second connection sees every ping
    expect(seenByReader()).toBe(50);
    reader.close();
    db.$client.close();
  });

  test("writes are applied in one transaction: when it fails, every caller of that turn is told, and none of it is kept", async () => {
    const sqlite = new Database(":memory:");
    sqlite.run("CREATE TABLE t (v INTEGER NOT NULL CHECK (v < 10))");
    const insert = sqlite.prepare("INSERT INTO t (v) VALUES (?)");
    const write = groupCommit(sqlite, (v: number) => insert.run(v).changes);
    const outcomes = await Promise.allSettled([write(1), write(2), write(99)]);
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(sqlite.query("SELECT count(*) AS n FROM t").get()).toEqual({ n: 0 });
    // the next turn starts afresh
    expect(await Promise.all([write(3), write(4)])).toEqual([1, 1]);
    expect(sqlite.query("SELECT count(*) AS n FROM t").get()).toEqual({ n: 2 });
  });
});
