// Values that would misbehave at run time are refused at start-up, naming the key.
import { describe, expect, test } from "bun:test";
import { loadSettings, SettingsError } from "../../src/config.ts";

function refusal(env: Record<string, string>, argv: string[] = []): string {
  try {
    loadSettings(argv, env);
  } catch (e) {
    expect(e).toBeInstanceOf(SettingsError);
    return (e as Error).message;
  }
  throw new Error("accepted");
}

describe("setting bounds", () => {
  test("expiry.interval_seconds above what a timer can hold (about 24.8 days) is refused", () => {
    expect(refusal({ REGISTRATION_EXPIRY_INTERVAL_SECONDS: "2592000" })).toMatch(/expiry\.interval_seconds must be at most 2147483/);
    expect(loadSettings([], { REGISTRATION_EXPIRY_INTERVAL_SECONDS: "2147483" }).settings.expiry.intervalSeconds).toBe(2147483);
  });

  test("TTLs above 2^31-1 are refused (RFC 2181 section 8)", () => {
    expect(refusal({ REGISTRATION_DNS_TTL: "5000000000" })).toMatch(/dns\.ttl must be at most 2147483647/);
    expect(refusal({ REGISTRATION_DNS_GATEWAY_TTL: "2147483648" })).toMatch(/dns\.gateway_ttl/);
  });

  test("inactive_days and the email send timeout have lower bounds", () => {
    expect(refusal({ REGISTRATION_EXPIRY_INACTIVE_DAYS: "0" })).toMatch(/expiry\.inactive_days must be at least 1/);
    expect(refusal({ REGISTRATION_EMAIL_SEND_TIMEOUT_SECONDS: "0" })).toMatch(/email\.send_timeout_seconds/);
  });

  test("expiry.max_fraction is a number above 0 and at most 1, from the environment or --expiry-max-fraction", () => {
    for (const bad of ["0", "1.5", "-0.1", "most", "NaN"])
      expect(refusal({ REGISTRATION_EXPIRY_MAX_FRACTION: bad })).toMatch(/expiry\.max_fraction must be a number above 0 and at most 1/);
    expect(loadSettings([], {}).settings.expiry.maxFraction).toBe(0.25);
    expect(loadSettings(["--expiry-max-fraction", "1"], {}).settings.expiry.maxFraction).toBe(1);
    expect(loadSettings([], { REGISTRATION_EXPIRY_MAX_FRACTION: "0.5" }).settings.expiry.maxFraction).toBe(0.5);
  });

  test("a CNAME loop in dns.cname is refused", () => {
    expect(refusal({ REGISTRATION_DNS_CNAME: '[["loop.example.test.", "loop.example.test."]]' })).toMatch(/dns\.cname entries loop/);
    expect(refusal({ REGISTRATION_DNS_CNAME: '[["a.example.test.", "b.example.test."], ["b.example.test.", "a.example.test."]]' })).toMatch(/loop/);
    const ok = loadSettings([], { REGISTRATION_DNS_CNAME: '[["a.example.test.", "b.example.test."], ["b.example.test.", "example.org."]]' });
    expect(ok.settings.dns.cname).toHaveLength(2);
  });
});
