// Before a migration touches an existing file (pending migrations, or a Rust server's database
// adopted), the server copies it next to itself as <file>.pre-<version>-<time> and logs it; an
// adopted Rust database is named in the log, and the start-up sweep frees none of its names
// though their last pings are years old. The Rust fixture goes through a spawned server (the copy,
// the adoption and the start-up sweep in one real start); the other cases call openDatabase,
// which serve.ts calls with its log, on real files.
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VERSION } from "../../src/version.ts";
import { openDatabase } from "../../src/store/db.ts";
import { embeddedMigrations } from "../../src/store/migrations.ts";
import { LEGACY_DB_FILE, LEGACY_DOMAINS } from "../support/make-legacy-db.ts";
import { startServer } from "../support/server.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function newDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "regsrv-migcopy-"));
  dirs.push(dir);
  return dir;
}
const copiesIn = (dir: string) => readdirSync(dir).filter((f) => f.includes(".pre-"));

describe("migrating an existing file", () => {
  test("the Rust fixture with the default expiry: copied first, adoption logged, no name freed by the start-up sweep", async () => {
    const dir = newDir();
    const dbPath = join(dir, "domains.sqlite");
    copyFileSync(LEGACY_DB_FILE, dbPath);
    const server = await startServer({ dir, dbPath });
    try {
      const copied = await server.waitForOutput(/database: copied (\S+) to (\S+) before adopting it/);
      expect(copied[1]).toBe(dbPath);
      expect(copied[2]).toStartWith(`${dbPath}.pre-${VERSION}-`);
      await server.waitForOutput(/database: adopted the Rust registration server's database \S+: 3 domain\(s\); their last ping counts from now/);
      await server.waitForOutput(/expiry: removed 0 domain\(s\)/);
      expect(server.output()).not.toMatch(/expiry: removed [1-9]/);
      expect(copiesIn(dir)).toEqual([copied[2].slice(dir.length + 1)]);
      const db = new Database(dbPath, { readonly: true });
      expect((db.query("SELECT count(*) AS n FROM domains").get() as { n: number }).n).toBe(LEGACY_DOMAINS.length);
      db.close();
      const copy = new Database(copied[2], { readonly: true });
      expect((copy.query("SELECT name FROM domains ORDER BY id").all() as { name: string }[]).map((r) => r.name)).toEqual(LEGACY_DOMAINS.map((d) => d.name));
      copy.close();
    } finally {
      await server.cleanup();
    }
  });

  test("a file of ours with a migration pending: copied before it is applied, and not again on the next start", async () => {
    const dir = newDir();
    const dbPath = join(dir, "registration.sqlite");
    // as the previous release left it: every migration but the last applied, as drizzle's runner records them
    // (deleting the last one's row from a current file would leave its columns behind, and an ALTER TABLE ADD fails)
    const migrations = embeddedMigrations();
    const last = migrations.at(-1)!;
    const db = new Database(dbPath, { create: true });
    db.run("CREATE TABLE __drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)");
    for (const m of migrations.slice(0, -1)) {
      for (const statement of m.sql) if (statement.trim()) db.run(statement);
      db.query("INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)").run(m.hash, m.folderMillis);
    }
    db.close();
    /** A start's open of the file, as serve.ts does it: what it logged. */
    const start = () => {
      const lines: string[] = [];
      openDatabase(dbPath, { log: (line) => void lines.push(line) }).$client.close();
      return lines.join("\n");
    };
    const copied = start().match(/database: copied (\S+) to (\S+) before applying (\S+)/);
    expect(copied).not.toBeNull();
    expect(copied![2]).toStartWith(`${dbPath}.pre-${VERSION}-`);
    expect(copied![3]).toBe(last.tag);
    const copy = new Database(copied![2], { readonly: true });
    expect((copy.query("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number }).n).toBe(embeddedMigrations().length - 1);
    copy.close();
    expect(start()).not.toContain("database: copied");
    expect(copiesIn(dir).length).toBe(1);
  });

  test("a new file: no copy", async () => {
    const dir = newDir();
    const lines: string[] = [];
    openDatabase(join(dir, "registration.sqlite"), { log: (line) => void lines.push(line) }).$client.close();
    expect(lines.join("\n")).not.toContain("database: copied");
    expect(copiesIn(dir)).toEqual([]);
  });
});
