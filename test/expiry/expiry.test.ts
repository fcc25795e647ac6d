// Expiry (docs/operations.md, "Expiry"): names whose gateway stopped pinging are freed at start-up and every
// interval, in batches, while HTTP keeps answering. In process: the API through app.handle, the
// sweep in its worker thread, as serve.ts wires them. These free more than expiry.max_fraction of
// a small table, so they run as an operator who confirmed it would (max_fraction = 1).
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/store/db.ts";
import { get } from "../support/server.ts";
import { startApp, type TestApp } from "../support/app.ts";
import { domainRow, freshName, info, nowSeconds, openSqlite, subscribe, waitFor } from "../support/helpers.ts";

const apps: TestApp[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});
afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const DAY = 86_400;

/** A database with `stale` rows last seen 100 days ago and `fresh` rows seen now; returns the fresh tokens. */
function seedDatabase(path: string, stale: number, fresh: number): string[] {
  const db = openDatabase(path);
  const sqlite = db.$client;
  sqlite.run("INSERT OR IGNORE INTO accounts (email, optout) VALUES ('', 1)");
  const account = (sqlite.query("SELECT id FROM accounts WHERE email = ''").get() as { id: number }).id;
  const insert = sqlite.query("INSERT INTO domains (name, account_id, token, description, timestamp) VALUES (?, ?, ?, ?, ?)");
  const old = nowSeconds() - 100 * DAY;
  const freshTokens: string[] = [];
  sqlite.transaction(() => {
    for (let i = 0; i < stale; i++) insert.run(`stale-${i}.example.test.`, account, crypto.randomUUID(), "stale", old - (i % 1000));
    for (let i = 0; i < fresh; i++) {
      const token = crypto.randomUUID();
      freshTokens.push(token);
      insert.run(`fresh-${i}.example.test.`, account, token, "fresh", nowSeconds() - (i % 10) * DAY);
    }
  })();
  sqlite.close();
  return freshTokens;
}

function countRows(path: string, where = "1"): number {
  const db = openSqlite(path);
  try {
    return (db.query(`SELECT count(*) AS n FROM domains WHERE ${where}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe("expiry sweep", () => {
  // The 200,000-row version, with latencies, is bench/sweep.ts.
  test("a start-up sweep over 20,000 stale rows removes them all while HTTP requests keep being answered", async () => {
    const dir = mkdtempSync(join(tmpdir(), "regsrv-expiry-"));
    dirs.push(dir);
    const dbPath = join(dir, "registration.sqlite");
    const freshTokens = seedDatabase(dbPath, 20_000, 50);
    expect(countRows(dbPath)).toBe(20_050);

    // In process, as serve.ts wires it: the sweep in its worker thread, the API in this one.
    const server = startApp({ dbPath, args: ["--expiry-max-fraction", "1"] });
    apps.push(server);
    server.clock = nowSeconds();
    await server.startExpiry(); // the start-up sweep
    const sweepDone = /^.*expiry.*\b20,?000\b.*$/m;

    // keep a gateway's usual calls going until the sweep reports
    const samples: { path: string; status: number; duringSweep: boolean }[] = [];
    const paths = (i: number) =>
      [
        "/connectivity-check",
        `/info?token=${freshTokens[i % freshTokens.length]}`,
        `/ping?token=${freshTokens[i % freshTokens.length]}`,
        `/subscribe?name=${freshName("during")}`,
      ][i % 4];
    const deadline = Date.now() + 120_000;
    for (let i = 0; Date.now() < deadline; i++) {
      const duringSweep = !sweepDone.test(server.output());
      if (!duringSweep && samples.some((s) => !s.duringSweep)) break;
      const path = paths(i);
      const res = await get(server, path);
      samples.push({ path, status: res.status, duringSweep: duringSweep && !sweepDone.test(server.output()) });
      await Bun.sleep(2); // a gateway's pace, not a flood: this thread also takes the sweep's batches
    }
    const line = (await server.waitForOutput(sweepDone, 1000))[0];
    expect(line).toMatch(/expiry/i);

    // every request, made while the sweep ran or after it, was answered (how many fell during it
    // and how fast they were depends on the machine: bench/sweep.ts measures that)
    expect(samples.length).toBeGreaterThan(0);
    expect(samples.filter((s) => s.status !== 200)).toEqual([]);

    expect(countRows(dbPath, "name LIKE 'stale-%'")).toBe(0);
    expect(countRows(dbPath, "name LIKE 'fresh-%'")).toBe(50);
    for (const token of freshTokens.slice(0, 5)) expect((await info(server, token)).status).toBe(200);
  }, 180_000);

  test("the periodic sweep frees names not seen for expiry.inactive_days and keeps the others", async () => {
    // In process: the app and the sweep share a clock the test moves (as serve.ts wires them).
    const server = startApp({
      env: { REGISTRATION_EXPIRY_INACTIVE_DAYS: "5", REGISTRATION_EXPIRY_INTERVAL_SECONDS: "1", REGISTRATION_EXPIRY_MAX_FRACTION: "1" },
    });
    apps.push(server);
    const gone = await subscribe(server);
    server.clock += 2 * DAY;
    const kept = await subscribe(server);
    server.clock += 2 * DAY;
    const recent = await subscribe(server);
    await server.startExpiry({ intervalMs: 50 }); // the periodic sweep every 50 ms
    await server.waitForOutput(/expiry: removed 0 /); // the start-up sweep: nothing is 5 days old yet
    const outputBefore = server.output().length;
    server.clock += 2 * DAY; // gone: last seen 6 days ago, kept 4, recent 2

    await waitFor(() => domainRow(server.dbPath, gone.name) === null, "the stale name to be removed by the periodic sweep", 15_000);
    expect((await info(server, gone.token)).status).toBe(404);
    expect((await info(server, kept.token)).status).toBe(200);
    expect((await info(server, recent.token)).status).toBe(200);
    // the sweep says what it removed
    await waitFor(() => /expiry.*\b1\b/i.test(server.output().slice(outputBefore)), "an expiry log line with the count 1", 5000);
    // the freed name can be claimed again
    expect((await get(server, `/subscribe?name=${gone.name}`)).status).toBe(200);
  });

  test("with the default 60 days, a name seen 59 days ago is kept and one seen 61 days ago is removed at start-up", async () => {
    const dir = mkdtempSync(join(tmpdir(), "regsrv-expiry-"));
    dirs.push(dir);
    const dbPath = join(dir, "registration.sqlite");
    seedDatabase(dbPath, 0, 0);
    const db = openSqlite(dbPath);
    const account = (db.query("SELECT id FROM accounts WHERE email = ''").get() as { id: number }).id;
    const insert = db.query("INSERT INTO domains (name, account_id, token, description, timestamp) VALUES (?, ?, ?, 'x', ?)");
    const now = nowSeconds();
    insert.run("day59.example.test.", account, crypto.randomUUID(), now - 59 * DAY);
    insert.run("day61.example.test.", account, crypto.randomUUID(), now - 61 * DAY);
    db.close();
    const server = startApp({ dbPath, args: ["--expiry-max-fraction", "1"] });
    apps.push(server);
    server.clock = now;
    await server.startExpiry();
    await server.waitForOutput(/expiry: removed 1 domain\(s\) not seen for 60 days/, 10_000);
    await waitFor(() => domainRow(dbPath, "day61") === null, "day61 removed");
    expect(domainRow(dbPath, "day59")).not.toBeNull();
  });
});
