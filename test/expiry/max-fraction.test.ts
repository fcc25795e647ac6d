// expiry.max_fraction: a sweep never frees more than that share of all names at once. Past it
// (a clock jumped forward, a mass outage) it frees none and says why; the operator confirms
// by running once with expiry.max_fraction = 1.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startExpiry } from "../../src/expiry.ts";
import { openDatabase } from "../../src/store/db.ts";
import { createStore } from "../../src/store/domains.ts";
import { createSweeper, type Sweeper } from "../../src/store/sweeper.ts";

const dir = mkdtempSync(join(tmpdir(), "max-fraction-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const WORKER = new URL("../../src/store/sweep-worker.ts", import.meta.url);

const DAY = 86_400;
const NOW = 2_000_000_000;

/** `n` names in a real database file, the first `stale` last seen 100 days before NOW, the rest a day before. */
function seed(n: number, stale: number) {
  const path = join(dir, `${crypto.randomUUID()}.sqlite`);
  const db = openDatabase(path);
  const store = createStore(db);
  // as Store.insertDomain writes them (the owner-less account), one statement prepared once
  const sqlite = db.$client;
  sqlite.run("INSERT OR IGNORE INTO accounts (email, optout) VALUES ('', 1)");
  const account = (sqlite.query("SELECT id FROM accounts WHERE email = ''").get() as { id: number }).id;
  const insert = sqlite.query("INSERT INTO domains (name, account_id, token, description, timestamp, mode) VALUES (?, ?, ?, '', ?, 0)");
  sqlite.transaction(() => {
    for (let i = 0; i < n; i++) insert.run(`gw${i}.example.test.`, account, crypto.randomUUID(), i < stale ? NOW - 100 * DAY : NOW - DAY);
  })();
  return { path, db, store, count: () => (sqlite.query("SELECT count(*) AS n FROM domains").get() as { n: number }).n };
}

/** One sweep through the worker as the timer runs it (60 days); its log lines and how many batches it ran. */
async function sweepOnce(seeded: ReturnType<typeof seed>, options: { maxFraction: number; now?: number }) {
  const sweeper = await createSweeper(seeded.store, seeded.path, WORKER);
  let batches = 0;
  const counting: Sweeper = {
    countStale: (cutoff) => sweeper.countStale(cutoff),
    deleteBatch: (batch) => {
      batches++;
      return sweeper.deleteBatch(batch);
    },
    quietNames: (query) => sweeper.quietNames(query),
    close: () => sweeper.close(),
  };
  const lines: string[] = [];
  const done = Promise.withResolvers<void>();
  const expiry = startExpiry({
    sweeper: counting,
    inactiveDays: 60,
    intervalSeconds: 3600,
    maxFraction: options.maxFraction,
    now: () => options.now ?? NOW,
    log: (line) => {
      lines.push(line);
      done.resolve();
    },
  });
  await done.promise;
  await expiry.stop();
  return { log: lines.join("\n"), batches };
}

describe("expiry.max_fraction", () => {
  test("4 stale of 10 names with max_fraction 0.25: the sweep frees none and logs how many, of how many, and the setting", async () => {
    const seeded = seed(10, 4);
    const { log, batches } = await sweepOnce(seeded, { maxFraction: 0.25 });
    expect(seeded.count()).toBe(10);
    expect(batches).toBe(0);
    expect(log).toContain("4 of 10 domain(s)");
    expect(log).toContain("expiry.max_fraction = 0.25");
    expect(log).toMatch(/freed none/);
    expect(log).toMatch(/expiry\.max_fraction = 1/); // what the operator can do
    seeded.db.$client.close();
  });

  test("2 stale of 10 names with max_fraction 0.25: the sweep frees them", async () => {
    const seeded = seed(10, 2);
    const { log } = await sweepOnce(seeded, { maxFraction: 0.25 });
    expect(log).toContain("removed 2 domain(s)");
    expect(seeded.count()).toBe(8);
    seeded.db.$client.close();
  });

  test("a clock jumped forward past expiry.inactive_days frees no name", async () => {
    const seeded = seed(10, 0);
    const { log } = await sweepOnce(seeded, { maxFraction: 0.25, now: NOW + 61 * DAY });
    expect(log).toContain("10 of 10 domain(s)");
    expect(seeded.count()).toBe(10);
    seeded.db.$client.close();
  });

  test("max_fraction = 1 is the operator's confirmation: the same 4 of 10 are freed", async () => {
    const seeded = seed(10, 4);
    const { log } = await sweepOnce(seeded, { maxFraction: 1 });
    expect(log).toContain("removed 4 domain(s)");
    expect(seeded.count()).toBe(6);
    seeded.db.$client.close();
  });

  test("the walk reads only the ids between the first and the last stale row: where none is stale, no batch runs", async () => {
    // 6,300 rows, stale ones only among the last 300: a walk from the first id would run a batch
    // per 2,000-row window (4)
    const late = seed(6_300, 0);
    late.db.$client.query("UPDATE domains SET timestamp = ? WHERE id > 6000").run(NOW - 100 * DAY);
    const { log, batches } = await sweepOnce(late, { maxFraction: 0.25 });
    expect(log).toContain("removed 300 domain(s)");
    expect(batches).toBeLessThanOrEqual(2);
    late.db.$client.close();

    const none = seed(1_000, 0);
    const quiet = await sweepOnce(none, { maxFraction: 0.25 });
    expect(quiet.log).toContain("removed 0 domain(s)");
    expect(quiet.batches).toBe(0);
    none.db.$client.close();
  });
});
