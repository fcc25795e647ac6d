// A fixed-window counter per client address, for the endpoints that send email:
// without it anyone could make us mail an address in a loop.
export class RateLimiter {
  private windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowSeconds: number,
  ) {}

  /** Seconds to wait when `key` is over its limit, or 0 when the request may go on. */
  take(key: string, nowSeconds: number): number {
    const w = this.windows.get(key);
    if (!w || nowSeconds - w.start >= this.windowSeconds) {
      if (this.windows.size > 100_000) this.prune(nowSeconds);
      this.windows.set(key, { start: nowSeconds, count: 1 });
      return 0;
    }
    if (w.count >= this.limit) return Math.max(1, Math.ceil(w.start + this.windowSeconds - nowSeconds));
    w.count++;
    return 0;
  }

  private prune(nowSeconds: number) {
    for (const [key, w] of this.windows) if (nowSeconds - w.start >= this.windowSeconds) this.windows.delete(key);
  }
}
