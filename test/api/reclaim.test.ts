// /reclaim and subscribing with a reclamation token: getting a name back through its verified email.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { get } from "../support/server.ts";
import { startApp, type TestApp } from "../support/app.ts";
import { startResendStandIn, resendEnv, type ResendStandIn } from "../support/resend.ts";
import {
  DOMAIN,
  domainRow,
  emailSince,
  expectError,
  freshName,
  info,
  reclamationToken,
  subscribe,
  UUID_V4,
  verificationLink,
  verifyOwner,
} from "../support/helpers.ts";

let server: TestApp;
let standIn: ResendStandIn;

beforeAll(async () => {
  standIn = startResendStandIn();
  server = startApp({ from: "127.0.0.1", env: resendEnv(standIn) });
});
afterAll(async () => {
  await server?.close();
  standIn?.stop();
});

/** A name whose owner verified `<name>@owner.example.org`. */
async function ownedName() {
  const { name, token } = await subscribe(server);
  const email = `${name}@owner.example.org`;
  await verifyOwner(server, standIn, token, email);
  return { name, token, email };
}

/** /reclaim and the token from the email it sends. */
async function reclaim(name: string, email: string): Promise<string> {
  const since = standIn.emails.length;
  const res = await get(server, `/reclaim?name=${name}`);
  expect(res.status, res.text).toBe(200);
  const mail = await emailSince(standIn, since, email);
  expect(mail.to).toEqual([email]);
  const token = reclamationToken(mail);
  expect(token).toMatch(UUID_V4);
  return token;
}

describe("reclamation flow", () => {
  test("reclaim emails a token; subscribing with it issues a new token, the old one stops working, and the reclamation token is spent", async () => {
    const { name, token: oldToken, email } = await ownedName();
    const reclamation = await reclaim(name, email);
    expect(reclamation).not.toBe(oldToken);
    // the gateway's token still works until the name is actually reclaimed
    expect((await info(server, oldToken)).status).toBe(200);

    const res = await get(server, `/subscribe?name=${name}&reclamationToken=${reclamation}&desc=Reclaimed`);
    expect(res.status, res.text).toBe(200);
    expect(res.json.name).toBe(name);
    expect(res.json.token).toMatch(UUID_V4);
    expect(res.json.token).not.toBe(oldToken);
    expect(res.json.token).not.toBe(reclamation);

    expectError(await info(server, oldToken), 404, "UnknownToken");
    const now = await info(server, res.json.token);
    expect(now.status).toBe(200);
    expect(now.json.name).toBe(`${name}.example.test.`);
    expect(now.json.description).toBe("Reclaimed");

    // single use: a second subscribe, or an unsubscribe, with the same reclamation token fails
    expectError(await get(server, `/subscribe?name=${name}&reclamationToken=${reclamation}`), 400, "ReclamationTokenMismatch");
    expectError(await get(server, `/unsubscribe?reclamationToken=${reclamation}`), 404, "UnknownReclamationToken");
    expect((await info(server, res.json.token)).status).toBe(200);
  });

  test("the reclamation email goes to the verified owner's address, never to the caller", async () => {
    const { name, email } = await ownedName();
    const since = standIn.emails.length;
    expect((await get(server, `/reclaim?name=${name}&email=attacker%40example.org`)).status).toBe(200);
    await emailSince(standIn, since, email);
    expect(standIn.emails.slice(since).every((m) => m.to.length === 1 && m.to[0] === email)).toBe(true);
  });

  test("reclaim accepts the name in any case and with spaces around it", async () => {
    const { name, email } = await ownedName();
    const since = standIn.emails.length;
    expect((await get(server, `/reclaim?name=${encodeURIComponent(` ${name.toUpperCase()} `)}`)).status).toBe(200);
    await emailSince(standIn, since, email);
  });

  test("a second /reclaim while the token is live re-sends the same token with the same expiry; the first keeps working", async () => {
    const { name, email } = await ownedName();
    const first = await reclaim(name, email);
    const stored = domainRow(server.dbPath, name)!;
    const second = await reclaim(name, email);
    expect(second).toBe(first);
    expect(domainRow(server.dbPath, name)!.reclamation_expires).toBe(stored.reclamation_expires);
    expect((await get(server, `/subscribe?name=${name}&reclamationToken=${first}`)).status).toBe(200);
  });

  test("once the live token has expired, /reclaim issues a new one", async () => {
    const { name, email } = await ownedName();
    const first = await reclaim(name, email);
    server.clock = domainRow(server.dbPath, name)!.reclamation_expires + 1;
    const second = await reclaim(name, email);
    expect(second).not.toBe(first);
    expect(domainRow(server.dbPath, name)!.reclamation_expires).toBe(server.clock + 86400);
  });

  test("the reclamation token lives 24 hours: stored expiry is now + 24 h", async () => {
    const { name, email } = await ownedName();
    await reclaim(name, email);
    const row = domainRow(server.dbPath, name)!;
    expect(row.reclamation_expires).toBe(server.clock + 86400);
  });

  test("an expired reclamation token is 400 ReclamationTokenMismatch on subscribe and 404 on unsubscribe; the owner keeps the name", async () => {
    const { name, token, email } = await ownedName();
    const reclamation = await reclaim(name, email);
    server.clock = domainRow(server.dbPath, name)!.reclamation_expires + 1;
    expectError(await get(server, `/subscribe?name=${name}&reclamationToken=${reclamation}`), 400, "ReclamationTokenMismatch");
    expectError(await get(server, `/unsubscribe?reclamationToken=${reclamation}`), 404, "UnknownReclamationToken");
    expect((await info(server, token)).status).toBe(200);
  });

  test("a wrong reclamation token for a taken name is 400 ReclamationTokenMismatch", async () => {
    const { name, token, email } = await ownedName();
    await reclaim(name, email);
    expectError(await get(server, `/subscribe?name=${name}&reclamationToken=6f1d2c3b-4a5e-4f60-8b71-92a3b4c5d6e7`), 400, "ReclamationTokenMismatch");
    expect((await info(server, token)).status).toBe(200);
  });

  test("a verification link asked for with the old token does not verify after the name is reclaimed (the old holder cannot take it back)", async () => {
    const { name, token: oldToken, email } = await ownedName();
    // Whoever held the old token (a stolen token, a sold device) asks for their own address...
    const attacker = `${name}@attacker.example.org`;
    const since = standIn.emails.length;
    expect((await get(server, `/setemail?token=${oldToken}&email=${encodeURIComponent(attacker)}`)).status).toBe(200);
    const { s } = verificationLink(await emailSince(standIn, since, attacker), `http://api.${DOMAIN}:${server.httpPort}`);
    // ...the owner gets the name back with a reclamation token...
    const reclamation = await reclaim(name, email);
    const res = await get(server, `/subscribe?name=${name}&reclamationToken=${reclamation}`);
    expect(res.status, res.text).toBe(200);
    // ...and the old holder's link no longer makes their address the owner's.
    const followed = await get(server, `/verifyemail?s=${s}`);
    expect(followed.status).toBe(404);
    const now = await info(server, res.json.token);
    expect(now.json.email).toBe(email);
    expect(now.json.verified).toBe(true);
    expectError(await get(server, `/subscribe?name=${name}&email=${encodeURIComponent(attacker)}`), 400, "UnavailableName");
  });

  test("a reclamation token only reclaims its own name", async () => {
    const a = await ownedName();
    const b = await ownedName();
    const tokenForA = await reclaim(a.name, a.email);
    expectError(await get(server, `/subscribe?name=${b.name}&reclamationToken=${tokenForA}`), 400, "ReclamationTokenMismatch");
    expect((await info(server, b.token)).status).toBe(200);
    // still good for its own name
    expect((await get(server, `/subscribe?name=${a.name}&reclamationToken=${tokenForA}`)).status).toBe(200);
  });

  test("unsubscribe with a live reclamation token removes the domain", async () => {
    const { name, token, email } = await ownedName();
    const reclamation = await reclaim(name, email);
    const res = await get(server, `/unsubscribe?reclamationToken=${reclamation}`);
    expect(res.status, res.text).toBe(200);
    expect(domainRow(server.dbPath, name)).toBeNull();
    expectError(await info(server, token), 404, "UnknownToken");
    expect((await get(server, `/subscribe?name=${name}`)).status).toBe(200);
  });
});

