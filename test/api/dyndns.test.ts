// dyndns2 (/nic/update, /v3/update) as ddclient, inadyn and routers' DDNS pages speak it:
// in-process over a real SQLite file, with the clock and the client address set by the test.
import { afterEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { startApp, uniqueName, type TestApp } from "../support/app.ts";

let app: TestApp;
afterEach(async () => {
  await app?.close();
});

const ZONE = "example.test";
const basic = (user: string, password: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` });

async function subscribed(a: TestApp, mode = "1"): Promise<{ label: string; fqdn: string; token: string }> {
  const label = uniqueName("dyn");
  const r = await a.get(`/subscribe?name=${label}&mode=${mode}`);
  expect(r.status).toBe(200);
  return { label, fqdn: `${label}.${ZONE}`, token: r.json.token };
}

async function update(a: TestApp, query: string, options: { headers?: Record<string, string>; from?: string; path?: string } = {}) {
  const res = await a.handle(`${options.path ?? "/nic/update"}?${query}`, { headers: options.headers, from: options.from });
  return { status: res.status, type: res.headers.get("content-type"), headers: res.headers, text: await res.text() };
}

const info = async (a: TestApp, token: string) => (await a.get(`/info?token=${token}`)).json;

describe("dyndns2 /nic/update", () => {
  test("Basic auth with the label as user and the token as password sets the address given in myip: good <ip>", async () => {
    app = startApp();
    const gw = await subscribed(app);
    const r = await update(app, `hostname=${gw.fqdn}&myip=203.0.113.7`, { headers: basic(gw.label, gw.token) });
    expect(r).toMatchObject({ status: 200, text: "good 203.0.113.7\n" });
    expect(r.type).toStartWith("text/plain");
    expect(await info(app, gw.token)).toMatchObject({ last_ip: "203.0.113.7", last_ipv4: "203.0.113.7", last_ipv6: "" });
  });

  test("the full name (any case, trailing dot) is accepted as user, and /v3/update answers the same", async () => {
    app = startApp();
    const gw = await subscribed(app);
    const r = await update(app, `hostname=${gw.fqdn.toUpperCase()}.&myip=198.51.100.1`, {
      headers: basic(`${gw.fqdn.toUpperCase()}.`, gw.token),
      path: "/v3/update",
    });
    expect(r).toMatchObject({ status: 200, text: "good 198.51.100.1\n" });
  });

  test("username and password query parameters work for routers that cannot send the header, and the password is masked in the log", async () => {
    app = startApp();
    const gw = await subscribed(app);
    const r = await update(app, `username=${gw.label}&password=${gw.token}&hostname=${gw.fqdn}&myip=192.0.2.8`);
    expect(r).toMatchObject({ status: 200, text: "good 192.0.2.8\n" });
    await update(app, `hostname=${gw.fqdn}&myip=192.0.2.9`, { headers: basic(gw.label, gw.token) });
    const log = app.lines.filter((l) => l.includes("/nic/update"));
    expect(log).toHaveLength(2);
    for (const line of log) expect(line).not.toContain(gw.token.slice(4));
    expect(log[0]).toContain(`password=${gw.token.slice(0, 4)}...`);
  });

  test("myip with IPv6, with one of each, or absent (the client's address) sets the families given and keeps the other", async () => {
    app = startApp();
    const gw = await subscribed(app);
    const auth = { headers: basic(gw.label, gw.token) };
    expect((await update(app, `hostname=${gw.fqdn}&myip=2001:DB8::7`, auth)).text).toBe("good 2001:db8::7\n");
    expect(await info(app, gw.token)).toMatchObject({ last_ip: "2001:db8::7", last_ipv4: "", last_ipv6: "2001:db8::7" });
    expect((await update(app, `hostname=${gw.fqdn}&myip=203.0.113.1,2001:db8::8`, auth)).text).toBe("good 203.0.113.1,2001:db8::8\n");
    expect(await info(app, gw.token)).toMatchObject({ last_ip: "203.0.113.1", last_ipv4: "203.0.113.1", last_ipv6: "2001:db8::8" });
    // absent, empty, or only a placeholder a router left unfilled: the client's address, its family only
    expect((await update(app, `hostname=${gw.fqdn}`, { ...auth, from: "198.51.100.20" })).text).toBe("good 198.51.100.20\n");
    expect((await update(app, `hostname=${gw.fqdn}&myip=`, { ...auth, from: "::ffff:198.51.100.21" })).text).toBe("good 198.51.100.21\n");
    expect((await update(app, `hostname=${gw.fqdn}&myip=%3Cipaddr%3E,`, { ...auth, from: "2001:db8::9" })).text).toBe("good 2001:db8::9\n");
    expect(await info(app, gw.token)).toMatchObject({ last_ipv4: "198.51.100.21", last_ipv6: "2001:db8::9" });
    // hostname absent: the user's own name (a minute on: six updates are past the default quota)
    app.clock += 60;
    expect((await update(app, "myip=198.51.100.22", auth)).text).toBe("good 198.51.100.22\n");
  });

  test("an IPv6 address with a zone index (fe80::1%eth0, or ::1 with kilobytes after the %) is no address: not stored, not echoed", async () => {
    app = startApp();
    const gw = await subscribed(app);
    const auth = { headers: basic(gw.label, gw.token) };
    expect((await update(app, `hostname=${gw.fqdn}&myip=203.0.113.1,2001:db8::8`, auth)).text).toBe("good 203.0.113.1,2001:db8::8\n");
    expect((await update(app, `hostname=${gw.fqdn}&myip=203.0.113.2,fe80::1%25eth0`, auth)).text).toBe("good 203.0.113.2\n");
    expect((await update(app, `hostname=${gw.fqdn}&myipv6=::1%25${"x".repeat(4000)}`, { ...auth, from: "198.51.100.3" })).text).toBe("good 198.51.100.3\n");
    expect(await info(app, gw.token)).toMatchObject({ last_ip: "198.51.100.3", last_ipv4: "198.51.100.3", last_ipv6: "2001:db8::8" });
  });

  test("the same address again answers nochg and still keeps the name alive", async () => {
    app = startApp();
    const gw = await subscribed(app);
    const auth = { headers: basic(gw.label, gw.token) };
    expect((await update(app, `hostname=${gw.fqdn}&myip=203.0.113.7`, auth)).text).toBe("good 203.0.113.7\n");
    app.clock += 3600;
    expect(await update(app, `hostname=${gw.fqdn}&myip=203.0.113.7`, auth)).toMatchObject({ status: 200, text: "nochg 203.0.113.7\n" });
    expect((await info(app, gw.token)).timestamp).toBe(app.clock);
  });

  test("several hostnames are answered one line each, in order: good, nohost, notfqdn, nochg", async () => {
    app = startApp();
    const gw = await subscribed(app);
    const other = await subscribed(app);
    const hosts = [gw.fqdn, other.fqdn, "bare", "elsewhere.example.org", gw.fqdn].join(",");
    const r = await update(app, `hostname=${hosts}&myip=192.0.2.50`, { headers: basic(gw.label, gw.token) });
    expect(r).toMatchObject({ status: 200, text: "good 192.0.2.50\nnohost\nnotfqdn\nnohost\nnochg 192.0.2.50\n" });
    // the other name, not this token's, is untouched
    expect(await info(app, other.token)).toMatchObject({ last_ip: "", last_ipv4: "" });
    const many = Array.from({ length: 21 }, () => gw.fqdn).join(",");
    expect((await update(app, `hostname=${many}&myip=192.0.2.51`, { headers: basic(gw.label, gw.token) })).text).toBe("numhost\n");
  });

  test("a wrong token, an unknown user or no credentials answer badauth and change nothing", async () => {
    app = startApp();
    const gw = await subscribed(app);
    await update(app, `hostname=${gw.fqdn}&myip=203.0.113.7`, { headers: basic(gw.label, gw.token) });
    const before = await info(app, gw.token);
    app.clock += 600;
    const wrong = "00000000-0000-4000-8000-000000000000";
    for (const attempt of [
      { headers: basic(gw.label, wrong) },
      { headers: basic(gw.label, "") },
      { headers: basic("nobody", gw.token) },
      { headers: basic(`${gw.label}.example.org`, gw.token) },
    ])
      expect(await update(app, `hostname=${gw.fqdn}&myip=198.51.100.66`, attempt)).toMatchObject({ status: 200, text: "badauth\n" });
    expect(await update(app, `username=${gw.label}&password=${wrong}&hostname=${gw.fqdn}&myip=198.51.100.66`)).toMatchObject({
      status: 200,
      text: "badauth\n",
    });
    const none = await update(app, `hostname=${gw.fqdn}&myip=198.51.100.66`);
    expect(none).toMatchObject({ status: 401, text: "badauth\n" });
    expect(none.headers.get("www-authenticate")).toStartWith("Basic ");
    expect(await info(app, gw.token)).toEqual(before);
  });

  test("past limits.updates_per_name_per_minute a name answers abuse and is not written, other names are not affected", async () => {
    app = startApp({ limits: { updatesPerNamePerMinute: 3 } });
    const gw = await subscribed(app);
    const other = await subscribed(app);
    const auth = { headers: basic(gw.label, gw.token) };
    for (let i = 1; i <= 3; i++) expect((await update(app, `hostname=${gw.fqdn}&myip=192.0.2.${i}`, auth)).text).toBe(`good 192.0.2.${i}\n`);
    expect(await update(app, `hostname=${gw.fqdn}&myip=192.0.2.99`, auth)).toMatchObject({ status: 200, text: "abuse\n" });
    expect((await info(app, gw.token)).last_ipv4).toBe("192.0.2.3");
    expect((await update(app, `hostname=${other.fqdn}&myip=192.0.2.4`, { headers: basic(other.label, other.token) })).text).toBe("good 192.0.2.4\n");
    app.clock += 60;
    expect((await update(app, `hostname=${gw.fqdn}&myip=192.0.2.99`, auth)).text).toBe("good 192.0.2.99\n");
  });

  test("a database that stays locked answers 911 with 503 and Retry-After, no stack trace, and nothing is written", async () => {
    app = startApp({ lockWaitMs: 100 }); // gives up after 0.1 s instead of the store's 2 s
    const gw = await subscribed(app);
    const holder = new Database(app.dbPath);
    holder.run("BEGIN IMMEDIATE");
    try {
      const r = await update(app, `hostname=${gw.fqdn}&myip=203.0.113.70`, { headers: basic(gw.label, gw.token) });
      expect(r).toMatchObject({ status: 503, text: "911\n" });
      expect(r.headers.get("retry-after")).toBe("300");
    } finally {
      holder.run("ROLLBACK");
      holder.close();
    }
    expect((await info(app, gw.token)).last_ipv4).toBe("");
    expect(app.lines.some((l) => /answering 911/.test(l) && !l.includes(gw.token.slice(4)))).toBe(true);
  });

  test("answers are plain text even for a wrong method or a repeated parameter", async () => {
    app = startApp();
    const gw = await subscribed(app);
    const head = await app.handle(`/nic/update?hostname=${gw.fqdn}`, { method: "POST", headers: basic(gw.label, gw.token) });
    expect([head.status, await head.text()]).toEqual([405, "badagent\n"]);
    const repeated = await update(app, `hostname=${gw.fqdn}&myip=192.0.2.1&myip=192.0.2.2`, { headers: basic(gw.label, gw.token) });
    expect(repeated).toMatchObject({ status: 400, text: "badagent\n" });
    expect((await info(app, gw.token)).last_ipv4).toBe("");
  });

  test("a tunnel-mode name is kept alive and its addresses stored, as /ping does", async () => {
    app = startApp();
    const gw = await subscribed(app, "0");
    app.clock += 60;
    expect((await update(app, `hostname=${gw.fqdn}&myip=192.0.2.77`, { headers: basic(gw.label, gw.token) })).text).toBe("good 192.0.2.77\n");
    expect(await info(app, gw.token)).toMatchObject({ mode: 0, timestamp: app.clock, last_ipv4: "192.0.2.77" });
  });
});

describe("/ping and the two address families", () => {
  test("/ping sets last_ip and the family it comes from, keeping the other", async () => {
    app = startApp();
    const gw = await subscribed(app);
    expect((await app.get(`/ping?token=${gw.token}`, { from: "192.0.2.30" })).status).toBe(200);
    expect((await app.get(`/ping?token=${gw.token}`, { from: "2001:db8::30" })).status).toBe(200);
    expect(await info(app, gw.token)).toMatchObject({ last_ip: "2001:db8::30", last_ipv4: "192.0.2.30", last_ipv6: "2001:db8::30" });
    expect((await app.get(`/ping?token=${gw.token}`, { from: "::ffff:192.0.2.31" })).status).toBe(200);
    expect(await info(app, gw.token)).toMatchObject({ last_ip: "192.0.2.31", last_ipv4: "192.0.2.31", last_ipv6: "2001:db8::30" });
  });
});
