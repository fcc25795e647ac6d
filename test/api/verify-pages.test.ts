// The /verifyemail pages a person sees, and /favicon.ico: each state's wording, status and
// headers, the confirmed name and address (escaped), and operators' own pages. In a real
// browser: test/e2e/pages.e2e.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startApp, type TestApp } from "../support/app.ts";
import { domainRow, subscribe } from "../support/helpers.ts";

const UNKNOWN = "6f1d2c3b-4a5e-4f60-8b71-92a3b4c5d6e7";
const WEEK = 7 * 86400;
let app: TestApp;

beforeAll(() => {
  app = startApp();
});
afterAll(async () => {
  await app?.close();
});

/** setemail through the log transport; returns the link's secret. */
async function pendingLink(token: string, email: string): Promise<string> {
  const res = await app.get(`/setemail?token=${token}&email=${encodeURIComponent(email)}`);
  expect(res.status, res.text).toBe(200);
  return /verifyemail\?s=([0-9a-f-]{36})/.exec(app.mails().at(-1)!.body)![1];
}

function expectPageHeaders(headers: Headers) {
  expect(headers.get("content-type")).toBe("text/html; charset=utf-8");
  const csp = headers.get("content-security-policy") ?? "";
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("style-src 'unsafe-inline'");
  expect(csp).toContain("img-src data:");
  expect(csp).not.toContain("script-src");
  expect(headers.get("x-content-type-options")).toBe("nosniff");
  expect(headers.get("referrer-policy")).toBe("no-referrer");
  expect(headers.get("cache-control")).toBe("no-store");
}

