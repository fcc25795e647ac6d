// `backup FILE`: a consistent copy of the live database. VACUUM INTO on a connection of our own
// reads one WAL snapshot (every commit before it began, none after) while the server
// goes on serving and writing: a WAL reader blocks no writer, and no server's event loop runs
// the copy. bun:sqlite has no online backup API (sqlite3_backup_*), hence VACUUM INTO. The copy
// runs in a worker thread (backup-worker.ts), so that this one can stop it (Ctrl-C).
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { BACKUP_WORKER } from "../worker-urls.ts";
import { isSameFile } from "../store/file-identity.ts";
import { replacedFileProblem } from "./serving-marker.ts";
import { syncPath } from "./sync-path.ts";
import { workerErrorLine } from "../log.ts";
import type { CopyReply, CopyRequest } from "./backup-worker.ts";

export class BackupError extends Error {}

export interface BackupResult {
  path: string;
  bytes: number;
  domains: number;
}

export interface BackupOptions {
  force?: boolean;
  /** stops the copy: its directory is removed and the promise rejects, `target` untouched */
  signal?: AbortSignal;
}

/**
 * Copies the database at `source` to `target`, made and checked in a hidden directory beside it
 * (`.FILE.<pid>.tmp`), then renamed into place. A directory, not a temporary file: once it is
 * removed, a copy still starting cannot create its file there, so a stopped backup leaves nothing.
 */
export async function backupDatabase(source: string, target: string, options: BackupOptions = {}): Promise<BackupResult> {
  if (!existsSync(source)) throw new BackupError(`no database at ${source}`);
  const replaced = replacedFileProblem(source);
  if (replaced) throw new BackupError(`${replaced}, and back up again`);
  if ([source, `${source}-wal`, `${source}-shm`].some((file) => sameFile(file, target)))
    throw new BackupError(`${target} is the database itself (or its -wal/-shm file): back up to another file`);
  if (existsSync(target) && !options.force) throw new BackupError(`${target} exists (--force replaces it)`);
  if (!existsSync(dirname(target))) throw new BackupError(`no such directory: ${dirname(target)}`);
  const temporary = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
  const copy = join(temporary, basename(target));
  removeDirectory(temporary);
  // smol: a smaller heap for a thread that only runs SQL.
  const worker = new Worker(BACKUP_WORKER.href, { smol: true });
  const { signal } = options;
  let stop = () => {};
  try {
    mkdirSync(temporary);
    const domains = await new Promise<number>((resolve, reject) => {
      stop = () => reject(new BackupError(`backup to ${target} stopped (${signal?.reason})`));
      if (signal?.aborted) return stop();
      signal?.addEventListener("abort", stop);
      worker.onmessage = (event: MessageEvent<CopyReply>) => {
        const reply = event.data;
        if (reply.kind === "copied") resolve(reply.domains);
        else reject(new BackupError(reply.kind === "damaged" ? reply.message : `backup to ${target} failed: ${reply.message.split("\n")[0]}`));
      };
      worker.onerror = (event) => reject(new BackupError(`backup to ${target} failed: ${workerErrorLine(event.message)}`));
      worker.postMessage({ source, copy } satisfies CopyRequest);
    });
    renameSync(copy, target);
    removeDirectory(temporary);
    syncPath(dirname(target));
    return { path: target, bytes: statSync(target).size, domains };
  } catch (e) {
    removeDirectory(temporary);
    if (e instanceof BackupError) throw e;
    throw new BackupError(`backup to ${target} failed: ${String((e as Error).message ?? e).split("\n")[0]}`);
  } finally {
    signal?.removeEventListener("abort", stop);
    // A copy still running (stopped) goes on into its unlinked file until it returns; the
    // command ends before that.
    worker.terminate();
  }
}

/** Removes `path` and what is in it, again when the copy created a file in it meanwhile. */
function removeDirectory(path: string): void {
  for (let attempt = 1; ; attempt++) {
    try {
      rmSync(path, { recursive: true, force: true });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOTEMPTY" || attempt === 3) throw e;
    }
  }
}

/** Both name one file (links followed): renaming a copy over the live file would orphan the server's writes. */
function sameFile(a: string, b: string): boolean {
  try {
    return isSameFile(statSync(a), statSync(b));
  } catch {
    return false;
  }
}
