// A fixed-window counter per client, for the endpoints that send email: without it anyone
// could make us mail an address in a loop. IPv6 clients are counted per /64, since one
// host can use a whole /64.
import { isIP } from "node:net";

/** Distinct clients remembered at most; beyond that the oldest windows are forgotten. */
const MAX_CLIENTS = 100_000;

export function rateLimitKey(address: string): string {
  if (isIP(address) !== 6) return address;
  const [head, tail = ""] = address.toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = address.includes("::") ? [...left, ...Array(8 - left.length - right.length).fill("0"), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}

export class RateLimiter {
  /** insertion order = window start order, so the oldest window is always first */
  private windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowSeconds: number,
  ) {}

  /** Seconds to wait when `address` is over its limit, or 0 when the request may go on. */
  take(address: string, nowSeconds: number): number {
    const key = rateLimitKey(address);
    const w = this.windows.get(key);
    if (w && nowSeconds - w.start < this.windowSeconds) {
      if (w.count >= this.limit) return Math.max(1, Math.ceil(w.start + this.windowSeconds - nowSeconds));
      w.count++;
      return 0;
    }
    this.windows.delete(key);
    this.windows.set(key, { start: nowSeconds, count: 1 });
    this.forgetOld(nowSeconds);
    return 0;
  }

  private forgetOld(nowSeconds: number) {
    for (const [key, w] of this.windows) {
      if (nowSeconds - w.start < this.windowSeconds && this.windows.size <= MAX_CLIENTS) break;
      this.windows.delete(key);
    }
  }
}
