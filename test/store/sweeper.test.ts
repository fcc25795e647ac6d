// The expiry sweep's deletes: in a worker thread with its own connection for a database file,
// in this thread for :memory:; either way the store's listeners (the DNS cache) hear every name.
// No index on the last-seen time: a sweep walks the rows once in id order, a window per batch.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AnswerVersions } from "../../src/dns/answer-cache.ts";
import { LISTED_NAMES, startExpiry } from "../../src/expiry.ts";
import { openDatabase } from "../../src/store/db.ts";
import { createStore } from "../../src/store/domains.ts";
import { createSweeper, type Sweeper } from "../../src/store/sweeper.ts";

const dir = mkdtempSync(join(tmpdir(), "sweeper-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const WORKER = new URL("../../src/store/sweep-worker.ts", import.meta.url);
const WHERE = ["file", ":memory:"] as const;

const DAY = 86_400;
const NOW = 2_000_000_000;
const STALE = NOW - 100 * DAY;
const FRESH = NOW - DAY;

const name = (i: number) => `gw${i}.example.test.`;
const pathFor = (where: (typeof WHERE)[number]) => (where === "file" ? join(dir, `${crypto.randomUUID()}.sqlite`) : ":memory:");

/**
 * Rows gw0..gw(n-1) in id order, row i stale when `stale(i)`; returns each row's token. Written
 * as Store.insertDomain writes them (the owner-less account), in one statement prepared once:
 * through the store, each row's own transaction cost ~30 us, most of these tests' time.
 */
function seed(path: string, n: number, stale: (i: number) => boolean) {
  const db = openDatabase(path);
  const store = createStore(db);
  const sqlite = db.$client;
  const tokens = Array.from({ length: n }, () => crypto.randomUUID());
  sqlite.run("INSERT OR IGNORE INTO accounts (email, optout) VALUES ('', 1)");
  const account = (sqlite.query("SELECT id FROM accounts WHERE email = ''").get() as { id: number }).id;
  const insert = sqlite.query("INSERT INTO domains (name, account_id, token, description, timestamp, mode) VALUES (?, ?, ?, '', ?, 0)");
  sqlite.transaction(() => {
    for (let i = 0; i < n; i++) insert.run(name(i), account, tokens[i], stale(i) ? STALE : FRESH);
  })();
  return { db, store, tokens };
}

const leftNames = (db: ReturnType<typeof openDatabase>) =>
  (db.$client.query("SELECT name FROM domains ORDER BY id").all() as { name: string }[]).map((r) => r.name);
const namesWhere = (n: number, keep: (i: number) => boolean) =>
  Array.from({ length: n }, (_, i) => i)
    .filter(keep)
    .map(name);

/** One sweep as the expiry timer runs it (60 days), with `around` wrapped round each batch. */
async function sweepOnce(sweeper: Sweeper, around: (batch: number) => void = () => {}): Promise<string> {
  let batches = 0;
  const counting: Sweeper = {
    countStale: (cutoff) => sweeper.countStale(cutoff),
    async deleteBatch(batch) {
      const result = await sweeper.deleteBatch(batch);
      around(++batches);
      return result;
    },
    quietNames: (query) => sweeper.quietNames(query),
    close: () => sweeper.close(),
  };
  let line = "";
  const done = Promise.withResolvers<void>();
  const expiry = startExpiry({
    sweeper: counting,
    inactiveDays: 60,
    intervalSeconds: 3600,
    maxFraction: 1,
    now: () => NOW,
    log: (text) => {
      line = text;
      done.resolve();
    },
  });
  await done.promise;
  await expiry.stop();
  return line;
}

describe("sweeper", () => {
  for (const where of WHERE) {
    test(`${where}: batches remove only stale rows, say where the walk goes on, and every removed name reaches the listeners`, async () => {
      const path = pathFor(where);
      const { db, store } = seed(path, 280, (i) => i < 250);
      const heard: string[] = [];
      store.onGatewayChange((name) => heard.push(name));
      const sweeper = await createSweeper(store, path, WORKER);
      try {
        // stopped by the limit: the next batch starts after the last row removed
        expect(await sweeper.deleteBatch({ cutoff: 5_000, after: 0, limit: 200, scan: 1000 })).toMatchObject({ removed: 0, next: null });
        expect(await sweeper.deleteBatch({ cutoff: STALE + 1, after: 0, limit: 200, scan: 1000 })).toMatchObject({ removed: 200, next: 200 });
        // fewer rows than the window left: the walk is over
        expect(await sweeper.deleteBatch({ cutoff: STALE + 1, after: 200, limit: 200, scan: 1000 })).toMatchObject({ removed: 50, next: null });
      } finally {
        await sweeper.close();
      }
      expect(leftNames(db)).toEqual(namesWhere(280, (i) => i >= 250));
      expect(heard.sort()).toEqual(namesWhere(280, (i) => i < 250).sort());
      db.$client.close();
    });
  }

  test("file: the sweep thread bumps the DNS answer cache's shared counters of every name it removed, itself, before the batch is reported", async () => {
    const path = pathFor("file");
    const { db, store } = seed(path, 60, (i) => i < 40);
    const versions = new AnswerVersions();
    // no listener of this store bumps them: whatever changes was done by the sweep thread
    const before = namesWhere(60, () => true).map((n) => versions.of(n));
    const sweeper = await createSweeper(store, path, WORKER, versions);
    try {
      expect(await sweeper.deleteBatch({ cutoff: STALE + 1, after: 0, limit: 200, scan: 1000 })).toMatchObject({ removed: 40, next: null });
    } finally {
      await sweeper.close();
    }
    // rows 0..39 were removed: none of their counters may be as it was
    expect(namesWhere(40, () => true).filter((n, i) => versions.of(n) === before[i])).toEqual([]);
    db.$client.close();
  });

  test("file: a sweep whose thread dies fails in one log line, and so does every later sweep, at once; stop() ends", async () => {
    const path = pathFor("file");
    const { db, store } = seed(path, 1, () => false);
    const sweeper = await createSweeper(store, path, new URL("../support/sweep-worker-crashing.ts", import.meta.url));
    const lines: string[] = [];
    const expiry = startExpiry({
      sweeper,
      inactiveDays: 60,
      intervalSeconds: 3600,
      intervalMs: 100,
      maxFraction: 1,
      now: () => NOW,
      log: (l) => lines.push(l),
    });
    try {
      for (let i = 0; i < 100 && lines.length < 3; i++) await Bun.sleep(20);
      // never a new thread on the file by its path (store/sweeper.ts says why)
      expect(lines.slice(0, 3)).toEqual(Array(3).fill("expiry: sweep failed: sweep worker: error: injected crash (no sweep until the server is restarted)"));
    } finally {
      const stopped = await Promise.race([expiry.stop().then(() => "stopped"), Bun.sleep(3000).then(() => "stop() pending after 3 s")]);
      expect(stopped).toBe("stopped");
      db.$client.close();
    }
  });

  test("a batch reads at most `scan` rows: where none is stale it stops at the window's end", () => {
    const { db, store } = seed(":memory:", 2_500, () => false);
    const ids = (db.$client.query("SELECT id FROM domains ORDER BY id").all() as { id: number }[]).map((r) => r.id);
    expect(store.deleteStaleBatch({ cutoff: STALE + 1, after: 0, limit: 200, scan: 1000 })).toEqual({ names: [], next: ids[999] });
    expect(store.deleteStaleBatch({ cutoff: STALE + 1, after: ids[999], limit: 200, scan: 1000 })).toEqual({ names: [], next: ids[1999] });
    expect(store.deleteStaleBatch({ cutoff: STALE + 1, after: ids[1999], limit: 200, scan: 1000 })).toEqual({ names: [], next: null });
    // past the last row
    expect(store.deleteStaleBatch({ cutoff: STALE + 1, after: ids[2499], limit: 200, scan: 1000 })).toEqual({ names: [], next: null });
    db.$client.close();
  });
});

describe("one expiry sweep", () => {
  // runs of stale and fresh rows longer than a batch's limit (200) and its window (2,000), and
  // single rows: stale and fresh alternating (600 stale), 2,500 stale, 2,200 fresh, then mixed
  const interleaved = (i: number) => (i < 900 ? i % 3 !== 1 : i < 3_400 ? true : i < 5_600 ? false : (i * 7919) % 5 < 2);
  const N = 6_500;

  for (const where of WHERE) {
    test(`${where}: removes every stale row and no fresh one when they are interleaved in id order`, async () => {
      const path = pathFor(where);
      const { db, store } = seed(path, N, interleaved);
      const heard: string[] = [];
      store.onGatewayChange((name) => heard.push(name));
      const line = await sweepOnce(await createSweeper(store, path, WORKER));
      const stale = namesWhere(N, interleaved);
      expect(line).toContain(`removed ${stale.length} domain(s)`);
      expect(leftNames(db)).toEqual(namesWhere(N, (i) => !interleaved(i)));
      expect(heard.sort()).toEqual(stale.sort());
      db.$client.close();
    });

    test(`${where}: removes stale rows that come after many fresh ones`, async () => {
      const path = pathFor(where);
      // more than two windows of fresh rows first
      const { db, store } = seed(path, 4_800, (i) => i >= 4_500);
      const line = await sweepOnce(await createSweeper(store, path, WORKER));
      expect(line).toContain("removed 300 domain(s)");
      expect(leftNames(db)).toEqual(namesWhere(4_500, () => true));
      db.$client.close();
    });

    test(`${where}: keeps stale rows pinged while the sweep runs`, async () => {
      const path = pathFor(where);
      const { db, store, tokens } = seed(path, N, interleaved);
      // the first batch stops at its limit near row 300; these rows are all ahead of it, the
      // first ones in the same window
      const pinged = [302, 599, 899, 900, 2_000, 3_399, 5_604, N - 1];
      expect(pinged.every(interleaved)).toBe(true);
      const line = await sweepOnce(await createSweeper(store, path, WORKER), (batch) => {
        // on the main connection, as /ping writes
        if (batch === 1) for (const i of pinged) expect(store.recordPing(tokens[i], NOW, "192.0.2.1")).toBe(true);
      });
      const kept = (i: number) => !interleaved(i) || pinged.includes(i);
      expect(line).toContain(`removed ${N - namesWhere(N, kept).length} domain(s)`);
      expect(leftNames(db)).toEqual(namesWhere(N, kept));
      db.$client.close();
    });
  }

  test("the sweep's log line counts what it removed and a second sweep finds nothing", async () => {
    const { db, store } = seed(":memory:", 500, (i) => i % 2 === 0);
    expect(await sweepOnce(await createSweeper(store, ":memory:", WORKER))).toMatch(/removed 250 domain\(s\) not seen for 60 days/);
    expect(await sweepOnce(await createSweeper(store, ":memory:", WORKER))).toMatch(/removed 0 domain\(s\)/);
    db.$client.close();
  });

  for (const where of WHERE) {
    test(`${where}: the sweep's log line names every freed name, up to ${LISTED_NAMES}, then says how many more`, async () => {
      const few = seed(pathFor(where), 10, (i) => i === 3 || i === 7);
      const line = await sweepOnce(await createSweeper(few.store, where === "file" ? few.db.$client.filename : ":memory:", WORKER));
      expect(line).toMatch(/removed 2 domain\(s\) not seen for 60 days in \S+s: gw3\.example\.test\. gw7\.example\.test\.$/);
      few.db.$client.close();

      const many = seed(pathFor(where), 300, (i) => i < 250);
      const long = await sweepOnce(await createSweeper(many.store, where === "file" ? many.db.$client.filename : ":memory:", WORKER));
      const listed = long
        .split(": ")
        .at(-1)!
        .replace(/ and \d+ more$/, "")
        .split(" ");
      expect(listed.length).toBe(LISTED_NAMES);
      for (const n of listed) expect(namesWhere(250, () => true)).toContain(n);
      expect(long).toEndWith(` and ${250 - LISTED_NAMES} more`);
      many.db.$client.close();
    });
  }
});
