// Opens the SQLite file, sets the pragmas, adopts a Rust server's database and
// applies the embedded migrations.
import { Database } from "bun:sqlite";
import { accessSync, constants, existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { VERSION } from "../version.ts";
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

export interface OpenOptions {
  /** where the adoption and pre-migration copy lines go */
  log?: (line: string) => void;
  /** Unix seconds: the adoption time, and the copy's name */
  now?: () => number;
  /**
   * false: skip PRAGMA quick_check and the write probe, for a second connection to a file this
   * process opened (and checked) already: the sweep worker.
   */
  check?: boolean;
  /**
   * false (the command line): a file not yet adopted or migrated is refused, not changed, so a
   * look at it with a new binary leaves it to the version that still serves it.
   */
  migrate?: boolean;
}

/**
 * Opens (creating if need be) the database, refusing with an Error whose message is one line:
 * a file it cannot write, one failing PRAGMA quick_check, one migrated by a newer version, one
 * of another program. Before migrating an existing file, copies it to `<file>.pre-<version>-<time>`.
 */
export function openDatabase(path: string, options: OpenOptions = {}): Db {
  const onDisk = path !== ":memory:";
  if (onDisk) {
    mkdirSync(dirname(path), { recursive: true });
    if (options.check !== false) assertWritable(path);
  }
  const sqlite = new Database(path, { create: true, strict: true });
  try {
    if (options.check !== false) quickCheck(sqlite);
    // WAL + NORMAL: a commit is in the OS before the call returns, so it survives kill -9;
    // FULL would block the event loop on an fsync per write.
    sqlite.run("PRAGMA journal_mode = WAL");
    sqlite.run("PRAGMA synchronous = NORMAL");
    sqlite.run(`PRAGMA busy_timeout = ${WRITE_LOCK_WAIT_MS}`);
    sqlite.run("PRAGMA foreign_keys = ON");
    // A write that fires the zone journal's triggers keeps a statement journal (the pages it
    // changed, to undo it alone); past 64 KiB SQLite spills it to a temporary file, which made
    // a subscription in a group of writes cost 45 us instead of 9 (drizzle/0005).
    sqlite.run("PRAGMA temp_store = MEMORY");
    if (onDisk && options.check !== false) probeWrite(sqlite);
    const db = drizzle({ client: sqlite, schema }) as Db;
    migrate(db, path, options);
    return db;
  } catch (e) {
    sqlite.close();
    if (e instanceof DatabaseBusy) throw e;
    throw new Error(oneLine((e as Error).message));
  }
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, "; ");

/** The file and its directory (for the -wal and -shm files, and the pre-migration copy) must be writable. */
function assertWritable(path: string): void {
  const dir = dirname(path);
  const check = (target: string, what: string) => {
    try {
      accessSync(target, constants.W_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "";
      const why = code === "EROFS" ? "on a read-only file system" : code === "EPERM" ? "not writable (EPERM: immutable?)" : `not writable (${code})`;
      throw new Error(`${what} is ${why}: the server writes the database, and its -wal and -shm files beside it`);
    }
  };
  if (existsSync(path) && statSync(path).isDirectory())
    throw new Error(`it is a directory: point database.path (--db) at a file, e.g. ${join(path, "registration.sqlite")}`);
  if (existsSync(path)) check(path, "the file");
  check(dir, `the directory ${dir}`);
}

/** Another connection held the write lock past WRITE_LOCK_WAIT_MS: a passing state, not a bad file (serve.ts exits 1, not 2). */
export class DatabaseBusy extends Error {
  /** for start-up's exit (src/lifecycle.ts orFail): 1, which systemd's Restart=on-failure retries */
  readonly exitCode = 1;
}

/** A write lock taken and given back: SQLite opens a file it cannot write read-only without a word. */
function probeWrite(sqlite: Database): void {
  try {
    sqlite.run("BEGIN IMMEDIATE");
    sqlite.run("ROLLBACK");
  } catch (e) {
    if (String((e as { code?: unknown }).code).startsWith("SQLITE_BUSY"))
      throw new DatabaseBusy(
        `another connection holds its write lock (database is locked, waited ${WRITE_LOCK_WAIT_MS / 1000} s): end its transaction (a sqlite3 shell?) and try again`,
      );
    throw new Error(`cannot write it: ${(e as Error).message}`);
  }
}

function quickCheck(sqlite: Database): void {
  let rows: { quick_check: string }[];
  try {
    rows = sqlite.query("PRAGMA quick_check").all() as { quick_check: string }[];
  } catch (e) {
    throw new Error(`PRAGMA quick_check failed: ${(e as Error).message}; restore a backup (or try sqlite3's .recover)`);
  }
  if (rows.length === 1 && rows[0].quick_check === "ok") return;
  throw new Error(
    `PRAGMA quick_check found ${rows.length} problem(s), the first: ${rows[0]?.quick_check ?? "(none)"}; restore a backup (or try sqlite3's .recover)`,
  );
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

function tables(sqlite: Database): string[] {
  return (sqlite.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map(
    (r) => r.name,
  );
}

function migrate(db: Db, path: string, options: OpenOptions): void {
  const sqlite = db.$client;
  const migrations = embeddedMigrations();
  const present = tables(sqlite);
  const has = (name: string) => present.includes(name);
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  let rust = false;
  if (has(MIGRATIONS_TABLE) && has("domains")) {
    refuseNewer(sqlite, migrations);
  } else if (!has(MIGRATIONS_TABLE) && has("domains") && has("accounts")) {
    rust = true;
  } else if (present.length > 0) {
    const shown = present.slice(0, 5).join(", ") + (present.length > 5 ? `, and ${present.length - 5} more` : "");
    throw new Error(
      `it holds tables (${shown}) but is neither this server's database nor the Rust registration server's: not adding tables to another program's file; point database.path (--db) at a file of its own`,
    );
  }
  // one time for the copy's name and the adoption
  const at = now();
  const pending = rust ? migrations : migrations.filter((m) => m.folderMillis > lastApplied(sqlite));
  if (options.migrate === false && pending.length > 0)
    throw new Error(
      `it is ${rust ? "the Rust registration server's database, not adopted yet" : `not migrated to ${VERSION} yet (${pending.map((m) => m.tag).join(", ")})`}: start the server on it once (it copies the file first); this command does not change it`,
    );
  if (path !== ":memory:" && present.length > 0 && pending.length > 0) {
    const copy = backupBeforeMigration(sqlite, path, at);
    options.log?.(`database: copied ${path} to ${copy} before ${rust ? "adopting it" : `applying ${pending.map((m) => m.tag).join(", ")}`}`);
  }
  if (rust) {
    const adoptedAt = at;
    const names = adoptLegacy(sqlite, migrations[0], adoptedAt);
    options.log?.(
      `database: adopted the Rust registration server's database ${path}: ${names} domain(s); their last ping counts from now (${new Date(adoptedAt * 1000).toISOString()}), so expiry frees none of them before expiry.inactive_days`,
    );
  }
  // drizzle's own runner, fed from the embedded files instead of a folder; dialect and session
  // are not in its public types.
  // biome-ignore lint/suspicious/noExplicitAny: drizzle internals, see above
  (db as any).dialect.migrate(migrations, (db as any).session, { migrationsFolder: "(embedded)" });
}

/** created_at of the last migration applied, as drizzle's runner reads it (0 when none). */
function lastApplied(sqlite: Database): number {
  if (!tableExists(sqlite, MIGRATIONS_TABLE)) return 0;
  const row = sqlite.query(`SELECT created_at FROM ${MIGRATIONS_TABLE} ORDER BY created_at DESC LIMIT 1`).get() as { created_at: number | string } | null;
  return row ? Number(row.created_at) : 0;
}

/** A migration row this binary does not know, later than its last one: a newer version migrated the file. */
function refuseNewer(sqlite: Database, migrations: Migration[]): void {
  const known = new Set(migrations.map((m) => m.hash));
  const lastKnown = Math.max(...migrations.map((m) => m.folderMillis));
  const rows = sqlite.query(`SELECT hash, created_at FROM ${MIGRATIONS_TABLE}`).all() as { hash: string; created_at: number | string }[];
  const newer = rows.filter((r) => !known.has(r.hash) && Number(r.created_at) > lastKnown);
  if (newer.length === 0) return;
  const latest = Math.max(...newer.map((r) => Number(r.created_at)));
  throw new Error(
    `it was migrated by a newer version of registration-server (${newer.length} migration(s) this ${VERSION} does not know, the latest from ${new Date(latest).toISOString()}): run that version or newer, or restore the copy taken before it migrated`,
  );
}

/** `<file>.pre-<version>-<UTC time>`, a consistent copy (VACUUM INTO) of the file before it changes. */
function backupBeforeMigration(sqlite: Database, path: string, now: number): string {
  const stamp = new Date(now * 1000)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  let copy = `${path}.pre-${VERSION}-${stamp}`;
  for (let n = 2; existsSync(copy); n++) copy = `${path}.pre-${VERSION}-${stamp}-${n}`;
  try {
    sqlite.query("VACUUM INTO ?").run(copy);
  } catch (e) {
    throw new Error(`cannot copy it to ${copy} before migrating (nothing was changed): ${(e as Error).message}`);
  }
  return copy;
}

/**
 * A database the Rust server wrote already has accounts and domains: bring them to the
 * baseline's shape in place (missing columns added with their defaults, missing indexes
 * created) and record the baseline as applied, so later migrations run as usual.
 * Columns and indexes are read from the baseline migration itself, never repeated here.
 * The Rust server freed no names: adoptedAt becomes every older row's last ping, so the first
 * sweep frees none. Returns how many domains it holds.
 */
/** How long links the Rust server mailed keep working after the adoption (as if mailed then). */
const LEGACY_VERIFICATION_SECONDS = 7 * 86_400;
const LEGACY_RECLAMATION_SECONDS = 86_400;

function adoptLegacy(sqlite: Database, baseline: Migration, adoptedAt: number): number {
  return sqlite.transaction(() => {
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
    sqlite.query("UPDATE domains SET timestamp = ? WHERE timestamp < ?").run(adoptedAt, adoptedAt);
    // Links the Rust server mailed keep working: a pending verification (the account's address,
    // not yet verified) gets this server's form and a week from now; a reclamation token a day.
    sqlite
      .query(
        `UPDATE domains SET pending_email = (SELECT email FROM accounts WHERE accounts.id = domains.account_id),
           pending_optout = (SELECT optout FROM accounts WHERE accounts.id = domains.account_id), verification_expires = ?
         WHERE verification_token <> '' AND verified = 0 AND verification_expires = 0
           AND (SELECT email FROM accounts WHERE accounts.id = domains.account_id) <> ''`,
      )
      .run(adoptedAt + LEGACY_VERIFICATION_SECONDS);
    sqlite
      .query("UPDATE domains SET reclamation_expires = ? WHERE reclamation_token <> '' AND reclamation_expires = 0")
      .run(adoptedAt + LEGACY_RECLAMATION_SECONDS);
    return (sqlite.query("SELECT count(*) AS n FROM domains").get() as { n: number }).n;
  })();
}
