// /info, /ping, /dnsconfig and /unsubscribe: what a gateway does with its token.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { get } from "../support/server.ts";
import { startApp, type TestApp } from "../support/app.ts";
import { domainRow, expectError, freshName, info, subscribe, writeDb } from "../support/helpers.ts";

let server: TestApp;
const UNKNOWN = "6f1d2c3b-4a5e-4f60-8b71-92a3b4c5d6e7";

beforeAll(async () => {
  // directly exposed: no proxy is trusted, loopback included (the default trusts loopback)
  server = startApp({ from: "127.0.0.1", env: { REGISTRATION_HTTP_TRUST_PROXY: "false" } });
});
afterAll(async () => {
  await server?.close();
});

describe("/info", () => {
  test("answers the domain row with exactly the documented fields and types", async () => {
    const { name, token } = await subscribe(server, freshName(), "&desc=Kitchen&mode=1");
    const before = server.clock;
    const res = await info(server, token);
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(Object.keys(res.json).sort()).toEqual(
      [
        "continent",
        "description",
        "dns_challenge",
        "email",
        "last_ip",
        "last_ipv4",
        "last_ipv6",
        "mode",
        "name",
        "optout",
        "timestamp",
        "token",
        "verified",
      ].sort(),
    );
    expect(res.json).toMatchObject({
      name: `${name}.example.test.`,
      token,
      description: "Kitchen",
      dns_challenge: "",
      verified: false,
      email: "",
      mode: 1,
    });
    expect(typeof res.json.optout).toBe("boolean");
    expect(typeof res.json.continent).toBe("string");
    expect(typeof res.json.last_ip).toBe("string");
    expect(Number.isInteger(res.json.timestamp)).toBe(true);
    // subscribing counts as being seen: Unix seconds, not milliseconds
    expect(res.json.timestamp).toBe(before);
  });

  test("never returns the reclamation or verification token", async () => {
    const { name, token } = await subscribe(server);
    const reclamation = "0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d";
    const verification = "1b2c3d4e-5f6a-4b7c-9d8e-9f0a1b2c3d4e";
    writeDb(
      server.dbPath,
      "UPDATE domains SET reclamation_token = ?, reclamation_expires = ?, verification_token = ?, verification_expires = ? WHERE name = ?",
      reclamation,
      server.clock + 3600,
      verification,
      server.clock + 3600,
      `${name}.example.test.`,
    );
    const res = await info(server, token);
    expect(res.status).toBe(200);
    expect(res.text).not.toContain(reclamation);
    expect(res.text).not.toContain(verification);
  });

  test("no token, or an empty one, is 400 MissingParameter", async () => {
    expectError(await get(server, "/info"), 400, "MissingParameter");
    expectError(await get(server, "/info?token="), 400, "MissingParameter");
  });

  test("an unknown token is 404 UnknownToken", async () => {
    expectError(await get(server, `/info?token=${UNKNOWN}`), 404, "UnknownToken");
    expectError(await get(server, "/info?token=not-a-uuid"), 404, "UnknownToken");
  });
});

describe("/ping", () => {
  test("answers 200 and stores the last-seen time and the client IP", async () => {
    const { name, token } = await subscribe(server);
    const subscribedAt = server.clock;
    server.clock += 86_400; // a day later
    expect((await info(server, token)).json.timestamp).toBe(subscribedAt);
    const res = await get(server, `/ping?token=${token}`);
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    const after = (await info(server, token)).json;
    expect(after.timestamp).toBe(server.clock);
    expect(after.last_ip).toBe("127.0.0.1");
    expect(domainRow(server.dbPath, name)?.last_ip).toBe("127.0.0.1");
  });

  test("with trust_proxy = false (no trusted proxies), X-Real-IP and X-Forwarded-For from loopback are ignored", async () => {
    const { token } = await subscribe(server);
    await get(server, `/ping?token=${token}`, { headers: { "X-Real-IP": "203.0.113.7", "X-Forwarded-For": "198.51.100.1, 203.0.113.9" } });
    expect((await info(server, token)).json.last_ip).toBe("127.0.0.1");
  });

  test("no token or an empty one is 400 MissingParameter", async () => {
    expectError(await get(server, "/ping"), 400, "MissingParameter");
    expectError(await get(server, "/ping?token="), 400, "MissingParameter");
  });

  test("an unknown token is 404 UnknownToken", async () => {
    expectError(await get(server, `/ping?token=${UNKNOWN}`), 404, "UnknownToken");
  });
});

describe("/ping behind a trusted proxy", () => {
  let proxied: TestApp;
  beforeAll(async () => {
    proxied = startApp({ from: "127.0.0.1", env: { REGISTRATION_HTTP_TRUST_PROXY: "true" } });
  });
  afterAll(async () => {
    await proxied?.close();
  });

  test("with trust_proxy, X-Real-IP is the client IP", async () => {
    const { token } = await subscribe(proxied);
    expect((await get(proxied, `/ping?token=${token}`, { headers: { "X-Real-IP": "203.0.113.7" } })).status).toBe(200);
    expect((await info(proxied, token)).json.last_ip).toBe("203.0.113.7");
  });

  test("with trust_proxy, the last X-Forwarded-For hop is the client IP", async () => {
    const { token } = await subscribe(proxied);
    expect((await get(proxied, `/ping?token=${token}`, { headers: { "X-Forwarded-For": "198.51.100.1, 203.0.113.9" } })).status).toBe(200);
    expect((await info(proxied, token)).json.last_ip).toBe("203.0.113.9");
  });

  test("with trust_proxy, a loopback hop in X-Forwarded-For is a trusted proxy and skipped", async () => {
    const { token } = await subscribe(proxied);
    expect((await get(proxied, `/ping?token=${token}`, { headers: { "X-Forwarded-For": "198.51.100.1, 203.0.113.9, 127.0.0.1" } })).status).toBe(200);
    expect((await info(proxied, token)).json.last_ip).toBe("203.0.113.9");
  });

  test("with trust_proxy, X-Real-IP is ignored when X-Forwarded-For is there (the proxy's own hop wins)", async () => {
    const { token } = await subscribe(proxied);
    const headers = { "X-Forwarded-For": "203.0.113.9", "X-Real-IP": "192.0.2.99" };
    expect((await get(proxied, `/ping?token=${token}`, { headers })).status).toBe(200);
    expect((await info(proxied, token)).json.last_ip).toBe("203.0.113.9");
  });

  test("with trust_proxy, an IPv6 client address is stored as given", async () => {
    const { token } = await subscribe(proxied);
    expect((await get(proxied, `/ping?token=${token}`, { headers: { "X-Real-IP": "2001:db8::42" } })).status).toBe(200);
    expect((await info(proxied, token)).json.last_ip).toBe("2001:db8::42");
  });
});

