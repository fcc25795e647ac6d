// Counts domains by mode for /metrics on a read-only connection of its own: the count is a
// full scan (about a second over 1,000,000 names) that would otherwise stall the event loop
// answering HTTP. WAL: the reader never waits for a writer, nor a writer for it.
import { openLookupDatabase, type Db } from "../store/db.ts";
import { countDomainsByMode } from "../store/queries.ts";

declare const self: Worker;

export type CensusRequest = { kind: "count"; path: string };
export type CensusReply = { kind: "counted"; byMode: { mode: number; n: number }[] } | { kind: "failed"; message: string };

let db: Db | undefined;

self.onmessage = (event: MessageEvent<CensusRequest>) => {
  let reply: CensusReply;
  try {
    db ??= openLookupDatabase(event.data.path);
    reply = { kind: "counted", byMode: countDomainsByMode(db) };
  } catch (e) {
    db?.$client.close();
    db = undefined;
    reply = { kind: "failed", message: (e as Error).message };
  }
  postMessage(reply);
};
