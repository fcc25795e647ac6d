// Frees names whose gateway stopped pinging: at start-up, then every interval. Deletes in
// small batches through the sweeper (a worker thread), so DNS and HTTP keep answering. Then
// warns the owners of names due to be freed in expiry.warn_days, a bounded number per sweep.
import type { Log } from "./log.ts";
import type { QuietName } from "./store/domains.ts";
import type { Sweeper } from "./store/sweeper.ts";

/** Small batches: the sweep holds the write lock for one batch at a time. */
const BATCH = 200;
/** Rows read per batch at most: reading a row costs far less than deleting one. */
const SCAN = 2000;
/** Names a sweep's log line lists at most; past it, "and N more". */
export const LISTED_NAMES = 20;
/** Warnings a sweep sends at most: the rest go at the next sweep, well within the warning window. */
export const WARNINGS_PER_SWEEP = 100;

const DAY = 86_400;

/** What became of one warning: sent; deferred (the owner's email quota); gone (pinged or kept meanwhile); failed (retried at the next sweep). */
export type WarnResult = "sent" | "deferred" | "gone" | "failed";

export interface Expiry {
  /** stops the timer, waits for a running sweep to end its batch, closes the sweeper */
  stop(): Promise<void>;
}

export interface ExpiryOptions {
  sweeper: Sweeper;
  inactiveDays: number;
  intervalSeconds: number;
  /** tests only: the interval in milliseconds instead (a sweep every second is still slow for a test) */
  intervalMs?: number;
  /** expiry.max_fraction: a sweep that would free more of all names than this frees none */
  maxFraction: number;
  log: Log;
  now: () => number;
  /** why writes are refused (the database file went away), or null: no sweep while it is not */
  writesRefused?: () => string | null;
  /** told of each sweep that ran (for /metrics): names removed, seconds taken */
  onSweep?: (removed: number, seconds: number) => void;
  /** expiry.warn_days: owners are warned this long before their name is freed; 0 = never */
  warnDays?: number;
  /** sends one warning (Gateways.warnQuiet); without it, none are sent */
  warn?: (name: QuietName, now: number) => Promise<WarnResult>;
}

export function startExpiry(options: ExpiryOptions): Expiry {
  const { sweeper, log } = options;
  let current: Promise<number> | null = null;
  let stopped = false;
  /** where the next sweep's warnings start: a page cut short by the bound goes on from here, so no owner waits behind another's deferred ones */
  let warnAfter = 0;

  /** Warns the owners of up to WARNINGS_PER_SWEEP names due to be freed within expiry.warn_days. */
  async function warnQuiet(): Promise<void> {
    const { warn, warnDays = 0, inactiveDays } = options;
    if (!warn || warnDays === 0) return;
    const now = options.now();
    const names = await sweeper.quietNames({
      warnBefore: now - (inactiveDays - warnDays) * DAY,
      freeBefore: now - inactiveDays * DAY,
      after: warnAfter,
      limit: WARNINGS_PER_SWEEP,
    });
    warnAfter = names.length < WARNINGS_PER_SWEEP ? 0 : names[names.length - 1].id;
    if (names.length === 0) return;
    const counts: Record<WarnResult, number> = { sent: 0, deferred: 0, gone: 0, failed: 0 };
    const listed: string[] = [];
    for (const name of names) {
      if (stopped) break;
      const result = await warn(name, options.now());
      counts[result]++;
      if (result === "sent" && listed.length < LISTED_NAMES) listed.push(name.name);
    }
    const more = counts.sent > listed.length ? ` and ${counts.sent - listed.length} more` : "";
    log(
      `expiry: warned the owners of ${counts.sent} name(s) due to be freed within ${warnDays} days${listed.length > 0 ? `: ${listed.join(" ")}${more}` : ""}` +
        (counts.deferred > 0 ? `; ${counts.deferred} deferred by the per-recipient email limits` : "") +
        (counts.failed > 0 ? `; ${counts.failed} failed, retried at the next sweep` : ""),
    );
  }

  async function sweep(): Promise<number> {
    const refused = options.writesRefused?.();
    if (refused) {
      log(`expiry: no sweep: ${refused}`);
      return 0;
    }
    const cutoff = options.now() - options.inactiveDays * 86_400;
    const startedAt = performance.now();
    const census = await sweeper.countStale(cutoff);
    // A clock jumped forward, or a mass outage: nothing is freed until the operator says so.
    if (census.stale > options.maxFraction * census.total) {
      log(
        `expiry: ${census.stale} of ${census.total} domain(s) not seen for ${options.inactiveDays} days, more than expiry.max_fraction = ${options.maxFraction} of them: freed none. ` +
          "Check the system clock; if these gateways are really gone, restart once with expiry.max_fraction = 1 (--expiry-max-fraction 1) to free them",
      );
      options.onSweep?.(0, (performance.now() - startedAt) / 1000);
      return 0;
    }
    let removed = 0;
    const listed: string[] = [];
    // One pass in id order over the range that holds stale rows; rows added meanwhile come after it and are fresh.
    const last = census.last ?? 0;
    for (let after: number | null = census.first === null ? null : census.first - 1; after !== null && after < last && !stopped; ) {
      const batch = await sweeper.deleteBatch({ cutoff, after, limit: BATCH, scan: SCAN });
      removed += batch.removed;
      for (const name of batch.names) if (listed.length < LISTED_NAMES) listed.push(name);
      after = batch.next;
    }
    const seconds = (performance.now() - startedAt) / 1000;
    const freed = listed.length === 0 ? "" : `: ${listed.join(" ")}${removed > listed.length ? ` and ${removed - listed.length} more` : ""}`;
    log(`expiry: removed ${removed} domain(s) not seen for ${options.inactiveDays} days in ${seconds.toFixed(2)}s${freed}`);
    options.onSweep?.(removed, seconds);
    // Not while freeing is held back above: those names are not about to be freed.
    if (!stopped) await warnQuiet();
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

  const timer = setInterval(run, options.intervalMs ?? options.intervalSeconds * 1000);
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
