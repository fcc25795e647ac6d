// /setemail, /verifyemail, /revokeemail: tying a verified email address to a name,
// through the Resend SDK pointed at a local stand-in.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { get } from "../support/server.ts";
import { startApp, type TestApp } from "../support/app.ts";
import { startResendStandIn, resendEnv, type ResendStandIn } from "../support/resend.ts";
import { domainRow, emailSince, expectError, info, subscribe, verificationLink } from "../support/helpers.ts";

let server: TestApp;
let standIn: ResendStandIn;
const UNKNOWN = "6f1d2c3b-4a5e-4f60-8b71-92a3b4c5d6e7";
const base = () => `http://api.example.test:${server.httpPort}`;

beforeAll(async () => {
  standIn = startResendStandIn();
  server = startApp({ from: "127.0.0.1", env: resendEnv(standIn) });
});
afterAll(async () => {
  await server?.close();
  standIn?.stop();
});

async function setEmail(token: string, email: string, extra = "") {
  const since = standIn.emails.length;
  const res = await get(server, `/setemail?token=${token}&email=${encodeURIComponent(email)}${extra}`);
  expect(res.status, res.text).toBe(200);
  return await emailSince(standIn, since, email);
}

describe("verification flow", () => {
  test("setemail sends <public_url>/verifyemail?s=<uuid> from the configured sender; following it verifies the address", async () => {
    const { name, token } = await subscribe(server);
    const email = `${name}@example.org`;
    const mail = await setEmail(token, email);
    expect(mail.to).toEqual([email]);
    expect(mail.from).toBe("Registration <noreply@example.test>");
    expect(mail.subject.length).toBeGreaterThan(0);
    const { s } = verificationLink(mail, base());
    // not verified until the link is followed
    expect((await info(server, token)).json).toMatchObject({ verified: false, email: "" });

    const page = await get(server, `/verifyemail?s=${s}`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.text).toMatch(/<html/i);
    expect((await info(server, token)).json).toMatchObject({ verified: true, email, optout: false });
  });

  test("optout=1 is stored with the verified address", async () => {
    const { name, token } = await subscribe(server);
    const email = `${name}@example.org`;
    const { s } = verificationLink(await setEmail(token, email, "&optout=1"), base());
    expect((await get(server, `/verifyemail?s=${s}`)).status).toBe(200);
    expect((await info(server, token)).json).toMatchObject({ verified: true, email, optout: true });
  });

  test("a verification link verifies once: the same link again says already confirmed and changes nothing", async () => {
    const { name, token } = await subscribe(server);
    const { s } = verificationLink(await setEmail(token, `${name}@example.org`), base());
    expect((await get(server, `/verifyemail?s=${s}`)).status).toBe(200);
    const before = domainRow(server.dbPath, name);
    const again = await get(server, `/verifyemail?s=${s}`);
    expect(again.status).toBe(200);
    expect(again.headers.get("content-type")).toContain("text/html");
    expect(again.text).toContain("Already confirmed");
    expect(domainRow(server.dbPath, name)).toEqual(before);
  });

  test("a second setemail replaces the first: only the newest link verifies, with the newest address", async () => {
    const { name, token } = await subscribe(server);
    const first = verificationLink(await setEmail(token, `${name}-1@example.org`), base()).s;
    const second = verificationLink(await setEmail(token, `${name}-2@example.org`), base()).s;
    expect(second).not.toBe(first);
    expect((await get(server, `/verifyemail?s=${first}`)).status).toBe(404);
    expect((await info(server, token)).json.verified).toBe(false);
    expect((await get(server, `/verifyemail?s=${second}`)).status).toBe(200);
    expect((await info(server, token)).json).toMatchObject({ verified: true, email: `${name}-2@example.org` });
  });

  test("a link older than 7 days is a 404 HTML error page and verifies nothing", async () => {
    const { name, token } = await subscribe(server);
    const { s } = verificationLink(await setEmail(token, `${name}@example.org`), base());
    const row = domainRow(server.dbPath, name)!;
    // the link expires 7 days after it was sent
    expect(row.verification_expires).toBe(server.clock + 7 * 86400);
    server.clock = row.verification_expires + 1;
    const res = await get(server, `/verifyemail?s=${s}`);
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect((await info(server, token)).json).toMatchObject({ verified: false, email: "" });
  });

  test("verifyemail without s, or with an empty s, is 400", async () => {
    expect((await get(server, "/verifyemail")).status).toBe(400);
    expect((await get(server, "/verifyemail?s=")).status).toBe(400);
  });

  test("an unknown s is a 404 HTML error page", async () => {
    const res = await get(server, `/verifyemail?s=${UNKNOWN}`);
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect((await get(server, "/verifyemail?s=not-a-uuid")).status).toBe(404);
  });

  test("revokeemail unverifies the domain and clears the address", async () => {
    const { name, token } = await subscribe(server);
    const email = `${name}@example.org`;
    const { s } = verificationLink(await setEmail(token, email), base());
    expect((await get(server, `/verifyemail?s=${s}`)).status).toBe(200);
    expect((await info(server, token)).json.verified).toBe(true);
    const res = await get(server, `/revokeemail?token=${token}`);
    expect(res.status, res.text).toBe(200);
    expect((await info(server, token)).json).toMatchObject({ verified: false, email: "" });
    // a revoked owner can no longer be sent a reclamation token
    expectError(await get(server, `/reclaim?name=${name}`), 400, "NoEmail");
  });

  test("revokeemail cancels a pending verification: the outstanding link is then 404", async () => {
    const { name, token } = await subscribe(server);
    const { s } = verificationLink(await setEmail(token, `${name}@example.org`), base());
    expect((await get(server, `/revokeemail?token=${token}`)).status).toBe(200);
    expect((await get(server, `/verifyemail?s=${s}`)).status).toBe(404);
    expect((await info(server, token)).json).toMatchObject({ verified: false, email: "" });
  });
});

