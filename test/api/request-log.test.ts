// Request lines and error lines as an operator reads them (docs/operations.md, "Logs"): one line
// per event, the client address, the name a token call was about (never the token), email
// addresses masked, ASCII only, and log.format = json as one object a line. In-process:
// test/support/app.ts formats the lines as the process would (src/log.ts's formatLine).
import { afterEach, describe, expect, test } from "bun:test";
import { startApp, type TestApp } from "../support/app.ts";
import { openSqlite } from "../support/helpers.ts";
import { resendEnv, startResendStandIn } from "../support/resend.ts";

let app: TestApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const ALL = { REGISTRATION_HTTP_ACCESS_LOG: "all" };

async function subscribed(a: TestApp, label: string): Promise<string> {
  const res = await a.get(`/subscribe?name=${label}`);
  expect(res.status).toBe(200);
  return res.json.token;
}

const requestLines = (a: TestApp, path: string) => a.lines.filter((line) => line.startsWith(`GET ${path}`));

describe("request lines", () => {
  test("carry the client address: the socket peer, or the forwarded client behind a trusted proxy", async () => {
    app = startApp({ env: ALL });
    await app.get("/connectivity-check", { from: "192.0.2.44" });
    await app.get("/connectivity-check?via=proxy", { from: "127.0.0.1", headers: { "x-forwarded-for": "203.0.113.9" } });
    // a client that is not a trusted proxy cannot write its own address into the line
    await app.get("/connectivity-check?via=forged", { from: "198.51.100.7", headers: { "x-forwarded-for": "203.0.113.66" } });
    const lines = requestLines(app, "/connectivity-check");
    expect(lines[0]).toMatch(/^GET \/connectivity-check 200 \d+\.\dms client=192\.0\.2\.44$/);
    expect(lines[1]).toEndWith("client=203.0.113.9");
    expect(lines[2]).toEndWith("client=198.51.100.7");
  });

  test("of token calls name the gateway, never the token, /unsubscribe's included", async () => {
    app = startApp({ env: ALL });
    const token = await subscribed(app, "logname");
    await app.get(`/ping?token=${token}`);
    await app.get(`/info?token=${token}`);
    await app.get(`/dnsconfig?token=${token}&challenge=abc`);
    await app.get(`/revokeemail?token=${token}`);
    await app.get(`/unsubscribe?token=${token}`);
    for (const path of ["/ping", "/info", "/dnsconfig", "/revokeemail", "/unsubscribe"]) {
      const [line] = requestLines(app, path);
      expect(line).toMatch(/ \d{3} .* name=logname\.example\.test$/);
    }
    expect(app.output()).not.toContain(token.slice(4));
    // an unknown token names nothing
    await app.get("/ping?token=00000000-0000-4000-8000-000000000000");
    expect(requestLines(app, "/ping").at(-1)).toMatch(/ 404 .*client=\S+$/);
  });

  test("mask email addresses like tokens: the first 2 characters of the mailbox", async () => {
    app = startApp();
    const token = await subscribed(app, "mailmask");
    await app.get(`/setemail?token=${token}&email=alice%40example.org`);
    await app.get("/subscribe?name=mailmask2&email=bob@example.net");
    const set = requestLines(app, "/setemail")[0];
    expect(set).toContain("email=al...@...");
    expect(requestLines(app, "/subscribe?name=mailmask2")[0]).toContain("email=bo...@...");
    const requests = app.lines.filter((line) => line.startsWith("GET "));
    expect(requests.join("\n")).not.toMatch(/alice|example\.org|bob@|example\.net/);
  });

  test("are ASCII: masks are three dots, not an ellipsis (the summary's x: test/api/access-log.test.ts)", async () => {
    app = startApp();
    const token = await subscribed(app, "ascii");
    await app.get(`/ping?token=${token.slice(0, 8)}`);
    await app.get("/setemail?token=abcdefgh&email=%C3%A9l%C3%A8ve%40example.org");
    const output = app.output();
    expect(output).toContain(`token=${token.slice(0, 4)}...`);
    expect(output).toMatch(/^[\x20-\x7e\n]*$/);
  });
});

describe("errors", () => {
  /** A write that fails with a message over three lines (a trigger standing in for a damaged file). */
  function failWrites(dbPath: string) {
    const db = openSqlite(dbPath);
    db.run("CREATE TRIGGER fail_insert BEFORE INSERT ON domains BEGIN SELECT RAISE(ABORT, 'first line\n  second line\nthird line'); END");
    db.close();
  }

  test("are one line each, without a stack, at log.level = info", async () => {
    app = startApp({ env: ALL });
    failWrites(app.dbPath);
    expect((await app.get("/subscribe?name=brokenwrite")).status).toBe(501);
    const errors = app.lines.filter((line) => line.startsWith("error "));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain("first line second line third line");
    expect(errors[0]).not.toContain("\n");
    expect(errors[0]).not.toMatch(/\bat .+:\d+:\d+/);
    expect(
      app
        .output()
        .split("\n")
        .filter((l) => l !== ""),
    ).toHaveLength(app.lines.length);
  });

  test("carry their stack on the same line at log.level = debug", async () => {
    app = startApp({ env: { ...ALL, REGISTRATION_LOG_LEVEL: "debug" } });
    failWrites(app.dbPath);
    expect((await app.get("/subscribe?name=brokenwrite")).status).toBe(501);
    const errors = app.lines.filter((line) => line.startsWith("error "));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/first line second line third line.* stack: at .+:\d+:\d+/);
    expect(errors[0]).not.toContain("\n");
  });
});

describe("a failed email", () => {
  test("is logged with its recipient masked", async () => {
    const standIn = startResendStandIn();
    try {
      standIn.failWith = 500;
      app = startApp({ env: resendEnv(standIn) });
      const token = await subscribed(app, "mailfails");
      expect((await app.get(`/setemail?token=${token}&email=carol%40example.org`)).status).toBe(501);
      const failed = app.lines.filter((line) => line.startsWith("mail to "));
      expect(failed).toHaveLength(1);
      expect(failed[0]).toStartWith("mail to ca...@... failed: ");
      expect(app.lines.join("\n")).not.toContain("carol");
    } finally {
      standIn.stop();
    }
  });
});

describe("log.format = json", () => {
  test("writes one object a line: time, level, msg, and a request's method, masked path, status, ms, client, name", async () => {
    app = startApp({ env: { ...ALL, REGISTRATION_LOG_FORMAT: "json" } });
    const token = await subscribed(app, "jsonlog");
    await app.get(`/info?token=${token}`, { from: "192.0.2.80" });
    await app.get("/nowhere");
    const objects = app
      .output()
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l));
    expect(objects.length).toBe(app.lines.length);
    for (const o of objects) {
      expect(Number.isNaN(Date.parse(o.time))).toBe(false);
      expect(typeof o.msg).toBe("string");
    }
    const info = objects.find((o) => o.path?.startsWith("/info"));
    expect(info).toMatchObject({
      level: "info",
      method: "GET",
      path: `/info?token=${token.slice(0, 4)}...`,
      status: 200,
      client: "192.0.2.80",
      name: "jsonlog.example.test",
    });
    expect(typeof info.ms).toBe("number");
    expect(JSON.stringify(objects)).not.toContain(token.slice(4));
    expect(objects.find((o) => o.path === "/nowhere")).toMatchObject({ level: "info", status: 404 });
  });
});
