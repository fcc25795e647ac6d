// `backup FILE`'s copy on a thread of its own: VACUUM INTO and the copy's integrity check take
// as long as the database is big, and the command's thread meanwhile stays free to hear Ctrl-C
// and remove the unfinished copy (ops/backup.ts).
import { Database } from "bun:sqlite";
import { syncPath } from "./sync-path.ts";

declare const self: Worker;

export type CopyRequest = { source: string; copy: string };
/** failed: SQLite could not copy; damaged: the copy fails its check (the message says how) */
export type CopyReply = { kind: "copied"; domains: number } | { kind: "failed" | "damaged"; message: string };

class Damaged extends Error {}

self.onmessage = (event: MessageEvent<CopyRequest>) => {
  let reply: CopyReply;
  try {
    reply = { kind: "copied", domains: copyDatabase(event.data.source, event.data.copy) };
  } catch (e) {
    reply = { kind: e instanceof Damaged ? "damaged" : "failed", message: String((e as Error).message ?? e) };
  }
  postMessage(reply);
};

/** Copies `source` to `copy` (a new file), checks it and syncs it; the copy's domain count. */
function copyDatabase(source: string, copy: string): number {
  // Not a readonly open: that leaves -wal and -shm behind, owned by whoever ran the backup,
  // which a server running as another user then cannot open. The last connection removes them.
  const db = new Database(source, { readwrite: true, create: false });
  try {
    db.run("PRAGMA busy_timeout = 5000");
    db.query("VACUUM INTO ?").run(copy);
  } finally {
    db.close();
  }
  const domains = checkCopy(copy);
  // VACUUM INTO does not sync what it wrote: the copy reaches the disk before its name does.
  syncPath(copy);
  return domains;
}

/** The copy opens, passes PRAGMA integrity_check, and holds a domains table; its row count. */
function checkCopy(path: string): number {
  const copy = new Database(path, { readonly: true });
  try {
    const rows = copy.query("PRAGMA integrity_check").values() as [string][];
    if (rows.length !== 1 || rows[0][0] !== "ok") throw new Damaged(`the copy failed PRAGMA integrity_check: ${rows.map((r) => r[0]).join("; ")}`);
    return (copy.query("SELECT count(*) FROM domains").values() as [number][])[0][0];
  } finally {
    copy.close();
  }
}