function expectReadableOffline(html: string) {
  expect(html).toStartWith("<!doctype html>");
  expect(html).toContain('<html lang="en">');
  expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
  expect(html).toContain("prefers-color-scheme:dark");
  // nothing loaded from anywhere: no script, no external URL in src/href/url()
  expect(html).not.toMatch(/<script|\bsrc=|href="(?!data:)|url\(/i);
  // body text at 18px, nothing smaller than 16px
  for (const m of html.matchAll(/font-size:(\d+)px/g)) expect(Number(m[1])).toBeGreaterThanOrEqual(16);
}

describe("/verifyemail built-in pages", () => {
  test("a followed link: 200, the confirmed name and address shown (escaped), strict CSP, lang, viewport", async () => {
    const { name, token } = await subscribe(app);
    const email = `o'neil&${name}@example.org`;
    const s = await pendingLink(token, email);
    const page = await app.get(`/verifyemail?s=${s}`);
    expect(page.status).toBe(200);
    expectPageHeaders(page.headers);
    expectReadableOffline(page.text);
    expect(page.text).toContain("<h1>Email address confirmed</h1>");
    expect(page.text).toContain(`${name}.example.test</span>`);
    expect(page.text).toContain(`o&#39;neil&amp;${name}@example.org`);
    expect(page.text).not.toContain(email);
  });

  test("the same link again within its lifetime says already confirmed, naming the name and address; after it, expired", async () => {
    const { name, token } = await subscribe(app);
    const email = `${name}@example.org`;
    const s = await pendingLink(token, email);
    expect((await app.get(`/verifyemail?s=${s}`)).status).toBe(200);
    const row = domainRow(app.dbPath, name);
    app.clock += WEEK - 1;
    const again = await app.get(`/verifyemail?s=${s}`);
    expect(again.status).toBe(200);
    expectPageHeaders(again.headers);
    expect(again.text).toContain("<h1>Already confirmed</h1>");
    expect(again.text).toContain(`${name}.example.test`);
    expect(again.text).toContain(email);
    expect(again.text).not.toContain("not valid");
    expect(domainRow(app.dbPath, name)).toEqual(row);
    app.clock += 1;
    const late = await app.get(`/verifyemail?s=${s}`);
    expect(late.status).toBe(404);
    expect(late.text).toContain("<h1>This link has expired</h1>");
    expect(late.text).not.toContain(email);
    // the address stays verified
    expect((await app.get(`/info?token=${token}`)).json).toMatchObject({ verified: true, email });
  });

  test("a link without s, or with an empty one, is 400 and says the link is incomplete", async () => {
    for (const path of ["/verifyemail", "/verifyemail?s="]) {
      const page = await app.get(path);
      expect(page.status).toBe(400);
      expectPageHeaders(page.headers);
      expectReadableOffline(page.text);
      expect(page.text).toContain("<h1>This link is incomplete</h1>");
    }
  });

  test("an unknown link is 404 and says not valid; an expired one 404 and says expired; neither verifies", async () => {
    const unknown = await app.get(`/verifyemail?s=${UNKNOWN}`);
    expect(unknown.status).toBe(404);
    expectPageHeaders(unknown.headers);
    expectReadableOffline(unknown.text);
    expect(unknown.text).toContain("<h1>This link is not valid</h1>");

    const { name, token } = await subscribe(app);
    const s = await pendingLink(token, `${name}@example.org`);
    app.clock += WEEK;
    const expired = await app.get(`/verifyemail?s=${s}`);
    expect(expired.status).toBe(404);
    expect(expired.text).toContain("<h1>This link has expired</h1>");
    expect((await app.get(`/info?token=${token}`)).json).toMatchObject({ verified: false, email: "" });
  });

  test("a link replaced by a newer /setemail, or cancelled by /revokeemail, is not valid even after it was followed", async () => {
    const { name, token } = await subscribe(app);
    const first = await pendingLink(token, `${name}-1@example.org`);
    expect((await app.get(`/verifyemail?s=${first}`)).status).toBe(200);
    const second = await pendingLink(token, `${name}-2@example.org`);
    const replaced = await app.get(`/verifyemail?s=${first}`);
    expect(replaced.status).toBe(404);
    expect(replaced.text).toContain("<h1>This link is not valid</h1>");
    expect((await app.get(`/verifyemail?s=${second}`)).status).toBe(200);
    expect((await app.get(`/revokeemail?token=${token}`)).status).toBe(200);
    const revoked = await app.get(`/verifyemail?s=${second}`);
    expect(revoked.status).toBe(404);
    expect(revoked.text).not.toContain(`${name}-2@example.org`);
  });

  test("GET /favicon.ico answers an icon, not a JSON 404, and logs no error", async () => {
    const before = app.lines.length;
    const res = await app.get("/favicon.ico");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/svg+xml");
    expect(res.text).toStartWith("<svg");
    expect(res.json).toBeUndefined();
    expect(app.lines.slice(before).join("\n")).not.toMatch(/error|404/i);
  });
});

describe("/verifyemail with the operator's own pages", () => {
  let custom: TestApp;
  beforeAll(() => {
    custom = startApp({
      env: {
        REGISTRATION_EMAIL_SUCCESS_PAGE: "<!DOCTYPE html><html><body><h1>Thanks from the operator</h1></body></html>",
        REGISTRATION_EMAIL_ERROR_PAGE: "<!DOCTYPE html><html><body><h1>Operator error page</h1></body></html>",
      },
    });
  });
  afterAll(async () => {
    await custom?.close();
  });

  test("are served as they are, with the page headers, for every state, a second click being a success", async () => {
    const { name, token } = await subscribe(custom);
    await custom.get(`/setemail?token=${token}&email=${name}%40example.org`);
    const s = /verifyemail\?s=([0-9a-f-]{36})/.exec(custom.mails().at(-1)!.body)![1];
    for (const [path, status, text] of [
      [`/verifyemail?s=${s}`, 200, "Thanks from the operator"],
      [`/verifyemail?s=${s}`, 200, "Thanks from the operator"],
      ["/verifyemail", 400, "Operator error page"],
      [`/verifyemail?s=${UNKNOWN}`, 404, "Operator error page"],
    ] as const) {
      const page = await custom.get(path);
      expect(page.status, path).toBe(status);
      expect(page.text).toBe(`<!DOCTYPE html><html><body><h1>${text}</h1></body></html>`);
      expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
      expect(page.headers.get("referrer-policy")).toBe("no-referrer");
    }
  });
});
