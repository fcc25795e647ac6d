// What the process may hold open. Bun raises the soft RLIMIT_NOFILE to the hard limit at start-up
// (checked for `bun` and a `bun build --compile` binary alike), so this only reads the figure:
// every HTTP and DNS/TCP connection takes one descriptor from it.
import { readFileSync } from "node:fs";

/** The soft limit on open files, or null where /proc is not there to say (not Linux). */
export function openFilesLimit(): number | null {
  try {
    const line = /^Max open files\s+(\S+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    return line ? (line[1] === "unlimited" ? Infinity : Number(line[1])) : null;
  } catch {
    return null;
  }
}
