// The quota counters: per address (IPv6 per /64, and per /48 at 10x), bounded memory, windows that reset.
import { describe, expect, test } from "bun:test";
import { ClientBudget, RateLimiter, rateLimitKey } from "../../src/api/rate-limit.ts";

describe("rate limiter", () => {
  test("an address gets `limit` calls per window, then the seconds to wait", () => {
    const limiter = new RateLimiter(3, 3600);
    expect([1, 2, 3].map(() => limiter.take("192.0.2.1", 1000))).toEqual([0, 0, 0]);
    expect(limiter.take("192.0.2.1", 1000)).toBe(3600);
    expect(limiter.take("192.0.2.1", 1000 + 3599)).toBe(1);
    expect(limiter.take("192.0.2.2", 1000)).toBe(0);
    expect(limiter.take("192.0.2.1", 1000 + 3600)).toBe(0);
  });

  test("IPv6 addresses of one /64 share a window, another /64 does not", () => {
    expect(rateLimitKey("2001:db8:1:2::5")).toBe("2001:db8:1:2::/64");
    expect(rateLimitKey("2001:0db8:0001:0002:ffff:0:0:9")).toBe("2001:db8:1:2::/64");
    expect(rateLimitKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(rateLimitKey("192.0.2.7")).toBe("192.0.2.7");
    const limiter = new ClientBudget(2, 3600, 10);
    expect(limiter.take("2001:db8:1:2::5", 0)).toBe(0);
    expect(limiter.take("2001:db8:1:2:aaaa::6", 0)).toBe(0);
    expect(limiter.take("2001:db8:1:2:bbbb::7", 0)).toBeGreaterThan(0);
    expect(limiter.take("2001:db8:1:3::5", 0)).toBe(0);
  });

  test("a limit read from a function follows it (a settings reload), counts kept", () => {
    let limit = 5;
    const limiter = new RateLimiter(() => limit, 3600);
    expect([1, 2].map(() => limiter.take("192.0.2.1", 0))).toEqual([0, 0]);
    limit = 2;
    expect(limiter.take("192.0.2.1", 0)).toBe(3600);
    limit = 3;
    expect(limiter.take("192.0.2.1", 0)).toBe(0);
    limit = 0;
    expect(limiter.take("192.0.2.1", 0)).toBe(0);
    let factor = 1;
    const budget = new ClientBudget(
      () => 1,
      3600,
      () => factor,
    );
    expect(budget.take("2001:db8:1:1::1", 0)).toBe(0);
    expect(budget.take("2001:db8:1:2::1", 0)).toBeGreaterThan(0); // the /48 has 1 x 1
    factor = 10;
    expect(budget.take("2001:db8:1:2::1", 0)).toBe(0);
  });

  test("a limit of 0 is no limit", () => {
    const limiter = new RateLimiter(0, 3600);
    for (let i = 0; i < 1000; i++) expect(limiter.take("192.0.2.1", 0)).toBe(0);
    expect(limiter.size).toBe(0);
  });

  test("past 100,000 clients the oldest windows are forgotten, recent ones still count", () => {
    const limiter = new RateLimiter(1, 3600);
    expect(limiter.take("10.0.0.0", 0)).toBe(0);
    for (let i = 1; i <= 100_000; i++) limiter.take(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 1);
    // 10.0.0.0 was the oldest and was forgotten: it starts a new window
    expect(limiter.take("10.0.0.0", 2)).toBe(0);
    // the newest client is still limited
    expect(limiter.take("10.1.134.160", 2)).toBeGreaterThan(0);
  });
});
