// Who the client is, the quotas, the owner's reclamation token and plain email addresses
// (docs/operations.md, "Trusted proxies", "Quotas"; docs/api.md, "Secrets and their lifetimes",
// "Names"), in process: createApp over a real SQLite file, the log mailer, a clock the test
// moves, and the TCP peer of each request named by the test.
import { afterEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { createClientIp } from "../../src/api/client-ip.ts";
import { ClientBudget, RateLimiter } from "../../src/api/rate-limit.ts";
import { loadSettings, SettingsError } from "../../src/config.ts";
import { startApp, uniqueName, type TestApp } from "../support/app.ts";

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/;
const HOUR = 3600;

let app: TestApp;
afterEach(() => app?.close());

function expectTooMany(res: { status: number; json: any; headers: Headers }) {
  expect(res.status).toBe(429);
  expect(res.json).toEqual({ error: "TooManyRequests" });
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
}

/** A name subscribed from its own client, and its token. */
async function subscribed(from = "198.51.100.200") {
  const name = uniqueName();
  const res = await app.get(`/subscribe?name=${name}`, { from });
  expect(res.status, res.text).toBe(200);
  return { name, token: res.json.token as string };
}

/** A name whose owner verified `email` (each step from its own client, so no test budget is spent). */
async function owned(email = `${uniqueName("o")}@owner.example.org`) {
  const { name, token } = await subscribed();
  const before = app.mails().length;
  expect((await app.get(`/setemail?token=${token}&email=${encodeURIComponent(email)}`, { from: "198.51.100.201" })).status).toBe(200);
  const link = /verifyemail\?s=([0-9a-f-]{36})/.exec(app.mails()[before].body)![1];
  expect((await app.get(`/verifyemail?s=${link}`)).status).toBe(200);
  return { name, token, email };
}

function reclamationRow(name: string) {
  const db = new Database(app.dbPath, { readonly: true });
  try {
    return db.query("SELECT reclamation_token AS token, reclamation_expires AS expires FROM domains WHERE name = ?").get(`${name}.example.test.`) as {
      token: string;
      expires: number;
    };
  } finally {
    db.close();
  }
}

describe("the client is the socket peer unless that peer is a trusted proxy", () => {
  test("a direct client forging X-Forwarded-For and X-Real-IP is counted, and stored by /ping, under its socket address", async () => {
    app = startApp({ limits: { subscribePerHour: 3 } });
    const direct = "203.0.113.5";
    const forged = (i: number) => ({ "X-Forwarded-For": `198.51.100.${i}`, "X-Real-IP": `192.0.2.${i}` });
    const statuses: number[] = [];
    let token = "";
    for (let i = 1; i <= 4; i++) {
      const res = await app.get(`/subscribe?name=${uniqueName()}`, { from: direct, headers: forged(i) });
      statuses.push(res.status);
      token ||= res.json?.token;
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect((await app.get(`/ping?token=${token}`, { from: direct, headers: forged(9) })).status).toBe(200);
    expect((await app.get(`/info?token=${token}`)).json.last_ip).toBe(direct);
  });

  test("through a trusted proxy, the right-most X-Forwarded-For hop that is not a trusted proxy is the client", async () => {
    app = startApp({ env: { REGISTRATION_HTTP_TRUSTED_PROXIES: '["127.0.0.1/32", "::1/128", "10.0.0.0/8"]' } });
    const { token } = await subscribed();
    const lastIp = async (headers: Record<string, string>, from = "127.0.0.1") => {
      expect((await app.get(`/ping?token=${token}`, { from, headers })).status).toBe(200);
      return (await app.get(`/info?token=${token}`)).json.last_ip;
    };
    // the client wrote the first hop; our proxies appended the rest
    expect(await lastIp({ "X-Forwarded-For": "192.0.2.66, 203.0.113.9, 10.1.2.3" })).toBe("203.0.113.9");
    expect(await lastIp({ "X-Forwarded-For": "203.0.113.10" }, "::ffff:127.0.0.1")).toBe("203.0.113.10");
    expect(await lastIp({ "X-Forwarded-For": "[2001:db8::7]:4711, 10.0.0.1" })).toBe("2001:db8::7");
    // every hop is a trusted proxy: the left-most
    expect(await lastIp({ "X-Forwarded-For": "10.9.9.9, 10.1.1.1" })).toBe("10.9.9.9");
    // garbage the client wrote stops the walk: the nearest hop a proxy wrote is used
    expect(await lastIp({ "X-Forwarded-For": "not-an-address, 10.2.2.2" })).toBe("10.2.2.2");
    // X-Real-IP only when there is no X-Forwarded-For; from an untrusted peer never
    expect(await lastIp({ "X-Real-IP": "203.0.113.11" })).toBe("203.0.113.11");
    expect(await lastIp({ "X-Real-IP": "203.0.113.12", "X-Forwarded-For": "203.0.113.13" })).toBe("203.0.113.13");
    expect(await lastIp({ "X-Real-IP": "203.0.113.14" }, "192.0.2.1")).toBe("192.0.2.1");
  });

  test("a rotating X-Real-IP behind a proxy that sets X-Forwarded-For cannot escape the email budget", async () => {
    app = startApp({ limits: { emailRequestsPerHour: 5, emailsPerRecipientPerHour: 0, emailsPerRecipientPerDay: 0 } });
    const { token } = await subscribed();
    const statuses: number[] = [];
    for (let i = 1; i <= 8; i++) {
      const headers = { "X-Real-IP": `192.0.2.${i}`, "X-Forwarded-For": "203.0.113.50" };
      statuses.push((await app.get(`/setemail?token=${token}&email=a${i}@example.org`, { from: "127.0.0.1", headers })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    expect(app.mails()).toHaveLength(5);
  });

  test("one recipient gets at most 5 emails an hour and 20 a day, however many clients ask", async () => {
    app = startApp({ limits: { emailRequestsPerHour: 0 } });
    const { token } = await subscribed();
    const victim = "victim@example.org";
    const spellings = [victim, "Victim@Example.org", "victim+1@example.org", "VICTIM+x@EXAMPLE.ORG"];
    const ask = (i: number) =>
      app.get(`/setemail?token=${token}&email=${encodeURIComponent(spellings[i % spellings.length])}`, { from: `203.0.113.${(i % 250) + 1}` });
    const firstHour: number[] = [];
    for (let i = 0; i < 7; i++) firstHour.push((await ask(i)).status);
    expect(firstHour).toEqual([200, 200, 200, 200, 200, 429, 429]);
    const refused = await ask(7);
    expectTooMany(refused);
    expect(Number(refused.headers.get("retry-after"))).toBeLessThanOrEqual(HOUR);
    // over a day: 5 an hour until the day's 20 are used
    let sent = 5;
    for (let hour = 1; hour < 24; hour++) {
      app.clock += HOUR;
      for (let i = 0; i < 5; i++) if ((await ask(i)).status === 200) sent++;
    }
    expect(sent).toBe(20);
    expect(app.mails().filter((m) => m.to.toLowerCase().startsWith("victim"))).toHaveLength(20);
    app.clock += HOUR;
    expect((await ask(0)).status).toBe(200); // the day is over
  });

  test("IPv6 clients rotating /64s inside one /48 run into the /48's 10x budget; another /48 does not", async () => {
    app = startApp({ limits: { subscribePerHour: 2 } });
    const statuses: number[] = [];
    for (let net = 0; net < 12; net++)
      for (let i = 0; i < 2; i++)
        statuses.push((await app.get(`/subscribe?name=${uniqueName()}`, { from: `2001:db8:1:${net.toString(16)}::${i + 1}` })).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.slice(20)).toEqual([429, 429, 429, 429]);
    // one /64 has its own, smaller budget
    expect((await app.get(`/subscribe?name=${uniqueName()}`, { from: "2001:db8:2::1" })).status).toBe(200);
    expect((await app.get(`/subscribe?name=${uniqueName()}`, { from: "2001:db8:2::ffff:1" })).status).toBe(200);
    expectTooMany(await app.get(`/subscribe?name=${uniqueName()}`, { from: "2001:db8:2:0:1::1" }));
  });

  test("settings: trusted_proxies defaults to loopback; trust_proxy true/false maps onto it; a bad entry stops start-up", () => {
    expect(loadSettings([], {}).settings.http.trustedProxies).toEqual(["127.0.0.1/32", "::1/128"]);
    expect(loadSettings([], { REGISTRATION_HTTP_TRUST_PROXY: "true" }).settings.http.trustedProxies).toEqual(["127.0.0.1/32", "::1/128"]);
    expect(loadSettings([], { REGISTRATION_HTTP_TRUST_PROXY: "false" }).settings.http.trustedProxies).toEqual([]);
    expect(loadSettings([], { REGISTRATION_HTTP_TRUSTED_PROXIES: "10.0.0.0/8, 2001:db8::/32" }).settings.http.trustedProxies).toEqual([
      "10.0.0.0/8",
      "2001:db8::/32",
    ]);
    expect(
      loadSettings([], { REGISTRATION_HTTP_TRUST_PROXY: "false", REGISTRATION_HTTP_TRUSTED_PROXIES: '["10.0.0.1"]' }).settings.http.trustedProxies,
    ).toEqual(["10.0.0.1"]);
    for (const bad of ['["10.0.0.0/33"]', '["proxy.example.org"]', '["::1/129"]', '["10.0.0.0/8/8"]'])
      expect(() => loadSettings([], { REGISTRATION_HTTP_TRUSTED_PROXIES: bad })).toThrow(SettingsError);
    expect(() => loadSettings([], { REGISTRATION_LIMITS_SUBSCRIBE_PER_HOUR: "-1" })).toThrow(/limits\.subscribe_per_hour/);
    expect(loadSettings([], {}).settings.limits).toEqual({
      subscribePerHour: 20,
      emailRequestsPerHour: 60,
      emailsPerRecipientPerHour: 5,
      emailsPerRecipientPerDay: 20,
      reclaimEmailsPerNamePerHour: 3,
      updatesPerNamePerMinute: 5,
      ipv6SiteFactor: 10,
    });
  });

  test("with no trusted proxies, loopback's forwarded headers are ignored too", () => {
    const { settings } = loadSettings([], { REGISTRATION_HTTP_TRUSTED_PROXIES: "[]" });
    const clientIp = createClientIp({ settings, peerAddress: () => "127.0.0.1" });
    expect(clientIp(new Request("http://x/", { headers: { "X-Forwarded-For": "203.0.113.1", "X-Real-IP": "203.0.113.2" } }), null)).toBe("127.0.0.1");
  });
});

describe("a stranger's /reclaim cannot void the owner's reclamation token", () => {
  test("a second /reclaim re-sends the same token with the same expiry; after expiry a new one is issued", async () => {
    app = startApp({ limits: true });
    const { name, email } = await owned();
    const reclaimFrom = async (from: string) => {
      const before = app.mails().length;
      const res = await app.get(`/reclaim?name=${name}`, { from });
      expect(res.status, res.text).toBe(200);
      const mail = app.mails()[before];
      expect(mail.to).toBe(email);
      return UUID.exec(mail.body)![0];
    };
    const first = await reclaimFrom("198.51.100.1"); // the owner
    const stored = reclamationRow(name);
    expect(stored.token).toBe(first);
    app.clock += 600;
    const second = await reclaimFrom("203.0.113.66"); // a stranger
    expect(second).toBe(first);
    expect(reclamationRow(name)).toEqual(stored);
    // the owner's token still reclaims the name
    app.clock = stored.expires + 1;
    const third = await reclaimFrom("203.0.113.66");
    expect(third).not.toBe(first);
    expect(reclamationRow(name)).toEqual({ token: third, expires: app.clock + 86_400 });
    const res = await app.get(`/subscribe?name=${name}&reclamationToken=${third}`);
    expect(res.status, res.text).toBe(200);
  });

  test("the owner's token keeps working after strangers' /reclaim calls", async () => {
    app = startApp({ limits: true });
    const { name } = await owned();
    expect((await app.get(`/reclaim?name=${name}`, { from: "198.51.100.1" })).status).toBe(200);
    const token = reclamationRow(name).token;
    for (const from of ["203.0.113.1", "203.0.113.2"]) await app.get(`/reclaim?name=${name}`, { from });
    expect((await app.get(`/subscribe?name=${name}&reclamationToken=${token}`)).status).toBe(200);
  });

  test("a name's owner gets at most 3 reclamation emails an hour, from any number of clients", async () => {
    app = startApp({ limits: true });
    const { name, email } = await owned();
    const statuses: number[] = [];
    for (let i = 1; i <= 5; i++) statuses.push((await app.get(`/reclaim?name=${name}`, { from: `203.0.113.${i}` })).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(app.mails().filter((m) => m.to === email && m.subject.startsWith("Reclaim"))).toHaveLength(3);
    app.clock += HOUR;
    expect((await app.get(`/reclaim?name=${name}`, { from: "203.0.113.9" })).status).toBe(200);
  });
});

describe("Gmail's two domains are one mailbox", () => {
  test("victim@gmail.com and Vic.Tim+x@googlemail.com share one per-recipient budget", async () => {
    app = startApp({ limits: { emailRequestsPerHour: 0 } });
    const { token } = await subscribed();
    const spellings = ["victim@gmail.com", "Vic.Tim+x@googlemail.com"];
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++)
      statuses.push((await app.get(`/setemail?token=${token}&email=${encodeURIComponent(spellings[i % 2])}`, { from: `203.0.113.${i + 1}` })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
  });
});

describe("a stranger cannot use up the owner's reclamation emails", () => {
  test("verification emails a stranger sends to the owner's address leave /reclaim's emails to it alone", async () => {
    app = startApp({ limits: { emailRequestsPerHour: 0 } });
    const { name, email } = await owned(`victim@owner.example.org`); // one verification email to it already
    // The stranger's own name, pointed at the owner's address until its budget is spent, hour after hour.
    const stranger = await subscribed("203.0.113.77");
    let sent = 0;
    for (let i = 0; i < 30; i++) if ((await app.get(`/setemail?token=${stranger.token}&email=${email}`, { from: "203.0.113.77" })).status === 200) sent++;
    expect(sent).toBe(4);
    const before = app.mails().length;
    const res = await app.get(`/reclaim?name=${name}`, { from: "198.51.100.1" });
    expect(res.status, res.text).toBe(200);
    expect(
      app
        .mails()
        .slice(before)
        .map((m) => [m.to, m.subject.startsWith("Reclaim")]),
    ).toEqual([[email, true]]);
  });
});

describe("/subscribe is bounded per client", () => {
  test("the 21st /subscribe in an hour from one address is 429 with Retry-After, failures included; an hour later it works again", async () => {
    app = startApp({ limits: true });
    const from = "203.0.113.77";
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++) statuses.push((await app.get(`/subscribe?name=${uniqueName()}`, { from })).status);
    for (const bad of ["api", "-bad-", "", "xn--a"]) statuses.push((await app.get(`/subscribe?name=${bad}`, { from })).status);
    statuses.push((await app.get(`/subscribe?name=${uniqueName()}`, { from })).status);
    expect(statuses.filter((s) => s === 429)).toHaveLength(0);
    const name = uniqueName();
    const refused = await app.get(`/subscribe?name=${name}`, { from });
    expectTooMany(refused);
    expect(Number(refused.headers.get("retry-after"))).toBeLessThanOrEqual(HOUR);
    expect((await app.get(`/subscribe?name=${name}`, { from: "203.0.113.78" })).status).toBe(200); // other clients are not affected
    app.clock += HOUR;
    expect((await app.get(`/subscribe?name=${uniqueName()}`, { from })).status).toBe(200);
  });

  test("limits.subscribe_per_hour = 0 turns the quota off", async () => {
    app = startApp({ limits: { subscribePerHour: 0 } });
    for (let i = 0; i < 30; i++) expect((await app.get(`/subscribe?name=${uniqueName()}`)).status).toBe(200);
  });
});

describe("guessing an owner's address through UnavailableNameReclamationPossible is bounded", () => {
  test("after 20 guesses in an hour even the right address gets 429, not the hint", async () => {
    app = startApp({ limits: true });
    const { name, email } = await owned();
    const from = "203.0.113.88";
    for (let i = 0; i < 20; i++)
      expect((await app.get(`/subscribe?name=${name}&email=guess${i}%40owner.example.org`, { from })).json.error).toBe("UnavailableName");
    expectTooMany(await app.get(`/subscribe?name=${name}&email=${encodeURIComponent(email)}`, { from }));
  });
});

describe("only plain addresses and valid IDNA names", () => {
  test("quoted local parts, display names, angle brackets, commas, spaces and control characters are 400 InvalidParameter and send nothing", async () => {
    app = startApp({ limits: true });
    const { token } = await subscribed();
    const bad = [
      '"x\\" body=..."@example.org',
      '"a,b <victim@evil.example>"@example.org',
      '"first last"@example.org',
      "Victim <victim@example.org>",
      "<victim@example.org>",
      "a@example.org,victim@evil.example",
      "a b@example.org",
      "a@example.org\r\nBcc: victim@evil.example",
      "a\u0000@example.org",
      "a@[192.0.2.1]",
    ];
    for (const email of bad) {
      const res = await app.get(`/setemail?token=${token}&email=${encodeURIComponent(email)}`);
      expect({ email, status: res.status, body: res.json }).toEqual({ email, status: 400, body: { error: "InvalidParameter" } });
    }
    expect(app.mails()).toHaveLength(0);
    expect(app.lines.some((l) => l.startsWith("mail "))).toBe(false);
    // plain addresses still work, with the characters a dot-atom allows
    expect((await app.get(`/setemail?token=${token}&email=${encodeURIComponent("first.last+tag!#$%&'*/=?^_`{|}~-@sub.example.org")}`)).status).toBe(200);
  });

  test("xn-- labels that are not valid IDNA are UnavailableName; valid ones register", async () => {
    app = startApp({ limits: { subscribePerHour: 0 } });
    const invalid = [
      "xn--abc-", // decodes to plain ASCII "abc"
      "xn--a", // not punycode
      "xn--abc", // not punycode
      "xn--zz",
      "xn--",
      "xn--wca", // decodes to "Ü": not what toASCII(toUnicode) gives back
      "xn--tda3219j", // "ﬁü": mapped by UTS #46, does not round-trip
      "xn--a-ecp", // not punycode
      "xn----eha", // "-ü": leading hyphen
      "xn----dha", // "ü-": trailing hyphen
      "xn--ab---3ra", // "ab--ü": hyphens in positions 3 and 4
      "xn--xn--abc",
    ];
    for (const name of invalid) {
      const res = await app.get(`/subscribe?name=${name}`);
      expect({ name, status: res.status, body: res.json }).toEqual({ name, status: 400, body: { error: "UnavailableName" } });
    }
    for (const name of ["xn--bcher-kva", "xn--fa-hia", "xn--mnchen-3ya", "XN--E1AFMKFD"]) {
      const res = await app.get(`/subscribe?name=${name}`);
      expect({ name, status: res.status }).toEqual({ name, status: 200 });
    }
  });
});

describe("memory", () => {
  test("a counter forgets its oldest windows past its size bound, and a refused request counts nowhere", () => {
    const limiter = new RateLimiter(1, HOUR, 1000);
    for (let i = 0; i < 5000; i++) limiter.take(`k${i}`, 0);
    expect(limiter.size).toBeLessThanOrEqual(1001);
    expect(limiter.take("k4999", 0)).toBeGreaterThan(0);
    const budget = new ClientBudget(1, HOUR, 10);
    expect(budget.take("2001:db8:5:1::1", 0)).toBe(0);
    // refused by the /64: must not spend the /48's budget
    for (let i = 0; i < 50; i++) expect(budget.take("2001:db8:5:1::2", 0)).toBeGreaterThan(0);
    for (let i = 2; i <= 10; i++) expect(budget.take(`2001:db8:5:${i}::1`, 0)).toBe(0);
    expect(budget.take("2001:db8:5:11::1", 0)).toBeGreaterThan(0);
  });
});
