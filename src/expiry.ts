// Frees names whose gateway stopped pinging: at start-up, then every interval. Deletes in
// small batches through the sweeper (a worker thread), so DNS and HTTP keep answering.
import type { Log } from "./log.ts";
import type { Sweeper } from "./store/sweeper.ts";

/** Small batches: the sweep holds the write lock for one batch at a time. */
const BATCH = 200;
/** Rows read per batch at most: reading a row costs far less than deleting one. */
const SCAN = 2000;

export interface Expiry {
  /** stops the timer, waits for a running sweep to end its batch, closes the sweeper */
  stop(): Promise<void>;
}

export function startExpiry(options: { sweeper: Sweeper; inactiveDays: number; intervalSeconds: number; log: Log; now: () => number }): Expiry {
  const { sweeper, log } = options;
  let current: Promise<number> | null = null;
  let stopped = false;

  async function sweep(): Promise<number> {
    const cutoff = options.now() - options.inactiveDays * 86_400;
    const startedAt = performance.now();
    let removed = 0;
    // One pass over the rows in id order; rows added meanwhile come after it and are fresh.
    for (let after: number | null = 0; after !== null && !stopped; ) {
      const batch = await sweeper.deleteBatch({ cutoff, after, limit: BATCH, scan: SCAN });
      removed += batch.removed;
      after = batch.next;
    }
    log(`expiry: removed ${removed} domain(s) not seen for ${options.inactiveDays} days in ${((performance.now() - startedAt) / 1000).toFixed(2)}s`);
    return removed;
  }

  const run = () => {
    if (current || stopped) return;
    current = sweep()
      .catch((e) => {
        log(`expiry: sweep failed: ${(e as Error).message}`);
        return 0;
      })
      .finally(() => {
        current = null;
      });
  };

  const timer = setInterval(run, options.intervalSeconds * 1000);
  setTimeout(run, 0);
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      if (current) await current;
      await sweeper.close();
    },
  };
}
