// Start-up expiry sweep over 200,000 stale rows (moved here from the test suite, which keeps a
// 20,000-row version without timings): how long the sweep takes and how HTTP answers meanwhile.
// Usage: bun bench/sweep.ts [STALE_ROWS]   (runs the server from source, one JSON line out)
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/store/db.ts";
import { get, startServer } from "../test/support/server.ts";

const STALE = Number(process.argv[2] ?? 200_000);
const FRESH = 50;
const dir = mkdtempSync(join(tmpdir(), "regsrv-sweep-"));
const dbPath = join(dir, "registration.sqlite");
const now = Math.floor(Date.now() / 1000);

openDatabase(dbPath).$client.close(); // the schema
const sqlite = new Database(dbPath);
sqlite.run("INSERT OR IGNORE INTO accounts (email, optout) VALUES ('', 1)");
const account = (sqlite.query("SELECT id FROM accounts WHERE email = ''").get() as { id: number }).id;
const insert = sqlite.query("INSERT INTO domains (name, account_id, token, description, timestamp) VALUES (?, ?, ?, ?, ?)");
const tokens: string[] = [];
sqlite.transaction(() => {
  for (let i = 0; i < STALE; i++) insert.run(`stale-${i}.example.test.`, account, crypto.randomUUID(), "stale", now - 100 * 86_400 - (i % 1000));
  for (let i = 0; i < FRESH; i++) {
    tokens.push(crypto.randomUUID());
    insert.run(`fresh-${i}.example.test.`, account, tokens[i], "fresh", now);
  }
})();
sqlite.close();

const server = await startServer({ dir, dbPath, readyTimeoutMs: 60_000, env: { REGISTRATION_EXPIRY_MAX_FRACTION: "1" } });
const done = /expiry: removed (\d+) domain\(s\).* in ([\d.]+)s/;
const during: number[] = [];
let failed = 0;
for (let i = 0; !done.test(server.output()); i++) {
  const path = [`/info?token=${tokens[i % FRESH]}`, `/ping?token=${tokens[i % FRESH]}`, "/connectivity-check"][i % 3];
  const t0 = performance.now();
  const res = await get(server, path);
  if (res.status !== 200) failed++;
  if (!done.test(server.output())) during.push(performance.now() - t0);
}
const [, removed, seconds] = server.output().match(done)!;
during.sort((a, b) => a - b);
const p = (q: number) => (during.length ? Math.round(during[Math.min(during.length - 1, Math.floor(q * during.length))]) : null);
console.log(
  JSON.stringify({
    name: "sweep",
    stale: STALE,
    removed: Number(removed),
    sweepSeconds: Number(seconds),
    requestsDuring: during.length,
    failed,
    p50Ms: p(0.5),
    p99Ms: p(0.99),
    worstMs: p(1),
  }),
);
await server.cleanup();
rmSync(dir, { recursive: true, force: true });
