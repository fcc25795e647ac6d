// The migrations in drizzle/ are embedded in the code (a compiled binary has no drizzle/ folder
// beside it), and a fresh database gets every table, column and index from them.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { openDatabase } from "../../src/store/db.ts";
import { embeddedMigrations, journalTags, MIGRATION_SQL } from "../../src/store/migrations.ts";

const DRIZZLE = join(import.meta.dir, "..", "..", "drizzle");

describe("embedded migrations", () => {
  test("every drizzle/meta/_journal.json entry is embedded with the SQL of its file", () => {
    const journal = JSON.parse(readFileSync(join(DRIZZLE, "meta", "_journal.json"), "utf8")) as { entries: { tag: string }[] };
    const tags = journal.entries.map((e) => e.tag);
    expect(tags.length).toBeGreaterThan(0);
    expect(journalTags()).toEqual(tags);
    for (const tag of tags) {
      expect(Object.keys(MIGRATION_SQL), `migration ${tag} not embedded`).toContain(tag);
      expect(MIGRATION_SQL[tag]).toBe(readFileSync(join(DRIZZLE, `${tag}.sql`), "utf8"));
    }
  });

  test("every .sql file in drizzle/ is in the journal (none generated and forgotten)", () => {
    const files = readdirSync(DRIZZLE)
      .filter((f) => f.endsWith(".sql"))
      .map((f) => f.replace(/\.sql$/, ""));
    expect(files.sort()).toEqual([...journalTags()].sort());
  });

  test("a fresh database file gets both tables, WAL, foreign keys and the lookup indexes", () => {
    const dir = mkdtempSync(join(tmpdir(), "regsrv-store-"));
    try {
      const db = openDatabase(join(dir, "nested", "fresh.sqlite"));
      const sqlite = db.$client;
      const tables = (sqlite.query("SELECT name FROM sqlite_master WHERE type='table'").all() as { name: string }[]).map((r) => r.name);
      expect(tables).toEqual(expect.arrayContaining(["accounts", "domains"]));
      const columns = (sqlite.query("PRAGMA table_info(domains)").all() as { name: string }[]).map((c) => c.name);
      expect(columns).toEqual(
        expect.arrayContaining([
          "id",
          "name",
          "account_id",
          "token",
          "description",
          "timestamp",
          "dns_challenge",
          "reclamation_token",
          "verification_token",
          "verified",
          "continent",
          "mode",
          "last_ip",
        ]),
      );
      expect((sqlite.query("PRAGMA journal_mode").get() as any).journal_mode).toBe("wal");
      expect((sqlite.query("PRAGMA foreign_keys").get() as any).foreign_keys).toBe(1);
      expect((sqlite.query("PRAGMA busy_timeout").get() as any).timeout).toBeGreaterThan(0);
      // statement journals (writes that fire the zone journal's triggers) stay in memory
      expect((sqlite.query("PRAGMA temp_store").get() as any).temp_store).toBe(2);
      // every column a request looks rows up by is indexed (the expiry walks the rows by id)
      const indexed = new Set<string>();
      for (const { name } of sqlite.query("PRAGMA index_list(domains)").all() as { name: string }[])
        for (const col of sqlite.query(`PRAGMA index_info("${name}")`).all() as { name: string }[]) indexed.add(col.name);
      for (const col of ["name", "token", "reclamation_token", "verification_token", "keep_token", "account_id"]) expect([...indexed]).toContain(col);
      // and not the last-seen time: every ping would move its entry
      expect([...indexed]).not.toContain("timestamp");
      sqlite.close();
      // opening again applies nothing twice
      const again = openDatabase(join(dir, "nested", "fresh.sqlite"));
      again.$client.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("0002 fills last_ipv4 and last_ipv6 from last_ip by its family (an IPv4-mapped address counts as IPv4)", () => {
    const dir = mkdtempSync(join(tmpdir(), "regsrv-store-"));
    try {
      const path = join(dir, "upgrade.sqlite");
      openDatabase(path).$client.close();
      // Back to the shape before 0002 (and 0003 to 0006), with rows a /ping wrote then.
      const old = new Database(path);
      for (const trigger of ["insert", "delete", "update", "rename"]) old.run(`DROP TRIGGER zone_changes_after_${trigger}`);
      for (const table of ["zone_changes", "zone_changesets", "zone_state", "dnssec_keys"]) old.run(`DROP TABLE ${table}`);
      old.run("DROP INDEX domains_keep_token");
      old.run("DROP INDEX domains_canonical_name");
      for (const column of ["last_ipv4", "last_ipv6", "warned_for", "keep_token", "keep_expires"]) old.run(`ALTER TABLE domains DROP COLUMN ${column}`);
      const since = embeddedMigrations().find((m) => m.tag === "0002_dual_stack_addresses")!.folderMillis;
      old.query("DELETE FROM __drizzle_migrations WHERE created_at >= ?").run(since);
      old.run("INSERT INTO accounts (id, email, optout) VALUES (1, '', 1)");
      const rows: [string, string][] = [
        ["four", "192.0.2.1"],
        ["six", "2001:DB8::1"],
        ["mapped", "::ffff:192.0.2.2"],
        ["none", ""],
      ];
      for (const [label, ip] of rows)
        old
          .query("INSERT INTO domains (name, account_id, token, description, timestamp, last_ip) VALUES (?, 1, ?, '', 0, ?)")
          .run(`${label}.example.test.`, label, ip);
      old.close();
      const db = openDatabase(path);
      const got = db.$client.query("SELECT name, last_ip, last_ipv4, last_ipv6 FROM domains ORDER BY id").all();
      // 0003: no row has been warned, none holds a keep link
      const warnings = db.$client.query("SELECT DISTINCT warned_for, keep_token, keep_expires FROM domains").all();
      db.$client.close();
      expect(warnings).toEqual([{ warned_for: 0, keep_token: "", keep_expires: 0 }]);
      expect(got).toEqual([
        { name: "four.example.test.", last_ip: "192.0.2.1", last_ipv4: "192.0.2.1", last_ipv6: "" },
        { name: "six.example.test.", last_ip: "2001:DB8::1", last_ipv4: "", last_ipv6: "2001:db8::1" },
        { name: "mapped.example.test.", last_ip: "::ffff:192.0.2.2", last_ipv4: "192.0.2.2", last_ipv6: "" },
        { name: "none.example.test.", last_ip: "", last_ipv4: "", last_ipv6: "" },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
