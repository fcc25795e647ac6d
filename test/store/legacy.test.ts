// A database the Rust server wrote is upgraded in place by openDatabase(), every row kept.
import { afterEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { VERSION } from "../../src/version.ts";
import { openDatabase } from "../../src/store/db.ts";
import { createStore } from "../../src/store/domains.ts";
import { LEGACY, LEGACY_DB_FILE, LEGACY_DOMAINS, LEGACY_MIGRATIONS, LEGACY_SCHEMA, makeLegacyDb } from "../support/make-legacy-db.ts";

const dirs: string[] = [];
function legacyCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), "regsrv-legacy-"));
  dirs.push(dir);
  const path = join(dir, "domains.sqlite");
  copyFileSync(LEGACY_DB_FILE, path);
  return path;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("legacy Rust database fixture", () => {
  test("the shipped fixture has exactly the Rust server's schema and rows (regenerated from make-legacy-db.ts)", () => {
    const dir = mkdtempSync(join(tmpdir(), "regsrv-legacy-"));
    dirs.push(dir);
    makeLegacyDb(join(dir, "fresh.sqlite"));
    const schemaOf = (path: string) => {
      const db = new Database(path, { readonly: true });
      const rows = db.query("SELECT type, name, sql FROM sqlite_master ORDER BY name").all();
      const data = db.query("SELECT * FROM domains ORDER BY id").all();
      const accounts = db.query("SELECT * FROM accounts ORDER BY id").all();
      const migrations = db.query("SELECT version FROM __diesel_schema_migrations ORDER BY version").all();
      db.close();
      return { rows, data, accounts, migrations };
    };
    const shipped = schemaOf(LEGACY_DB_FILE);
    expect(shipped).toEqual(schemaOf(join(dir, "fresh.sqlite")));
    expect(shipped.migrations.map((m: any) => m.version)).toEqual(LEGACY_MIGRATIONS);
    expect(shipped.accounts).toContainEqual({ id: 1, email: "", optout: 1 });
    expect(LEGACY_SCHEMA).toContain("__diesel_schema_migrations");
  });
});

/** 2026-11-27T00:00:00Z, after every fixture row's last ping */
const ADOPTED = 1_795_737_600;

describe("openDatabase on a Rust database", () => {
  test("copies the file with VACUUM INTO to <file>.pre-<version>-<time> before adopting it, and logs the copy and the adoption", () => {
    const path = legacyCopy();
    const lines: string[] = [];
    const db = openDatabase(path, { now: () => ADOPTED, log: (line) => lines.push(line) });
    db.$client.close();
    const copy = `${path}.pre-${VERSION}-20261127T000000Z`;
    expect(readdirSync(dirname(path)).filter((f) => f.includes(".pre-"))).toEqual([basename(copy)]);
    // the copy is the Rust file as it was: no tables of ours, the old last pings
    const before = new Database(copy, { readonly: true });
    expect(before.query("SELECT name FROM sqlite_master WHERE name = '__drizzle_migrations'").all()).toEqual([]);
    expect(before.query("SELECT id, timestamp FROM domains ORDER BY id").all()).toEqual(LEGACY_DOMAINS.map((d) => ({ id: d.id, timestamp: d.timestamp })));
    before.close();
    expect(lines).toEqual([
      `database: copied ${path} to ${copy} before adopting it`,
      `database: adopted the Rust registration server's database ${path}: 3 domain(s); their last ping counts from now (2026-11-27T00:00:00.000Z), so expiry frees none of them before expiry.inactive_days`,
    ]);
    // opened again: nothing to migrate, no second copy, no second adoption line
    openDatabase(path, { log: (line) => lines.push(line) }).$client.close();
    expect(lines.length).toBe(2);
    expect(readdirSync(dirname(path)).filter((f) => f.includes(".pre-")).length).toBe(1);
  });

  test("keeps every account and domain row with all its values but the last ping, which becomes the adoption time, and adds last_ip", () => {
    const path = legacyCopy();
    const db = openDatabase(path, { now: () => ADOPTED });
    const sqlite = db.$client;
    const rows = sqlite.query("SELECT * FROM domains ORDER BY id").all() as any[];
    expect(rows.length).toBe(LEGACY_DOMAINS.length);
    for (const expected of LEGACY_DOMAINS) {
      const row = rows.find((r) => r.id === expected.id);
      const { label: _label, ...columns } = expected;
      expect(row).toMatchObject({ ...columns, timestamp: ADOPTED });
      expect(row.last_ip).toBe("");
    }
    expect(sqlite.query("SELECT id, email, optout FROM accounts ORDER BY id").all()).toEqual([...LEGACY.accounts]);
    // diesel's bookkeeping is left alone
    expect((sqlite.query("SELECT count(*) AS n FROM __diesel_schema_migrations").get() as any).n).toBe(LEGACY_MIGRATIONS.length);
    expect((sqlite.query("PRAGMA journal_mode").get() as any).journal_mode).toBe("wal");
    sqlite.close();
  });

  test("upgrading twice is a no-op and the store finds the old rows by token and name", () => {
    const path = legacyCopy();
    openDatabase(path).$client.close();
    const db = openDatabase(path);
    const store = createStore(db);
    expect(store.findDomainByToken(LEGACY.verified.token)?.name).toBe(LEGACY.verified.name);
    expect(store.findDomainByName(LEGACY.anonymous.name)?.token).toBe(LEGACY.anonymous.token);
    const verified = store.findDomainByName(LEGACY.verified.name)!;
    expect(store.verifiedEmail(verified)).toBe("owner@example.org");
    const anonymous = store.findDomainByName(LEGACY.anonymous.name)!;
    expect(store.verifiedEmail(anonymous)).toBeNull();
    expect((db.$client.query("SELECT count(*) AS n FROM domains").get() as any).n).toBe(LEGACY_DOMAINS.length);
    db.$client.close();
  });

  test("the Rust timestamp index is dropped, and a Rust file without it opens too", () => {
    const timestampIndexes = (sqlite: Database) =>
      (sqlite.query("SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '%(timestamp)%'").all() as { name: string }[]).map((r) => r.name);
    for (const withIndex of [true, false]) {
      const path = legacyCopy();
      const rust = new Database(path);
      expect(timestampIndexes(rust)).toEqual(["domains_timestamp"]);
      if (!withIndex) rust.run("DROP INDEX domains_timestamp");
      rust.close();
      const db = openDatabase(path);
      expect(timestampIndexes(db.$client)).toEqual([]);
      expect((db.$client.query("SELECT count(*) AS n FROM domains").get() as any).n).toBe(LEGACY_DOMAINS.length);
      db.$client.close();
    }
  });

  test("the empty secrets of Rust rows match nothing in the store", () => {
    const path = legacyCopy();
    const db = openDatabase(path);
    const store = createStore(db);
    const now = Math.floor(Date.now() / 1000);
    expect(store.findDomainByToken("")).toBeUndefined();
    expect(store.deleteByReclamationToken("", now)).toBeUndefined();
    expect(store.reclaimDomain(LEGACY.anonymous.name, "", "11111111-1111-4111-8111-111111111111", "x", 0, now)).toBe(false);
    expect(store.verifyEmail("", now)).toEqual({ outcome: "unknown" });
    expect((db.$client.query("SELECT count(*) AS n FROM domains").get() as any).n).toBe(LEGACY_DOMAINS.length);
    db.$client.close();
  });
});
