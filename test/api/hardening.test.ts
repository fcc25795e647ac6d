// Requests a careful operator expects to be refused or contained: other methods than GET,
// a mail provider that never answers, secrets under unexpected parameter names, a parameter
// given twice.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { get } from "../support/server.ts";
import { startApp, type TestApp } from "../support/app.ts";
import { resendEnv, startResendStandIn, type ResendStandIn } from "../support/resend.ts";
import { domainRow, emailSince, expectError, freshName, info, subscribe, verificationLink } from "../support/helpers.ts";

let server: TestApp;
let standIn: ResendStandIn;

beforeAll(async () => {
  standIn = startResendStandIn();
  server = startApp({ from: "127.0.0.1", env: { ...resendEnv(standIn), REGISTRATION_EMAIL_SEND_TIMEOUT_SECONDS: "1" } });
});
afterAll(async () => {
  await server?.close();
  standIn?.stop();
});

describe("methods other than GET", () => {
  test("HEAD and POST /subscribe answer 405 with Allow and create nothing", async () => {
    const name = freshName();
    for (const method of ["HEAD", "POST", "PUT", "DELETE"]) {
      const res = await server.handle(`/subscribe?name=${name}`, { method });
      expect(res.status).toBe(405);
      expect(res.headers.get("allow")).toBe("GET, OPTIONS");
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      if (method !== "HEAD") expect(await res.json()).toEqual({ error: "MethodNotAllowed" });
    }
    expect(domainRow(server.dbPath, name)).toBeNull();
  });

  test("HEAD /unsubscribe leaves the domain in place", async () => {
    const { token } = await subscribe(server);
    expect((await server.handle(`/unsubscribe?token=${token}`, { method: "HEAD" })).status).toBe(405);
    expect((await info(server, token)).status).toBe(200);
  });

  test("a link scanner's HEAD on the verification link does not use it up", async () => {
    const { token } = await subscribe(server);
    const email = `${freshName()}@example.org`;
    const since = standIn.emails.length;
    expect((await get(server, `/setemail?token=${token}&email=${email}`)).status).toBe(200);
    const { s } = verificationLink(await emailSince(standIn, since, email), `http://api.example.test:${server.httpPort}`);
    expect((await server.handle(`/verifyemail?s=${s}`, { method: "HEAD" })).status).toBe(405);
    expect((await info(server, token)).json.verified).toBe(false);
    expect((await get(server, `/verifyemail?s=${s}`)).status).toBe(200);
    expect((await info(server, token)).json).toMatchObject({ verified: true, email });
  });
});

