// The expiry sweep's deletes: in a worker thread with its own connection for a database file,
// in this thread for :memory:; either way the store's listeners (the DNS cache) hear every name.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/store/db.ts";
import { createStore } from "../../src/store/domains.ts";
import { createSweeper } from "../../src/store/sweeper.ts";

const dir = mkdtempSync(join(tmpdir(), "sweeper-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const WORKER = new URL("../../src/store/sweep-worker.ts", import.meta.url);

function seed(path: string, stale: number, fresh: number) {
  const db = openDatabase(path);
  const store = createStore(db);
  for (let i = 0; i < stale + fresh; i++)
    store.insertDomain({ name: `gw${i}.example.test.`, token: crypto.randomUUID(), description: "", mode: 0, timestamp: i < stale ? 100 : 10_000 });
  return { db, store };
}

describe("sweeper", () => {
  for (const where of ["file", ":memory:"] as const) {
    test(`${where}: batches remove only stale rows and every removed name reaches the listeners`, async () => {
      const path = where === "file" ? join(dir, `${crypto.randomUUID()}.sqlite`) : ":memory:";
      const { db, store } = seed(path, 250, 30);
      const heard: string[] = [];
      store.onGatewayChange((name) => heard.push(name));
      const sweeper = await createSweeper(store, path, WORKER);
      try {
        expect(await sweeper.deleteBatch(5_000, 200)).toBe(200);
        expect(await sweeper.deleteBatch(5_000, 200)).toBe(50);
        expect(await sweeper.deleteBatch(5_000, 200)).toBe(0);
      } finally {
        await sweeper.close();
      }
      const left = db.$client.query("SELECT name FROM domains ORDER BY id").all() as { name: string }[];
      expect(left.map((r) => r.name)).toEqual(Array.from({ length: 30 }, (_, i) => `gw${250 + i}.example.test.`));
      expect(heard.sort()).toEqual(Array.from({ length: 250 }, (_, i) => `gw${i}.example.test.`).sort());
      db.$client.close();
    });
  }
});
