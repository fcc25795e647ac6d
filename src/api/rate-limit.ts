// Fixed-window counters behind the limits.* quotas: per client (an IPv4 address, or an IPv6
// /64 with a wider budget per /48, since one host can use a whole /64 and one site a /48),
// per email recipient, per name. Memory is bounded: old windows are forgotten.
import { isIP } from "node:net";
import { ipv6Prefix } from "../addresses.ts";

/** Keys remembered at most per counter; beyond that the oldest windows are forgotten. */
const MAX_KEYS = 100_000;

/** The key a client is counted under: the address itself (IPv4) or its /64 (IPv6). */
export function rateLimitKey(address: string): string {
  return isIP(address) === 6 ? ipv6Prefix(address, 64) : address;
}

/** A budget: a number, or where to read it each time, so a settings reload changes it in place. */
export type Limit = number | (() => number);

export class RateLimiter {
  /** insertion order = window start order, so the oldest window is always first */
  private windows = new Map<string, { start: number; count: number }>();
  private readonly limitOf: () => number;

  /** `limit` 0 = no limit. */
  constructor(
    limit: Limit,
    private readonly windowSeconds: number,
    private readonly maxKeys = MAX_KEYS,
  ) {
    this.limitOf = typeof limit === "number" ? () => limit : limit;
  }

  private get limit(): number {
    return this.limitOf();
  }

  /** Seconds to wait when `key` has used its budget, or 0 when one more may go on. Counts nothing. */
  wait(key: string, nowSeconds: number): number {
    if (this.limit === 0) return 0;
    const w = this.windows.get(key);
    if (!w || nowSeconds - w.start >= this.windowSeconds || w.count < this.limit) return 0;
    return Math.max(1, Math.ceil(w.start + this.windowSeconds - nowSeconds));
  }

  /** Counts one use by `key`. */
  hit(key: string, nowSeconds: number): void {
    if (this.limit === 0) return;
    const w = this.windows.get(key);
    if (w && nowSeconds - w.start < this.windowSeconds) {
      w.count++;
      return;
    }
    this.windows.delete(key);
    this.windows.set(key, { start: nowSeconds, count: 1 });
    this.forgetOld(nowSeconds);
  }

  /** wait(), and when it is 0, hit(). */
  take(key: string, nowSeconds: number): number {
    const wait = this.wait(key, nowSeconds);
    if (wait === 0) this.hit(key, nowSeconds);
    return wait;
  }

  /** Windows remembered now (for tests of the memory bound). */
  get size(): number {
    return this.windows.size;
  }

  private forgetOld(nowSeconds: number) {
    for (const [key, w] of this.windows) {
      if (nowSeconds - w.start < this.windowSeconds && this.windows.size <= this.maxKeys) break;
      this.windows.delete(key);
    }
  }
}

/**
 * Seconds to wait before every counter in `checks` has room, or 0, in which case one use is
 * counted in each. A refused request counts nowhere, so it cannot push out another budget.
 */
export function takeAll(checks: [RateLimiter, string][], nowSeconds: number): number {
  let wait = 0;
  for (const [limiter, key] of checks) wait = Math.max(wait, limiter.wait(key, nowSeconds));
  if (wait === 0) for (const [limiter, key] of checks) limiter.hit(key, nowSeconds);
  return wait;
}

/** A per-client budget: `limit` per IPv4 address or IPv6 /64, and `limit * wideFactor` per IPv6 /48. */
export class ClientBudget {
  private readonly perClient: RateLimiter;
  private readonly perSite: RateLimiter;

  constructor(limit: Limit, windowSeconds: number, wideFactor: Limit, maxKeys = MAX_KEYS) {
    const read = (value: Limit) => (typeof value === "number" ? value : value());
    this.perClient = new RateLimiter(limit, windowSeconds, maxKeys);
    this.perSite = new RateLimiter(() => read(limit) * read(wideFactor), windowSeconds, maxKeys);
  }

  /** Seconds to wait when `address` (or its /48) is over budget, or 0 and the request is counted. */
  take(address: string, nowSeconds: number): number {
    if (isIP(address) !== 6) return this.perClient.take(address, nowSeconds);
    return takeAll(
      [
        [this.perClient, ipv6Prefix(address, 64)],
        [this.perSite, ipv6Prefix(address, 48)],
      ],
      nowSeconds,
    );
  }
}
