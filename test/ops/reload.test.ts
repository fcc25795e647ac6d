// What a settings reload changes now, what waits for a restart, and that it changes the running
// settings object in place (every part holding it sees the new values) but never a listen address.
import { describe, expect, test } from "bun:test";
import { createClientIp } from "../../src/api/client-ip.ts";
import { loadSettings } from "../../src/config.ts";
import { applyReload, planReload, reloadedLine, restartLine } from "../../src/ops/reload.ts";

const load = (env: Record<string, string>) => loadSettings(["--host", "127.0.0.1", "--http-port", "8080"], env).settings;

describe("settings reload plan", () => {
  test("changed records, templates, limits and log settings are named by their TOML keys and change now", () => {
    const running = load({});
    const next = load({
      REGISTRATION_DNS_TXT: '[["@", "v=new"]]',
      REGISTRATION_DNS_TTL: "300",
      REGISTRATION_EMAIL_CONFIRMATION_SUBJECT: "New {domain}",
      REGISTRATION_LIMITS_SUBSCRIBE_PER_HOUR: "1",
      REGISTRATION_HTTP_ACCESS_LOG: "all",
      REGISTRATION_DNS_RRL_RATE: "5",
    });
    const plan = planReload(running, next);
    expect(plan.changed.sort()).toEqual(
      ["dns.rrl_rate", "dns.ttl", "dns.txt", "email.confirmation_subject", "http.access_log", "limits.subscribe_per_hour"].sort(),
    );
    expect(plan.needRestart).toEqual([]);
    const limits = running.limits;
    applyReload(running, next);
    expect(running.limits).toBe(limits); // the same object, changed in place
    expect(limits.subscribePerHour).toBe(1);
    expect(running.dns.txt).toEqual([["@", "v=new"]]);
    expect(reloadedLine(plan)).toMatch(/^settings reloaded: /);
  });

  test("new ports, addresses, database or expiry settings need a restart and keep their running values", () => {
    const running = load({});
    const next = loadSettings(["--host", "127.0.0.1,::1", "--http-port", "9090"], {
      REGISTRATION_DNS_PORT: "5353",
      REGISTRATION_DATABASE_PATH: "/elsewhere.sqlite",
      REGISTRATION_EXPIRY_INACTIVE_DAYS: "9",
      REGISTRATION_DNS_TTL: "300",
    }).settings;
    const plan = planReload(running, next);
    expect(plan.needRestart.sort()).toEqual(["database.path", "dns.port", "expiry.inactive_days", "http.host", "http.port"]);
    // http.public_url's default follows http.port: it changes now, the port at the restart
    expect(plan.changed).toEqual(["http.public_url", "dns.ttl"]);
    applyReload(running, next);
    expect(running.http.host).toEqual(["127.0.0.1"]);
    expect(running.http.port).toBe(8080);
    expect(running.dns.port).toBe(5300);
    expect(running.database.path).not.toBe("/elsewhere.sqlite");
    expect(running.dns.ttl).toBe(300);
    expect(restartLine(plan)).toMatch(/database\.path, dns\.port, .*http\.port changed but need a restart/);
  });

  test("dns.dnssec and dns.dnssec_algorithm need a restart (the key reaches the DNS thread at its start)", () => {
    const running = load({});
    const next = load({ REGISTRATION_DNS_DNSSEC: "true", REGISTRATION_DNS_DNSSEC_ALGORITHM: "ed25519", REGISTRATION_DNS_TTL: "300" });
    const plan = planReload(running, next);
    expect(plan.needRestart.sort()).toEqual(["dns.dnssec", "dns.dnssec_algorithm"]);
    expect(plan.changed).toEqual(["dns.ttl"]);
    applyReload(running, next);
    expect([running.dns.dnssec, running.dns.dnssecAlgorithm, running.dns.ttl]).toEqual([false, "ecdsap256sha256", 300]);
  });

  test("a new domain needs a restart and changes nothing, its records included", () => {
    const running = load({});
    const next = load({ REGISTRATION_DOMAIN: "other.test", REGISTRATION_DNS_TXT: '[["@", "v=new"]]' });
    const plan = planReload(running, next);
    expect(plan).toEqual({ changed: [], needRestart: ["domain"] });
    applyReload(running, next);
    expect(running.domain).toBe("example.test");
    expect(running.dns.txt).toEqual([]);
  });

  test("the same settings: nothing changed, and the secret's value is never in a line", () => {
    const running = load({ RESEND_API_KEY: "re_secret_one", REGISTRATION_EMAIL_FROM: "a@example.test" });
    expect(reloadedLine(planReload(running, load({ RESEND_API_KEY: "re_secret_one", REGISTRATION_EMAIL_FROM: "a@example.test" })))).toBe(
      "settings reloaded: nothing changed",
    );
    const line = reloadedLine(planReload(running, load({ RESEND_API_KEY: "re_secret_two", REGISTRATION_EMAIL_FROM: "a@example.test" })));
    expect(line).toBe("settings reloaded: email.resend_api_key");
  });
});

describe("parts that read the settings on each use", () => {
  test("http.trusted_proxies applied by a reload decides whose X-Forwarded-For is believed from the next request", () => {
    const settings = loadSettings([], { REGISTRATION_HTTP_TRUSTED_PROXIES: "[]" }).settings;
    const clientIp = createClientIp({ settings, peerAddress: () => "10.0.0.1" });
    const request = new Request("http://api/ping", { headers: { "x-forwarded-for": "198.51.100.7" } });
    expect(clientIp(request, null)).toBe("10.0.0.1");
    applyReload(settings, loadSettings([], { REGISTRATION_HTTP_TRUSTED_PROXIES: '["10.0.0.0/8"]' }).settings);
    expect(clientIp(request, null)).toBe("198.51.100.7");
  });
});
