// Opens the SQLite file, sets the pragmas, adopts a Rust server's database and
// applies the embedded migrations.
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { embeddedMigrations, type Migration } from "./migrations.ts";
import * as schema from "./schema.ts";

export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database };

const MIGRATIONS_TABLE = "__drizzle_migrations";

/**
 * How long a write waits for a lock another connection holds (docs/operations.md): then it fails with
 * SQLITE_BUSY, its transaction rolls back, and the request answers 501. It waits on the thread
 * that serves HTTP; DNS reads on a connection of its own (openLookupDatabase) and never waits.
 */
export const WRITE_LOCK_WAIT_MS = 2000;
/** A WAL reader waits for no writer; this covers the brief locks of a WAL reset or recovery. */
const LOOKUP_LOCK_WAIT_MS = 100;

export function openDatabase(path: string): Db {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path, { create: true, strict: true });
  // WAL + NORMAL: a commit is in the OS before the call returns, so it survives kill -9;
  // FULL would block the event loop on an fsync per write.
  sqlite.run("PRAGMA journal_mode = WAL");
  sqlite.run("PRAGMA synchronous = NORMAL");
  sqlite.run(`PRAGMA busy_timeout = ${WRITE_LOCK_WAIT_MS}`);
  sqlite.run("PRAGMA foreign_keys = ON");
  const db = drizzle({ client: sqlite, schema }) as Db;
  migrate(db);
  return db;
}

/**
 * A read-only connection to a file openDatabase has opened (and migrated) already: the DNS
 * worker's gateway lookups. In WAL mode it reads the last commit without waiting for a writer.
 */
export function openLookupDatabase(path: string): Db {
  const sqlite = new Database(path, { readonly: true, strict: true });
  sqlite.run(`PRAGMA busy_timeout = ${LOOKUP_LOCK_WAIT_MS}`);
  return drizzle({ client: sqlite, schema }) as Db;
}

function tableExists(sqlite: Database, name: string): boolean {
  return sqlite.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== null;
}

function migrate(db: Db): void {
  const sqlite = db.$client;
  const migrations = embeddedMigrations();
  if (!tableExists(sqlite, MIGRATIONS_TABLE) && tableExists(sqlite, "domains")) adoptLegacy(sqlite, migrations[0]);
  // drizzle's own runner, fed from the embedded files instead of a folder; dialect and session
  // are not in its public types.
  // biome-ignore lint/suspicious/noExplicitAny: drizzle internals, see above
  (db as any).dialect.migrate(migrations, (db as any).session, { migrationsFolder: "(embedded)" });
}

/**
 * A database the Rust server wrote already has accounts and domains: bring them to the
 * baseline's shape in place (missing columns added with their defaults, missing indexes
 * created) and record the baseline as applied, so later migrations run as usual.
 * Columns and indexes are read from the baseline migration itself, never repeated here.
 */
function adoptLegacy(sqlite: Database, baseline: Migration): void {
  sqlite.transaction(() => {
    for (const statement of baseline.sql) {
      const table = /CREATE TABLE `(\w+)`/.exec(statement)?.[1];
      if (table) {
        if (!tableExists(sqlite, table)) {
          sqlite.run(statement);
          continue;
        }
        const present = new Set((sqlite.query(`PRAGMA table_info("${table}")`).all() as { name: string }[]).map((c) => c.name));
        for (const line of statement.split("\n")) {
          const column = /^\s*`(\w+)` (.*?),?$/.exec(line);
          if (column && !present.has(column[1])) sqlite.run(`ALTER TABLE "${table}" ADD COLUMN ${line.trim().replace(/,$/, "")}`);
        }
      } else if (/CREATE (UNIQUE )?INDEX/.test(statement)) {
        sqlite.run(statement.replace(/CREATE (UNIQUE )?INDEX/, "CREATE $1INDEX IF NOT EXISTS"));
      }
    }
    // Rust-era rows: the email-less account is '' and opted out; nothing else to rewrite.
    sqlite.run(`CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)`);
    sqlite.query(`INSERT INTO ${MIGRATIONS_TABLE} (hash, created_at) VALUES (?, ?)`).run(baseline.hash, baseline.folderMillis);
  })();
}
