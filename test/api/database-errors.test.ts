// Runtime database errors on the email routes, on a real file whose writes fail (a trigger that
// aborts the UPDATE, added by another connection while the server runs): /setemail sends no email
// for a write that failed, /verifyemail still answers the HTML error page, not JSON, and each
// logs one line, no stack. The app in this process (test/support/app.ts) on a real file, with
// the Resend stand-in: its output() is the lines as the process prints them.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { startApp, type TestApp } from "../support/app.ts";
import { domainRow, expectError, freshName, openSqlite, subscribe, verificationLink } from "../support/helpers.ts";
import { resendEnv, startResendStandIn, type ResendStandIn } from "../support/resend.ts";
import { get } from "../support/server.ts";

const ctx = {} as { server: TestApp; standIn: ResendStandIn };
beforeAll(() => {
  ctx.standIn = startResendStandIn();
  ctx.server = startApp({ env: resendEnv(ctx.standIn) });
});
afterAll(async () => {
  await ctx.server?.close();
  ctx.standIn?.stop();
});

function failUpdates(dbPath: string, trigger: string, column: string): void {
  const db = openSqlite(dbPath);
  db.run(`CREATE TRIGGER ${trigger} BEFORE UPDATE OF ${column} ON domains BEGIN SELECT RAISE(ABORT, 'stand-in for a failing disk'); END`);
  db.close();
}
afterEach(() => {
  const db = openSqlite(ctx.server.dbPath);
  db.run("DROP TRIGGER IF EXISTS fail_pending");
  db.run("DROP TRIGGER IF EXISTS fail_verified");
  db.close();
});

describe("a database write failing", () => {
  test("/setemail answers 501 and sends no email, and the row is as it was", async () => {
    const { server, standIn } = ctx;
    const name = freshName();
    const { token } = await subscribe(server, name);
    const before = domainRow(server.dbPath, name);
    failUpdates(server.dbPath, "fail_pending", "pending_email");
    const since = standIn.emails.length;
    expectError(await get(server, `/setemail?token=${token}&email=${name}%40example.org`), 501, "InternalError");
    // a sent email would be in the stand-in already: the reply came after any send
    expect(standIn.emails.slice(since)).toEqual([]);
    expect(domainRow(server.dbPath, name)).toEqual(before);
    // one log line, no stack
    await server.waitForOutput(/error GET \/setemail\?\S+: database: SQLITE_CONSTRAINT_TRIGGER: stand-in for a failing disk, answering 501\n/);
    expect(server.output()).not.toMatch(/^\s+at /m);
  });

  test("/verifyemail answers the HTML error page with 501, and logs one line without the link", async () => {
    const { server, standIn } = ctx;
    const name = freshName();
    const { token } = await subscribe(server, name);
    const since = standIn.emails.length;
    expect((await get(server, `/setemail?token=${token}&email=${name}%40example.org`)).status).toBe(200);
    const mail = standIn.emails.slice(since).find((e) => e.to.includes(`${name}@example.org`))!;
    const { s } = verificationLink(mail, server.url);
    failUpdates(server.dbPath, "fail_verified", "verified");
    const res = await get(server, `/verifyemail?s=${s}`);
    expect(res.status).toBe(501);
    expect(res.headers.get("content-type")).toStartWith("text/html");
    expect(res.json).toBeUndefined();
    const line = await server.waitForOutput(/error GET \/verifyemail: .*\n/);
    expect(line[0]).toContain("answering 501");
    expect(server.output()).not.toContain(s);
    expect(server.output()).not.toMatch(/^\s+at /m);
  });
});
