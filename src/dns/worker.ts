// DNS in a thread of its own (docs/operations.md, "The database file"): its sockets keep answering while the main thread waits
// for a SQLite lock or works through an HTTP burst, and a UDP flood costs HTTP no event-loop
// time. Gateway rows are read on a read-only connection of this thread (WAL: a reader never
// waits for a writer); the answer cache's counters are shared with the thread that writes.
import type { DnsSettings } from "../config.ts";
import { openLookupDatabase, type Db } from "../store/db.ts";
import { createGatewayLookup } from "../store/queries.ts";
import { openZoneSnapshot } from "../store/zone-reader.ts";
import { AnswerCache, AnswerVersions } from "./answer-cache.ts";
import { DnsCounters } from "./counters.ts";
import { startDnsServer, type DnsServer, type DnsServerOptions } from "./server.ts";

declare const self: Worker;

/** What startDnsServer takes that is plain data (functions cannot cross to a thread). */
export type PlainDnsOptions = Omit<DnsServerOptions, "lookups" | "watchGateways" | "cache" | "counters" | "log" | "openSnapshot">;

export type DnsWorkerRequest =
  | { kind: "start"; options: PlainDnsOptions; dbPath: string; versions: SharedArrayBuffer; counters: SharedArrayBuffer }
  | { kind: "reload"; zone: DnsSettings }
  | { kind: "close" };
export type DnsWorkerReply =
  | { kind: "ready"; port: number }
  | { kind: "failed"; message: string }
  | { kind: "log"; line: string }
  | { kind: "reloaded" }
  | { kind: "closed" };

const reply = (message: DnsWorkerReply) => postMessage(message);
let db: Db | undefined;
let dns: DnsServer | undefined;

async function start(request: Extract<DnsWorkerRequest, { kind: "start" }>): Promise<void> {
  try {
    db = openLookupDatabase(request.dbPath);
    const gateway = createGatewayLookup(db);
    const versions = new AnswerVersions(request.versions);
    dns = await startDnsServer({
      ...request.options,
      // the SOA serial the main thread's publisher stored (store/zone-journal.ts)
      lookups: { gateway, serial: () => versions.serial() },
      cache: new AnswerCache(undefined, versions),
      // each transfer reads on a connection and in a read transaction of its own
      openSnapshot: () => openZoneSnapshot({ path: request.dbPath }),
      counters: new DnsCounters(request.counters),
      log: (line) => reply({ kind: "log", line }),
    });
    reply({ kind: "ready", port: dns.port });
  } catch (e) {
    db?.$client.close();
    db = undefined;
    reply({ kind: "failed", message: (e as Error).message });
  }
}

async function close(): Promise<void> {
  try {
    await dns?.close();
  } catch (e) {
    reply({ kind: "log", line: `dns: closing the sockets: ${(e as Error).message}` });
  }
  dns = undefined;
  db?.$client.close();
  db = undefined;
  reply({ kind: "closed" });
}

function reload(zone: DnsSettings): void {
  try {
    dns?.reload(zone);
  } catch (e) {
    reply({ kind: "log", line: `dns: cannot answer from the reloaded settings, keeping the old zone: ${(e as Error).message}` });
  }
  reply({ kind: "reloaded" });
}

self.onmessage = (event: MessageEvent<DnsWorkerRequest>) => {
  const request = event.data;
  if (request.kind === "start") void start(request);
  else if (request.kind === "reload") reload(request.zone);
  else void close();
};
