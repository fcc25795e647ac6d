// Notices the database file deleted or replaced under the running server. SQLite keeps writing
// to the file it opened, so those writes would answer 200 and be gone at the next start: from
// then on the connection refuses every write (the API answers 501) and the log says so.
import type { Database } from "bun:sqlite";
import { readdirSync, readlinkSync, realpathSync, type Stats, statSync } from "node:fs";
import type { Log } from "../log.ts";
import { isSameFile } from "./file-identity.ts";

/** How often the log repeats it, until the server is restarted. */
const REMIND_MS = 60_000;

export interface FileWatch {
  /** why writes are refused (the file went away), or null while the file is the one opened */
  refused(): string | null;
  stop(): void;
}

export function watchDatabaseFile(options: { path: string; sqlite: Database; checkSeconds: number; log: Log }): FileWatch {
  const { path, sqlite, log } = options;
  if (path === ":memory:") return { refused: () => null, stop() {} };
  const opened = statSync(path);
  const fullPath = realpathSync(path);
  let why: string | null = null;
  let message = "";

  const check = () => {
    let now: Stats | undefined;
    try {
      now = statSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") return; // unreadable for a moment: not proof of anything
    }
    if (now && isSameFile(now, opened)) return;
    why = now ? `the database file ${path} was replaced by another file` : `the database file ${path} was deleted`;
    // SQLITE_READONLY from now on for every write on this connection, in the middle of none.
    sqlite.run("PRAGMA query_only = ON");
    const descriptor = openDescriptor(fullPath);
    message =
      `database: ${why} while the server ran. Every write now answers 501 (it would be lost at the next start); reads still come from the open file` +
      (descriptor ? ` (${descriptor} until the process ends)` : "") +
      `. Put the right file at ${path} (from a backup) and restart the server.`;
    clearInterval(timer);
    log(message);
    timer = setInterval(() => log(message), REMIND_MS);
    timer.unref();
  };

  let timer = setInterval(check, options.checkSeconds * 1000);
  timer.unref();
  return {
    refused: () => why,
    stop: () => clearInterval(timer),
  };
}

/** /proc/<pid>/fd/<n> of the deleted file this process still has open (Linux), or null. */
function openDescriptor(fullPath: string): string | null {
  try {
    for (const fd of readdirSync("/proc/self/fd")) {
      try {
        if (readlinkSync(`/proc/self/fd/${fd}`) === `${fullPath} (deleted)`) return `/proc/${process.pid}/fd/${fd}`;
      } catch {}
    }
  } catch {}
  return null;
}
