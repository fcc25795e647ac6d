// Starts DNS in a worker thread (worker.ts) for a database file, or in this thread for
// :memory: (another connection could not see that database; a shared-cache URI would make
// reads wait on writes, which is what the thread is for).
import { workerErrorLine } from "../log.ts";
import type { DnsSettings } from "../config.ts";
import { AnswerCache, type AnswerVersions } from "./answer-cache.ts";
import { DnsCounters } from "./counters.ts";
import { startDnsServer, type DnsServer } from "./server.ts";
import type { DnsWorkerReply, DnsWorkerRequest, PlainDnsOptions } from "./worker.ts";
import type { ZoneSnapshot } from "./transfer.ts";
import type { ZoneLookups } from "./zone.ts";

export interface DnsThreadOptions extends PlainDnsOptions {
  dbPath: string;
  /** the counters the writing thread bumps before it acknowledges a write */
  versions: AnswerVersions;
  /** what the answering thread counts for /metrics (shared, like `versions`) */
  counters?: DnsCounters;
  /** this thread's lookups and transfer snapshots: used only for :memory: */
  lookups: ZoneLookups;
  openSnapshot?: () => ZoneSnapshot;
  log: (line: string) => void;
}

/** How long the thread may take to close its sockets before it is terminated (shutdown has 5 s in all). */
const CLOSE_WAIT_MS = 3000;
/** A thread that ended unexpectedly is replaced after this long. */
const RESTART_DELAY_MS = 1000;

/**
 * Resolves once DNS is bound on UDP and TCP; rejects with the bind error's message.
 * `workerUrl` is worker.ts resolved by serve.ts (part of main.ts's entry): main.ts and worker.ts are entry points of `bun build --compile`.
 */
export async function startDnsThread(options: DnsThreadOptions, workerUrl: URL): Promise<DnsServer> {
  const { dbPath, versions, counters = new DnsCounters(), lookups, openSnapshot, log, ...plain } = options;
  if (dbPath === ":memory:")
    return startDnsServer({
      ...plain,
      lookups: { serial: () => versions.serial(), ...lookups },
      cache: new AnswerCache(undefined, versions),
      counters,
      openSnapshot,
      log,
    });

  let closing = false;
  let current: Running | null = null;
  /** reloads sent to the thread and not yet acknowledged, oldest first */
  const reloadsSent: (() => void)[] = [];

  interface Running {
    worker: Worker;
    closed: Promise<void>;
    port: number;
  }

  const launch = () =>
    new Promise<Running>((resolve, reject) => {
      const worker = new Worker(workerUrl.href);
      let ready = false;
      let onClosed = () => {};
      const closed = new Promise<void>((r) => (onClosed = r));
      worker.onmessage = (event: MessageEvent<DnsWorkerReply>) => {
        const message = event.data;
        if (message.kind === "log") log(message.line);
        else if (message.kind === "ready") {
          ready = true;
          resolve({ worker, closed, port: message.port });
        } else if (message.kind === "failed") {
          worker.terminate();
          reject(new Error(message.message));
        } else if (message.kind === "reloaded") reloadsSent.shift()?.();
        else if (message.kind === "closed") onClosed();
      };
      worker.addEventListener("error", (event) => log(`dns: DNS thread error: ${workerErrorLine((event as ErrorEvent).message)}`));
      worker.addEventListener("close", () => {
        onClosed();
        if (!ready) reject(new Error("the DNS thread ended before it was bound"));
        else if (!closing) {
          log(`dns: the DNS thread ended unexpectedly; starting a new one in ${RESTART_DELAY_MS / 1000}s`);
          setTimeout(relaunch, RESTART_DELAY_MS);
        }
      });
      const request: DnsWorkerRequest = { kind: "start", options: plain, dbPath, versions: versions.buffer, counters: counters.buffer };
      worker.postMessage(request);
    });

  const relaunch = () => {
    if (closing) return;
    launch().then(
      (running) => {
        current = running;
        if (closing) void stop(running);
        else log("dns: a new DNS thread is answering");
      },
      (e) => {
        log(`dns: cannot start a new DNS thread: ${(e as Error).message}; trying again in ${RESTART_DELAY_MS / 1000}s`);
        setTimeout(relaunch, RESTART_DELAY_MS);
      },
    );
  };

  const stop = async ({ worker, closed }: Running) => {
    const request: DnsWorkerRequest = { kind: "close" };
    worker.postMessage(request);
    let timer: Timer | undefined;
    await Promise.race([closed, new Promise((r) => (timer = setTimeout(r, CLOSE_WAIT_MS)))]);
    clearTimeout(timer);
    worker.terminate();
  };

  current = await launch();
  // A replacement thread binds the port the first one got, also when 0 was asked.
  plain.port = current.port;
  return {
    port: current.port,
    /** Resolves once the thread answers from `zone` (or after CLOSE_WAIT_MS, when it does not say so). */
    async reload(zone: DnsSettings) {
      plain.zone = zone; // a replacement thread starts from it too
      if (!current) return;
      let timer: Timer | undefined;
      await new Promise<void>((resolve) => {
        reloadsSent.push(resolve);
        timer = setTimeout(resolve, CLOSE_WAIT_MS);
        const request: DnsWorkerRequest = { kind: "reload", zone };
        current!.worker.postMessage(request);
      });
      clearTimeout(timer);
    },
    async close() {
      closing = true;
      if (current) await stop(current);
    },
  };
}