describe("/reclaim failures", () => {
  test("no name or an empty one is 400 MissingParameter", async () => {
    expectError(await get(server, "/reclaim"), 400, "MissingParameter");
    expectError(await get(server, "/reclaim?name="), 400, "MissingParameter");
  });

  test("an unregistered name is 400 NoSuchName", async () => {
    expectError(await get(server, `/reclaim?name=${freshName()}`), 400, "NoSuchName");
  });

  test("a name whose owner never verified an address is 400 NoEmail and nothing is sent", async () => {
    const { name } = await subscribe(server);
    const since = standIn.emails.length;
    expectError(await get(server, `/reclaim?name=${name}`), 400, "NoEmail");
    expect(standIn.emails.length).toBe(since);
    expect(domainRow(server.dbPath, name)?.reclamation_token).toBe("");
  });

  test("a name with only a pending (unverified) address is 400 NoEmail and nothing goes to that address", async () => {
    const { name, token } = await subscribe(server);
    const pending = `${name}@pending.example.org`;
    expect((await get(server, `/setemail?token=${token}&email=${encodeURIComponent(pending)}`)).status).toBe(200);
    const since = standIn.emails.length;
    expectError(await get(server, `/reclaim?name=${name}`), 400, "NoEmail");
    expect(standIn.emails.length).toBe(since);
  });

  test("the provider failing is 501 InternalError and leaves the row (no reclamation token) as it was", async () => {
    const { name, email } = await ownedName();
    const before = domainRow(server.dbPath, name);
    standIn.failWith = 500;
    try {
      expectError(await get(server, `/reclaim?name=${name}`), 501, "InternalError");
    } finally {
      standIn.failWith = null;
    }
    expect(domainRow(server.dbPath, name)).toEqual(before);
    expect(before?.reclamation_token).toBe("");
    // and it works once the provider is back
    await reclaim(name, email);
  });
});

describe("rate limit on email-sending endpoints", () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = startApp({ from: "127.0.0.1", limits: true, env: resendEnv(standIn) }); // the default limits.* quotas
  });
  afterAll(async () => {
    await limited?.close();
  });

  test("a client that keeps asking for emails gets 429 TooManyRequests with Retry-After at the 61st call of the hour", async () => {
    const { name } = await subscribe(limited); // NoEmail: nothing is sent, but the calls count
    for (let i = 0; i < 60; i++) expect((await get(limited, `/reclaim?name=${name}`)).status).toBe(400);
    const refused = await get(limited, `/reclaim?name=${name}`);
    expectError(refused, 429, "TooManyRequests");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(Number(refused.headers.get("retry-after"))).toBeLessThanOrEqual(3600);
    // /setemail shares the budget; other endpoints keep answering
    expectError(await get(limited, `/setemail?token=x&email=a@example.org`), 429, "TooManyRequests");
    expect((await get(limited, "/connectivity-check")).status).toBe(200);
  });
});
