// The expiry sweep's deletes, on a connection of their own in a worker thread: a batch's
// commit, and the WAL checkpoint it may trigger with its fsync, then wait here instead of
// stalling the event loop that answers DNS and HTTP.
import { AnswerVersions } from "../dns/answer-cache.ts";
import { openDatabase } from "./db.ts";
import { createSweepQueries, type QuietName, type QuietQuery, type StaleBatch, type StaleCensus } from "./queries.ts";

declare const self: Worker;

/** versions: the DNS answer cache's counters, bumped here for each name a batch removed, right after its commit */
export type SweepRequest =
  | { kind: "open"; path: string; versions?: SharedArrayBuffer }
  | { kind: "count"; cutoff: number }
  | { kind: "batch"; batch: StaleBatch }
  | { kind: "quiet"; query: QuietQuery }
  | { kind: "close" };
export type SweepReply =
  | { kind: "opened" }
  | { kind: "counted"; census: StaleCensus }
  | { kind: "removed"; names: string[]; next: number | null }
  | { kind: "quiet"; names: QuietName[] }
  | { kind: "closed" }
  | { kind: "failed"; message: string };

let db: ReturnType<typeof openDatabase> | undefined;
let queries: ReturnType<typeof createSweepQueries> | undefined;
let versions: AnswerVersions | undefined;

self.onmessage = (event: MessageEvent<SweepRequest>) => {
  const request = event.data;
  let reply: SweepReply;
  try {
    if (request.kind === "open") {
      db = openDatabase(request.path, { check: false });
      queries = createSweepQueries(db);
      versions = request.versions && new AnswerVersions(request.versions);
      reply = { kind: "opened" };
    } else if (request.kind === "close") {
      db?.$client.close();
      reply = { kind: "closed" };
    } else if (request.kind === "count") {
      reply = { kind: "counted", census: queries!.countStale(request.cutoff) };
    } else if (request.kind === "quiet") {
      reply = { kind: "quiet", names: queries!.quietNames(request.query) };
    } else {
      const removed = queries!.deleteStaleNames(request.batch);
      for (const name of removed.names) versions?.invalidate(name);
      reply = { kind: "removed", ...removed };
    }
  } catch (e) {
    reply = { kind: "failed", message: (e as Error).message };
  }
  postMessage(reply);
};
