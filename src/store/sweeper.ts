// Deletes stale domains for the expiry timer: through a worker thread with its own connection
// when the database is a file, in this thread for :memory: (a worker could not see it).
import type { AnswerVersions } from "../dns/answer-cache.ts";
import { workerErrorLine } from "../log.ts";
import type { QuietName, QuietQuery, StaleBatch, StaleCensus, Store } from "./domains.ts";
import type { SweepReply, SweepRequest } from "./sweep-worker.ts";

export interface Sweeper {
  /** Store.countStale, on the sweep's connection. */
  countStale(cutoff: number): Promise<StaleCensus>;
  /** One step of the walk (Store.deleteStaleBatch); resolves to the names that went and where to go on. */
  deleteBatch(batch: StaleBatch): Promise<{ removed: number; names: string[]; next: number | null }>;
  /** Store.quietNames, on the sweep's connection: the names whose owner is due an expiry warning. */
  quietNames(query: QuietQuery): Promise<QuietName[]>;
  close(): Promise<void>;
}

/**
 * `workerUrl` is sweep-worker.ts resolved by serve.ts (part of main.ts's entry): main.ts and the
 * worker are entry points of `bun build --compile`, which keeps their layout inside the binary.
 *
 * The thread opens its connection now, at start-up, beside the server's own, and keeps it. It
 * is never opened again later: by then the path may name another file (a backup put in place
 * under the running server), which shares the served file's -wal and -shm names: a connection
 * to it reads the server's WAL frames as its own pages, and the sweep's deletes would go into
 * that WAL (ops/serving-marker.ts, servedFileReplaced). So a thread that dies is not replaced:
 * each sweep then fails at once with its error, until a restart.
 */
export async function createSweeper(store: Store, path: string, workerUrl: URL, versions?: AnswerVersions): Promise<Sweeper> {
  if (path === ":memory:") {
    return {
      countStale: async (cutoff) => store.countStale(cutoff),
      async deleteBatch(batch) {
        const { names, next } = store.deleteStaleBatch(batch);
        return { removed: names.length, names, next };
      },
      quietNames: async (query) => store.quietNames(query),
      close: async () => {},
    };
  }
  const thread = await startSweepThread(path, workerUrl, versions);
  return {
    async countStale(cutoff) {
      const reply = await thread.ask({ kind: "count", cutoff });
      if (reply.kind !== "counted") throw new Error(`sweep worker answered ${reply.kind} to a count`);
      return reply.census;
    },
    async deleteBatch(batch) {
      const reply = await thread.ask({ kind: "batch", batch });
      if (reply.kind !== "removed") throw new Error(`sweep worker answered ${reply.kind} to a batch`);
      // Committed by the worker's connection, which bumped the DNS answer cache's counters
      // already; /info's rows and this store's listeners forget these names now.
      store.removedElsewhere(reply.names);
      return { removed: reply.names.length, names: reply.names, next: reply.next };
    },
    async quietNames(query) {
      const reply = await thread.ask({ kind: "quiet", query });
      if (reply.kind !== "quiet") throw new Error(`sweep worker answered ${reply.kind} to a quiet-names query`);
      return reply.names;
    },
    close: () => thread.close(),
  };
}

interface SweepThread {
  ask(request: SweepRequest): Promise<SweepReply>;
  close(): Promise<void>;
}

/** How long the thread may take to close its connection at shutdown before it is terminated. */
const CLOSE_WAIT_MS = 2000;

/** The worker with its own connection to `path`, opened. */
async function startSweepThread(path: string, workerUrl: URL, versions?: AnswerVersions): Promise<SweepThread> {
  // smol: a smaller heap for a thread that only runs SQL.
  const worker = new Worker(workerUrl.href, { smol: true });
  let pending: { resolve: (reply: SweepReply) => void; reject: (e: Error) => void } | null = null;
  /** why the thread is gone (an uncaught error, or it ended), once it is: nothing answers it any more */
  let dead: string | null = null;
  const die = (why: string) => {
    dead ??= `${why} (no sweep until the server is restarted)`;
    const waiting = pending;
    pending = null;
    waiting?.reject(new Error(dead));
  };
  worker.onmessage = (event: MessageEvent<SweepReply>) => {
    const waiting = pending;
    pending = null;
    waiting?.resolve(event.data);
  };
  worker.onerror = (event) => die(`sweep worker: ${workerErrorLine(event.message)}`);
  worker.addEventListener("close", () => die("sweep worker: the thread ended"));
  const ask = (request: SweepRequest) =>
    new Promise<SweepReply>((resolve, reject) => {
      if (dead) return reject(new Error(dead));
      pending = { resolve, reject };
      worker.postMessage(request);
    }).then((reply) => {
      if (reply.kind === "failed") throw new Error(reply.message);
      return reply;
    });
  try {
    await ask({ kind: "open", path, versions: versions?.buffer });
  } catch (e) {
    worker.terminate();
    throw e;
  }
  worker.unref();
  return {
    ask,
    async close() {
      if (!dead) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const waited = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, CLOSE_WAIT_MS);
        });
        await Promise.race([ask({ kind: "close" }).catch(() => {}), waited]);
        clearTimeout(timer);
      }
      worker.terminate();
    },
  };
}
