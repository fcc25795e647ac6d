// `backup FILE`: a consistent copy of the live database. VACUUM INTO on a connection of our own
// reads one WAL snapshot (every commit before it began, none after) while the server
// goes on serving and writing: a WAL reader blocks no writer, and no server's event loop runs
// the copy. bun:sqlite has no online backup API (sqlite3_backup_*), hence VACUUM INTO.
import { Database } from "bun:sqlite";
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export class BackupError extends Error {}

export interface BackupResult {
  path: string;
  bytes: number;
  domains: number;
}

/** Copies the database at `source` to `target` through a temporary name beside it, checked before it is renamed into place. */
export function backupDatabase(source: string, target: string, options: { force?: boolean } = {}): BackupResult {
  if (!existsSync(source)) throw new BackupError(`no database at ${source}`);
  if ([source, `${source}-wal`, `${source}-shm`].some((file) => sameFile(file, target)))
    throw new BackupError(`${target} is the database itself (or its -wal/-shm file): back up to another file`);
  if (existsSync(target) && !options.force) throw new BackupError(`${target} exists (--force replaces it)`);
  if (!existsSync(dirname(target))) throw new BackupError(`no such directory: ${dirname(target)}`);
  const temporary = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
  rmSync(temporary, { force: true });
  try {
    // Not a readonly open: that leaves -wal and -shm behind, owned by whoever ran the backup,
    // which a server running as another user then cannot open. The last connection removes them.
    const db = new Database(source, { readwrite: true, create: false });
    try {
      db.run("PRAGMA busy_timeout = 5000");
      db.query("VACUUM INTO ?").run(temporary);
    } finally {
      db.close();
    }
    const domains = checkCopy(temporary);
    // VACUUM INTO does not sync what it wrote: the copy reaches the disk before its name does.
    syncPath(temporary);
    renameSync(temporary, target);
    syncPath(dirname(target));
    return { path: target, bytes: statSync(target).size, domains };
  } catch (e) {
    rmSync(temporary, { force: true });
    if (e instanceof BackupError) throw e;
    throw new BackupError(`backup to ${target} failed: ${String((e as Error).message ?? e).split("\n")[0]}`);
  }
}

/** The copy opens, passes PRAGMA integrity_check, and holds a domains table; its row count. */
function checkCopy(path: string): number {
  const copy = new Database(path, { readonly: true });
  try {
    const rows = copy.query("PRAGMA integrity_check").values() as [string][];
    if (rows.length !== 1 || rows[0][0] !== "ok") throw new BackupError(`the copy failed PRAGMA integrity_check: ${rows.map((r) => r[0]).join("; ")}`);
    return (copy.query("SELECT count(*) FROM domains").values() as [number][])[0][0];
  } finally {
    copy.close();
  }
}

/** Both name one file (links followed): renaming a copy over the live file would orphan the server's writes. */
function sameFile(a: string, b: string): boolean {
  try {
    const [x, y] = [statSync(a), statSync(b)];
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

function syncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
