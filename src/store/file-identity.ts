// A file told apart from another put at its path later (a copy renamed over it): its device and
// inode, of the file a symlink leads to, as SQLite opens it.
import { statSync } from "node:fs";

export interface FileIdentity {
  dev: number;
  ino: number;
}

/** The identity of the file at `path` now; undefined when there is none (other errors throw). */
export function fileIdentity(path: string): FileIdentity | undefined {
  const stat = statSync(path, { throwIfNoEntry: false });
  return stat && { dev: stat.dev, ino: stat.ino };
}

export function isSameFile(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}
