// Runtime database errors on the email routes, on a real file whose writes fail (a trigger that
// aborts the UPDATE, added by another connection while the app runs): /setemail sends no email
// for a write that failed, /verifyemail still answers the HTML error page, not JSON, and each
// logs one line, no stack. In process (app.handle over the file, the Resend stand-in): the log
// lines are read as the process prints them (TestApp.output).
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { startApp, type TestApp } from "../support/app.ts";
import { domainRow, expectError, freshName, openSqlite, subscribe, verificationLink } from "../support/helpers.ts";
import { resendEnv, startResendStandIn, type ResendStandIn } from "../support/resend.ts";

let app: TestApp;
let standIn: ResendStandIn;
beforeAll(() => {
  standIn = startResendStandIn();
  app = startApp({ env: resendEnv(standIn), from: "127.0.0.1" });
});
afterAll(async () => {
  await app?.close();
  standIn?.stop();
});

function failUpdates(dbPath: string, trigger: string, column: string): void {
  const db = openSqlite(dbPath);
  db.run(`CREATE TRIGGER ${trigger} BEFORE UPDATE OF ${column} ON domains BEGIN SELECT RAISE(ABORT, 'stand-in for a failing disk'); END`);
  db.close();
}
afterEach(() => {
  const db = openSqlite(app.dbPath);
  db.run("DROP TRIGGER IF EXISTS fail_pending");
  db.run("DROP TRIGGER IF EXISTS fail_verified");
  db.close();
});

describe("a database write failing", () => {
  test("/setemail answers 501 and sends no email, and the row is as it was", async () => {
    const name = freshName();
    const { token } = await subscribe(app, name);
    const before = domainRow(app.dbPath, name);
    failUpdates(app.dbPath, "fail_pending", "pending_email");
    const since = standIn.emails.length;
    expectError(await app.get(`/setemail?token=${token}&email=${name}%40example.org`), 501, "InternalError");
    // a sent email would be in the stand-in already: the reply came after any send
    expect(standIn.emails.slice(since)).toEqual([]);
    expect(domainRow(app.dbPath, name)).toEqual(before);
    // one log line, no stack
    await app.waitForOutput(/error GET \/setemail\?\S+: database: SQLITE_CONSTRAINT_TRIGGER: stand-in for a failing disk, answering 501\n/);
    expect(app.output()).not.toMatch(/^\s+at /m);
  });

  test("/verifyemail answers the HTML error page with 501, and logs one line without the link", async () => {
    const name = freshName();
    const { token } = await subscribe(app, name);
    const since = standIn.emails.length;
    expect((await app.get(`/setemail?token=${token}&email=${name}%40example.org`)).status).toBe(200);
    const mail = standIn.emails.slice(since).find((e) => e.to.includes(`${name}@example.org`))!;
    const { s } = verificationLink(mail, app.url);
    failUpdates(app.dbPath, "fail_verified", "verified");
    const res = await app.get(`/verifyemail?s=${s}`);
    expect(res.status).toBe(501);
    expect(res.headers.get("content-type")).toStartWith("text/html");
    expect(res.json).toBeUndefined();
    const line = await app.waitForOutput(/error GET \/verifyemail: .*\n/);
    expect(line[0]).toContain("answering 501");
    expect(app.output()).not.toContain(s);
    expect(app.output()).not.toMatch(/^\s+at /m);
  });
});
