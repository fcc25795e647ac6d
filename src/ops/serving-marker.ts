// A file beside the database, `<db>.serving`, that says a server has it open and how to reach
// its admin listener. The command line reads it before changing the file itself: a change the
// running server does not make leaves its DNS answer cache and /info rows stale.
import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { type FileIdentity, isSameFile } from "../store/file-identity.ts";

interface Marker {
  pid: number;
  /** the admin listener's address, or null when admin.port is 0 */
  admin: string | null;
  /** the process's start (startTime), so a pid reused after kill -9 or a reboot is told apart */
  started?: string;
  /** the database file the server has open (device and inode), so one put in its place is told apart */
  file?: FileIdentity;
}

/**
 * A process's start: this boot's id and its start time in clock ticks since boot (/proc), so
 * neither a pid reused after kill -9 nor one from before a reboot passes for it. Undefined off
 * Linux, once it is gone, or when /proc hides it (another user's, under ProtectProc=invisible).
 */
function startTime(pid: number | "self"): string | undefined {
  try {
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // fields after the command name, which is in parentheses and may hold spaces: starttime is the 22nd
    return `${boot}/${stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]}`;
  } catch {
    return undefined;
  }
}

const markerPath = (dbPath: string) => `${dbPath}.serving`;

/** Writes the marker; returns what removes it (at shutdown). Nothing for :memory:. */
export function markServing(dbPath: string, admin: string | null): () => void {
  if (dbPath === ":memory:") return () => {};
  const path = markerPath(dbPath);
  try {
    const { dev, ino } = statSync(dbPath);
    writeFileSync(path, `${JSON.stringify({ pid: process.pid, admin, started: startTime("self"), file: { dev, ino } } satisfies Marker)}\n`);
  } catch {
    return () => {}; // a read-only directory was refused at start-up already; nothing to guard
  }
  return () => rmSync(path, { force: true });
}

/**
 * The server that has this database open, when its marker names a live process; else null.
 * `proven`: only when that process's start time matches the marker's (start-up's check, which
 * must never keep a server down for a stranger's pid); else a live pid whose start cannot be
 * read counts (the command line's guard, which errs toward refusing).
 */
export function servingProcess(dbPath: string, proven = false): Marker | null {
  let marker: Marker;
  try {
    marker = JSON.parse(readFileSync(markerPath(dbPath), "utf8")) as Marker;
  } catch {
    return null;
  }
  if (!Number.isInteger(marker.pid) || marker.pid <= 0 || marker.pid === process.pid) return null;
  const started = marker.started && startTime(marker.pid);
  if (proven) return started && started === marker.started ? marker : null;
  if (started && started !== marker.started) return null; // the pid is another process's now
  try {
    process.kill(marker.pid, 0); // a marker left by a killed server names a dead pid
    return marker;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM" ? marker : null;
  }
}

/**
 * The pid of a live server whose open database file is no longer the one at `dbPath` (a copy
 * renamed over it, or the file moved away and another put there); else null. No connection to
 * the file now at the path may be made then: it shares the -wal and -shm names with the served
 * file and reads the server's WAL frames as pages of its own (a backup of a restored 20-name file
 * held 40 names), and a read-write one would add its writes to that WAL.
 */
export function servedFileReplaced(dbPath: string): number | null {
  const serving = servingProcess(dbPath);
  if (!serving?.file) return null;
  try {
    return isSameFile(statSync(dbPath), serving.file) ? null : serving.pid;
  } catch {
    return null; // no file at the path: nothing to open
  }
}

/**
 * Why a command must not open the file at `dbPath` now (servedFileReplaced's case), ending where
 * the caller says what to do then; null when it may.
 */
export function replacedFileProblem(dbPath: string): string | null {
  const pid = servedFileReplaced(dbPath);
  if (pid === null) return null;
  return `${dbPath} is not the file the server (pid ${pid}) has open: it was replaced while the server ran. Restart the server (it serves the file at the path then), or stop it`;
}