describe("/setemail failures", () => {
  test("missing or empty token or email is 400 MissingParameter", async () => {
    const { token } = await subscribe(server);
    expectError(await get(server, `/setemail?token=${token}`), 400, "MissingParameter");
    expectError(await get(server, `/setemail?token=${token}&email=`), 400, "MissingParameter");
    expectError(await get(server, "/setemail?email=a%40example.org"), 400, "MissingParameter");
    expectError(await get(server, "/setemail?token=&email=a%40example.org"), 400, "MissingParameter");
  });

  test.each([
    ["no @", "plainaddress"],
    ["no local part", "@example.org"],
    ["no domain", "user@"],
    ["two @", "a@b@example.org"],
    ["space", "us er@example.org"],
    ["leading dot", ".user@example.org"],
    ["double dot", "us..er@example.org"],
    ["bad domain label", "user@-example.org"],
    ["angle brackets", "<user@example.org>"],
    ["display name", "User <user@example.org>"],
    ["header injection", "user@example.org\r\nBcc: victim@example.org"],
    ["255 characters", `${"a".repeat(64)}@${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(58)}.org`],
  ])("an invalid email (%s) is 400 InvalidParameter and sends nothing", async (_why, email) => {
    const { token } = await subscribe(server);
    const since = standIn.emails.length;
    expectError(await get(server, `/setemail?token=${token}&email=${encodeURIComponent(email)}`), 400, "InvalidParameter");
    expect(standIn.emails.slice(since).length).toBe(0);
  });

  test("a 254-character address is accepted", async () => {
    const { token } = await subscribe(server);
    const email = `${"a".repeat(64)}@${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(57)}.org`;
    expect(email.length).toBe(254);
    expect((await get(server, `/setemail?token=${token}&email=${encodeURIComponent(email)}`)).status).toBe(200);
  });

  test("an unknown token is 404 UnknownToken and sends nothing", async () => {
    const since = standIn.emails.length;
    expectError(await get(server, `/setemail?token=${UNKNOWN}&email=a%40example.org`), 404, "UnknownToken");
    expect(standIn.emails.slice(since).length).toBe(0);
  });

  test("the provider failing is 501 InternalError and leaves the row exactly as it was", async () => {
    const { name, token } = await subscribe(server);
    const before = domainRow(server.dbPath, name);
    standIn.failWith = 500;
    try {
      expectError(await get(server, `/setemail?token=${token}&email=${name}%40example.org`), 501, "InternalError");
    } finally {
      standIn.failWith = null;
    }
    expect(domainRow(server.dbPath, name)).toEqual(before);
  });

  test("the provider failing after a verified address keeps that address verified", async () => {
    const { name, token } = await subscribe(server);
    const { s } = verificationLink(await setEmail(token, `${name}@example.org`), base());
    expect((await get(server, `/verifyemail?s=${s}`)).status).toBe(200);
    const before = domainRow(server.dbPath, name);
    standIn.failWith = 500;
    try {
      expectError(await get(server, `/setemail?token=${token}&email=other-${name}%40example.org`), 501, "InternalError");
    } finally {
      standIn.failWith = null;
    }
    expect(domainRow(server.dbPath, name)).toEqual(before);
    expect((await info(server, token)).json).toMatchObject({ verified: true, email: `${name}@example.org` });
  });
});

describe("email parts", () => {
  test("both emails reach Resend with an HTML part and a text part; the link and the token each on a line of their own", async () => {
    const { name, token } = await subscribe(server);
    const email = `${name}@example.org`;
    const confirmation = await setEmail(token, email);
    const { link, s } = verificationLink(confirmation, base());
    expect(confirmation.html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(confirmation.text?.split("\n")).toContain(link);
    expect(confirmation.text).not.toContain("<");
    expect((await get(server, `/verifyemail?s=${s}`)).status).toBe(200);

    const since = standIn.emails.length;
    expect((await get(server, `/reclaim?name=${name}`)).status).toBe(200);
    const reclamation = await emailSince(standIn, since, email);
    const reclamationToken = domainRow(server.dbPath, name)!.reclamation_token;
    expect(reclamation.text?.split("\n")).toContain(reclamationToken);
    expect(reclamation.html).toMatch(new RegExp(`<code[^>]*>${reclamationToken}</code>`));
  });
});

describe("/revokeemail failures", () => {
  test("no token or an empty one is 400 MissingParameter", async () => {
    expectError(await get(server, "/revokeemail"), 400, "MissingParameter");
    expectError(await get(server, "/revokeemail?token="), 400, "MissingParameter");
  });
  test("an unknown token is 404 UnknownToken", async () => {
    expectError(await get(server, `/revokeemail?token=${UNKNOWN}`), 404, "UnknownToken");
  });
});

describe("--public-url", () => {
  let custom: TestApp;
  beforeAll(async () => {
    custom = startApp({ from: "127.0.0.1", args: ["--public-url", "https://registration.example.org/"], env: resendEnv(standIn) });
  });
  afterAll(async () => {
    await custom?.close();
  });

  test("links in emails start with the configured public URL", async () => {
    const { name, token } = await subscribe(custom);
    const since = standIn.emails.length;
    expect((await get(custom, `/setemail?token=${token}&email=${name}%40example.org`)).status).toBe(200);
    const mail = await emailSince(standIn, since, `${name}@example.org`);
    const { s } = verificationLink(mail, "https://registration.example.org");
    expect(`${mail.text ?? ""}${mail.html ?? ""}`).not.toContain("registration.example.org//verifyemail");
    expect((await get(custom, `/verifyemail?s=${s}`)).status).toBe(200);
  });
});
