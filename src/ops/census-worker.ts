// Counts domains by mode for /metrics on a read-only connection of its own: the count is a
// full scan (about a second over 1,000,000 names) that would otherwise stall the event loop
// answering HTTP. WAL: the reader never waits for a writer, nor a writer for it.
import { openLookupDatabase, type Db } from "../store/db.ts";
import { type FileIdentity, fileIdentity, isSameFile } from "../store/file-identity.ts";
import { countDomainsByMode } from "../store/queries.ts";

declare const self: Worker;

/** `file`: the device and inode of the file the server opened at start-up, when it could tell. */
export type CensusRequest = { kind: "count"; path: string; file?: FileIdentity };
export type CensusReply = { kind: "counted"; byMode: { mode: number; n: number }[] } | { kind: "failed"; message: string };

let db: Db | undefined;

self.onmessage = (event: MessageEvent<CensusRequest>) => {
  let reply: CensusReply;
  try {
    db ??= open(event.data);
    reply = { kind: "counted", byMode: countDomainsByMode(db) };
  } catch (e) {
    db?.$client.close();
    db = undefined;
    reply = { kind: "failed", message: (e as Error).message };
  }
  postMessage(reply);
};

/**
 * A connection to the file at the path, if it is still the one the server opened. One put in its
 * place while the server ran shares the -wal and -shm names with the served file, and a
 * connection to it would count the served file's WAL frames as its own pages
 * (ops/serving-marker.ts, servedFileReplaced). A connection opened before that stays on the
 * served file and goes on counting it.
 */
function open({ path, file }: CensusRequest): Db {
  const now = file && fileIdentity(path);
  if (now && !isSameFile(now, file))
    throw new Error(`${path} is not the file the server has open (it was replaced while the server ran): no domain counts until the server is restarted`);
  return openLookupDatabase(path);
}