describe("/dnsconfig", () => {
  test("answers 200 and /info shows the challenge", async () => {
    const { token } = await subscribe(server);
    const challenge = "gfj9Xq...Rg85nM-_abc";
    const res = await get(server, `/dnsconfig?token=${token}&challenge=${encodeURIComponent(challenge)}`);
    expect(res.status, res.text).toBe(200);
    expect((await info(server, token)).json.dns_challenge).toBe(challenge);
    // a second challenge replaces the first
    expect((await get(server, `/dnsconfig?token=${token}&challenge=second-one`)).status).toBe(200);
    expect((await info(server, token)).json.dns_challenge).toBe("second-one");
  });

  test("a challenge of exactly 255 printable bytes (spaces included) is accepted", async () => {
    const { token } = await subscribe(server);
    const challenge = `a b~!${"x".repeat(255)}`.slice(0, 255);
    expect((await get(server, `/dnsconfig?token=${token}&challenge=${encodeURIComponent(challenge)}`)).status).toBe(200);
    expect((await info(server, token)).json.dns_challenge).toBe(challenge);
  });

  test("a challenge longer than 255 bytes is 400 InvalidParameter and nothing is stored", async () => {
    const { token } = await subscribe(server);
    expectError(await get(server, `/dnsconfig?token=${token}&challenge=${"x".repeat(256)}`), 400, "InvalidParameter");
    expect((await info(server, token)).json.dns_challenge).toBe("");
  });

  test("a challenge that is not printable ASCII is 400 InvalidParameter", async () => {
    const { token } = await subscribe(server);
    for (const bad of ["tab\there", "nl\nx", "del\x7f", "nul\x00x", "é", "✓"]) {
      expectError(await get(server, `/dnsconfig?token=${token}&challenge=${encodeURIComponent(bad)}`), 400, "InvalidParameter");
    }
    // 200 characters of 'é' is 400 bytes: counted in bytes, refused either way
    expectError(await get(server, `/dnsconfig?token=${token}&challenge=${encodeURIComponent("é".repeat(200))}`), 400, "InvalidParameter");
    expect((await info(server, token)).json.dns_challenge).toBe("");
  });

  test("a missing or empty token or challenge is 400 MissingParameter", async () => {
    const { token } = await subscribe(server);
    expectError(await get(server, `/dnsconfig?token=${token}`), 400, "MissingParameter");
    expectError(await get(server, `/dnsconfig?token=${token}&challenge=`), 400, "MissingParameter");
    expectError(await get(server, "/dnsconfig?challenge=abc"), 400, "MissingParameter");
    expectError(await get(server, "/dnsconfig?token=&challenge=abc"), 400, "MissingParameter");
  });

  test("an unknown token is 404 UnknownToken", async () => {
    expectError(await get(server, `/dnsconfig?token=${UNKNOWN}&challenge=abc`), 404, "UnknownToken");
  });
});

describe("/unsubscribe", () => {
  test("with the token: 200, the domain is gone and the name can be subscribed again", async () => {
    const { name, token } = await subscribe(server);
    const res = await get(server, `/unsubscribe?token=${token}`);
    expect(res.status, res.text).toBe(200);
    expect(domainRow(server.dbPath, name)).toBeNull();
    expectError(await info(server, token), 404, "UnknownToken");
    const again = await subscribe(server, name);
    expect(again.token).not.toBe(token);
  });

  test("neither token nor reclamationToken (or both empty) is 400 MissingParameter", async () => {
    expectError(await get(server, "/unsubscribe"), 400, "MissingParameter");
    expectError(await get(server, "/unsubscribe?token="), 400, "MissingParameter");
    expectError(await get(server, "/unsubscribe?reclamationToken="), 400, "MissingParameter");
    expectError(await get(server, "/unsubscribe?token=&reclamationToken="), 400, "MissingParameter");
  });

  test("an unknown token is 400 UnknownToken", async () => {
    expectError(await get(server, `/unsubscribe?token=${UNKNOWN}`), 400, "UnknownToken");
  });

  test("an unknown reclamationToken is 404 UnknownReclamationToken", async () => {
    expectError(await get(server, `/unsubscribe?reclamationToken=${UNKNOWN}`), 404, "UnknownReclamationToken");
  });

  test("unsubscribing twice: the second time the token is unknown", async () => {
    const { token } = await subscribe(server);
    expect((await get(server, `/unsubscribe?token=${token}`)).status).toBe(200);
    expectError(await get(server, `/unsubscribe?token=${token}`), 400, "UnknownToken");
  });
});