describe("CORS preflight", () => {
  test("OPTIONS answers 204 with origin *, GET allowed, a max age, and no Vary: *", async () => {
    const res = await server.handle(`/info?token=x`, {
      method: "OPTIONS",
      headers: { Origin: "http://gateway.local", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "content-type" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-methods")).toContain("GET");
    expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("content-type");
    expect(res.headers.get("access-control-max-age")).toBe("86400");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    expect(res.headers.get("vary")).toBeNull();
  });
});

describe("mail provider that never answers", () => {
  test("/setemail answers 501 after the send timeout and leaves the row as it was", async () => {
    const { name, token } = await subscribe(server);
    const before = domainRow(server.dbPath, name);
    standIn.hang = true;
    try {
      const res = await get(server, `/setemail?token=${token}&email=${freshName()}@example.org`);
      expectError(res, 501, "InternalError");
    } finally {
      standIn.hang = false;
    }
    expect(domainRow(server.dbPath, name)).toEqual(before);
    await server.waitForOutput(/no answer within 1s/);
  });
});

describe("inputs", () => {
  test("a quoted local part is 400 InvalidParameter and nothing reaches the provider (addresses are plain local@domain)", async () => {
    const { name, token } = await subscribe(server);
    const before = domainRow(server.dbPath, name);
    const since = standIn.emails.length;
    for (const email of ['"first last"@example.org', '"a,b <victim@evil.example>"@example.org']) {
      expectError(await get(server, `/setemail?token=${token}&email=${encodeURIComponent(email)}`), 400, "InvalidParameter");
    }
    expect(domainRow(server.dbPath, name)).toEqual(before);
    // a plain address still goes out, to exactly that recipient
    const plain = `${freshName()}@example.org`;
    expect((await get(server, `/setemail?token=${token}&email=${plain}`)).status).toBe(200);
    expect((await emailSince(standIn, since, plain)).to).toEqual([plain]);
    expect(standIn.emails.length).toBe(since + 1);
  });

  test("a description over 255 characters is 400 InvalidParameter and creates nothing", async () => {
    const name = freshName();
    expectError(await get(server, `/subscribe?name=${name}&desc=${"d".repeat(256)}`), 400, "InvalidParameter");
    expect(domainRow(server.dbPath, name)).toBeNull();
    expect((await get(server, `/subscribe?name=${name}&desc=${"d".repeat(255)}`)).status).toBe(200);
  });

  test("a token sent under an unexpected parameter name is still masked in the log", async () => {
    const { token } = await subscribe(server);
    await get(server, `/ping?token%5B%5D=${token}`);
    await get(server, `/ping?Token=${token}`);
    await server.waitForOutput(/GET \/ping\?Token=\S+ \d{3}/);
    expect(server.output()).not.toContain(token.slice(4));
  });
});

// Elysia keeps only the last value of a repeated key: `token=A&token=B` would act on B unnoticed.
describe("a parameter given twice", () => {
  /** Two domains whose rows a ping would visibly change (last seen a day ago). */
  async function twoAgedDomains() {
    const a = await subscribe(server);
    const b = await subscribe(server);
    server.clock += 86_400;
    return { a, b, rows: () => [domainRow(server.dbPath, a.name), domainRow(server.dbPath, b.name)] };
  }

  test("/ping with two tokens is 400 InvalidParameter and pings neither", async () => {
    const { a, b, rows } = await twoAgedDomains();
    const before = rows();
    expectError(await get(server, `/ping?token=${a.token}&token=${b.token}`), 400, "InvalidParameter");
    expectError(await get(server, `/ping?token=&token=${b.token}`), 400, "InvalidParameter");
    expectError(await get(server, `/ping?token=${a.token}&tok%65n=${b.token}`), 400, "InvalidParameter"); // the same key, encoded
    expect(rows()).toEqual(before);
    expect((await get(server, `/ping?token=${b.token}`)).status).toBe(200);
    expect(domainRow(server.dbPath, b.name)!.timestamp).toBe(server.clock);
  });

  test("/info with two tokens is 400 InvalidParameter", async () => {
    const { a, b, rows } = await twoAgedDomains();
    const before = rows();
    expectError(await get(server, `/info?token=${a.token}&token=${b.token}`), 400, "InvalidParameter");
    expectError(await get(server, `/info?token=${a.token}&token=${a.token}`), 400, "InvalidParameter");
    expect(rows()).toEqual(before);
  });

  test("/subscribe with two names, or two descriptions, is 400 InvalidParameter and creates nothing", async () => {
    const [first, second] = [freshName(), freshName()];
    expectError(await get(server, `/subscribe?name=${first}&name=${second}`), 400, "InvalidParameter");
    expectError(await get(server, `/subscribe?name=${first}&desc=one&desc=two`), 400, "InvalidParameter");
    expect(domainRow(server.dbPath, first)).toBeNull();
    expect(domainRow(server.dbPath, second)).toBeNull();
  });

  test("/setemail with two addresses is 400 InvalidParameter and sends nothing", async () => {
    const { name, token } = await subscribe(server);
    const before = domainRow(server.dbPath, name);
    const since = standIn.emails.length;
    expectError(await get(server, `/setemail?token=${token}&email=a@example.org&email=b@example.org`), 400, "InvalidParameter");
    expect(domainRow(server.dbPath, name)).toEqual(before);
    expect(standIn.emails.length).toBe(since);
  });

  test("distinct parameters, and empty pairs between them, are still accepted", async () => {
    const { token } = await subscribe(server);
    expect((await get(server, `/dnsconfig?token=${token}&&challenge=abc&`)).status).toBe(200);
    expect((await info(server, token)).json.dns_challenge).toBe("abc");
  });
});
