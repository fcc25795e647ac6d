// Expiry warnings (expiry.warn_days): the verified, not opted-out owner of a quiet name gets one
// email per silence, sent by the sweep, with a link (/keep) that keeps the name once. In process,
// on the app's clock; the sweep runs every 10 ms of real time, so each step waits for sweeps.
import { afterEach, describe, expect, test } from "bun:test";
import { loadSettings, SettingsError } from "../../src/config.ts";
import { utcDate } from "../../src/mail/templates.ts";
import { startApp, type AppOptions, type TestApp } from "../support/app.ts";
import { domainRow, subscribe, waitFor, writeDb } from "../support/helpers.ts";
import { resendEnv, startResendStandIn, type ResendStandIn } from "../support/resend.ts";

const DAY = 86_400;
/** names are freed after 10 days of silence, warned after 7 */
const EXPIRY = {
  REGISTRATION_EXPIRY_INACTIVE_DAYS: "10",
  REGISTRATION_EXPIRY_WARN_DAYS: "3",
  REGISTRATION_EXPIRY_INTERVAL_SECONDS: "1",
  REGISTRATION_EXPIRY_MAX_FRACTION: "1",
};
/** sweeps every 10 ms instead of every expiry.interval_seconds: a step waits for two */
const SWEEPS = { intervalMs: 10 };
/**
 * The same in this thread (the sweeper of `--db :memory:`): the tests of what a sweep warns.
 * The first and the keep-link test run the sweep's worker thread, as serve.ts does for a file.
 */
const SWEEPS_HERE = { ...SWEEPS, inThread: true };
const KEEP_LINK = /^http:\/\/api\.example\.test:\d+\/keep\?s=([0-9a-f-]{36})$/m;

const apps: TestApp[] = [];
const standIns: ResendStandIn[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
  for (const s of standIns.splice(0)) s.stop();
});

function open(env: Record<string, string> = {}, limits?: AppOptions["limits"]) {
  const app = startApp({ env: { ...EXPIRY, ...env }, limits });
  apps.push(app);
  return app;
}

/** Lines of completed deletion passes so far; a warning pass follows each. */
const sweepLines = (app: TestApp) => app.lines.filter((line) => line.startsWith("expiry: removed")).length;

/**
 * Waits until a whole sweep has run after this call: the first sweep to log may have started
 * before it (its warnings read the clock after its line), the second began after that one ended.
 */
async function afterSweeps(app: TestApp): Promise<void> {
  const start = sweepLines(app);
  await waitFor(() => sweepLines(app) >= start + 2, "two more expiry sweeps", 15_000);
}

/** The last emailed verification link's secret, through the log transport or the stand-in. */
function lastLink(app: TestApp, standIn?: ResendStandIn): string {
  const body = standIn ? (standIn.emails.at(-1)?.text ?? "") : (app.mails().at(-1)?.body ?? "");
  return /verifyemail\?s=([0-9a-f-]{36})/.exec(body)![1];
}

/** A new name whose owner `email` is verified (optout: opted out); returns its label and token. */
async function ownedName(app: TestApp, email: string, options: { optout?: boolean; standIn?: ResendStandIn } = {}) {
  const gw = await subscribe(app);
  const set = await app.get(`/setemail?token=${gw.token}&email=${encodeURIComponent(email)}${options.optout ? "&optout=1" : ""}`);
  expect(set.status, set.text).toBe(200);
  const verified = await app.get(`/verifyemail?s=${lastLink(app, options.standIn)}`);
  expect(verified.status, verified.text).toBe(200);
  return gw;
}

/** Warning emails the log transport wrote to `to`. */
const warningsTo = (app: TestApp, to: string) => app.mails().filter((m) => m.to === to && m.subject.includes("will be freed"));

describe("expiry warnings", () => {
  test("a quiet name's verified owner gets exactly one warning in its window; unverified and opted-out owners get none", async () => {
    const app = open();
    const start = app.clock;
    const owned = await ownedName(app, "owner@example.org");
    const optedOut = await ownedName(app, "quiet@example.org", { optout: true });
    const pending = await subscribe(app);
    expect((await app.get(`/setemail?token=${pending.token}&email=pending%40example.org`)).status).toBe(200); // never confirmed
    const mailsBefore = app.mails().length;
    await app.startExpiry(SWEEPS);

    app.clock = start + 6 * DAY; // silent 6 days: not in the window yet (10 - 3 = 7)
    await afterSweeps(app);
    expect(app.mails().length).toBe(mailsBefore);

    app.clock = start + 7 * DAY + 3600; // in the window
    await afterSweeps(app);
    const warnings = warningsTo(app, "owner@example.org");
    expect(warnings.length).toBe(1);
    const [warning] = warnings;
    expect(warning.subject).toBe(`${owned.name}.example.test will be freed on ${utcDate(start + 10 * DAY)}`);
    expect(warning.body).toContain(`${owned.name}.example.test`);
    expect(warning.body).toContain(utcDate(start + 10 * DAY));
    // the keep link alone on its line of the text part
    expect(warning.body).toMatch(KEEP_LINK);
    await app.waitForOutput(new RegExp(`expiry: warned the owners of 1 name\\(s\\) due to be freed within 3 days: ${owned.name}\\.example\\.test\\.`));

    // later sweeps of the same silence send nothing more, nor to the others
    app.clock += DAY;
    await afterSweeps(app);
    await afterSweeps(app);
    expect(warningsTo(app, "owner@example.org").length).toBe(1);
    expect(app.mails().length).toBe(mailsBefore + 1);
    expect(domainRow(app.dbPath, optedOut.name)).not.toBeNull();
  }, 60_000);

  test("a name that pings before its deadline gets nothing further; after a new silence its owner is warned again", async () => {
    const app = open();
    const start = app.clock;
    const early = await ownedName(app, "early@example.org");
    const warned = await ownedName(app, "twice@example.org");
    await app.startExpiry(SWEEPS_HERE);

    app.clock = start + 6 * DAY;
    expect((await app.get(`/ping?token=${early.token}`)).status).toBe(200); // back before its window
    app.clock = start + 7 * DAY + 3600;
    await afterSweeps(app);
    expect(warningsTo(app, "twice@example.org").length).toBe(1);
    expect(warningsTo(app, "early@example.org").length).toBe(0);

    expect((await app.get(`/ping?token=${warned.token}`)).status).toBe(200); // back after its warning
    const back = app.clock;
    app.clock += DAY;
    await afterSweeps(app);
    expect(warningsTo(app, "twice@example.org").length).toBe(1);

    app.clock = back + 7 * DAY + 3600; // a new silence reaches the window
    await afterSweeps(app);
    const again = warningsTo(app, "twice@example.org");
    expect(again.length).toBe(2);
    expect(again[1].subject).toContain(utcDate(back + 10 * DAY));
    expect(KEEP_LINK.exec(again[1].body)![1]).not.toBe(KEEP_LINK.exec(again[0].body)![1]);
    expect(warningsTo(app, "early@example.org").length).toBe(1); // early: its own silence from day 6
  }, 60_000);

  test("the keep link keeps the name past its deadline without changing its address, once", async () => {
    const app = open();
    const start = app.clock;
    const kept = await ownedName(app, "keeper@example.org");
    expect((await app.get(`/ping?token=${kept.token}`, { from: "198.51.100.7" })).status).toBe(200);
    const unclaimed = await subscribe(app); // no owner: freed at the deadline, proving the sweep ran
    await app.startExpiry(SWEEPS);

    app.clock = start + 8 * DAY;
    await afterSweeps(app);
    const [warning] = warningsTo(app, "keeper@example.org");
    const s = KEEP_LINK.exec(warning.body)![1];
    const before = domainRow(app.dbPath, kept.name)!;

    const page = await app.get(`/keep?s=${s}`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(page.text).toContain('<html lang="en">');
    expect(page.text).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(page.text).not.toMatch(/<script|\bsrc=|href="(?!data:)|url\(/i); // nothing loaded from anywhere
    expect(page.text).toContain("<h1>Name kept</h1>");
    expect(page.text).toContain(`${kept.name}.example.test</span>`);
    expect(page.text).toContain(utcDate(start + 18 * DAY)); // kept 10 days from the click
    const after = domainRow(app.dbPath, kept.name)!;
    expect(after.timestamp).toBe(start + 8 * DAY); // a keep counts as a ping...
    expect([after.last_ip, after.last_ipv4, after.last_ipv6]).toEqual([before.last_ip, before.last_ipv4, before.last_ipv6]); // ...of no address
    expect(after.last_ipv4).toBe("198.51.100.7");

    // used: a second click changes nothing and says so
    app.clock += DAY;
    const second = await app.get(`/keep?s=${s}`);
    expect(second.status).toBe(200);
    expect(second.text).toContain("<h1>Already kept</h1>");
    expect(second.text).toContain(utcDate(start + 18 * DAY));
    expect(domainRow(app.dbPath, kept.name)!.timestamp).toBe(start + 8 * DAY);

    app.clock = start + 10 * DAY + 3600; // the original deadline has passed
    await afterSweeps(app);
    expect(domainRow(app.dbPath, unclaimed.name)).toBeNull();
    expect(domainRow(app.dbPath, kept.name)).not.toBeNull();
    expect((await app.get(`/info?token=${kept.token}`)).status).toBe(200);
  }, 60_000);

  test("a keep link that is missing, unknown or expired answers a page saying which and keeps nothing", async () => {
    const app = open();
    const start = app.clock;
    const gw = await ownedName(app, "late@example.org");
    await app.startExpiry(SWEEPS_HERE);
    app.clock = start + 7 * DAY + 3600;
    await afterSweeps(app);
    const s = KEEP_LINK.exec(warningsTo(app, "late@example.org")[0].body)![1];

    const missing = await app.get("/keep");
    expect(missing.status).toBe(400);
    expect(missing.text).toContain("<h1>This link is incomplete</h1>");
    const unknown = await app.get("/keep?s=6f1d2c3b-4a5e-4f60-8b71-92a3b4c5d6e7");
    expect(unknown.status).toBe(404);
    expect(unknown.text).toContain("<h1>This link is not valid</h1>");
    // past its lifetime (the sweep that would free the name has not run yet)
    writeDb(app.dbPath, "UPDATE domains SET keep_expires = ? WHERE keep_token = ?", app.clock - 1, s);
    const expired = await app.get(`/keep?s=${s}`);
    expect(expired.status).toBe(404);
    expect(expired.text).toContain("<h1>This link has expired</h1>");
    expect(domainRow(app.dbPath, gw.name)!.timestamp).toBe(start);
    // the link's secret is masked in the request lines
    const requests = app.lines.filter((line) => line.includes("/keep") && !line.startsWith("mail "));
    expect(requests.length).toBe(3);
    expect(requests.join("\n")).not.toContain(s);
  }, 60_000);

  test("a provider failure is retried at the next sweep, and the owner gets exactly one warning", async () => {
    const standIn = startResendStandIn();
    standIns.push(standIn);
    const app = open(resendEnv(standIn));
    const start = app.clock;
    const gw = await ownedName(app, "retry@example.org", { standIn });
    const sent = () => standIn.emails.filter((e) => e.subject.includes("will be freed"));
    await app.startExpiry(SWEEPS_HERE);

    standIn.failWith = 500;
    app.clock = start + 7 * DAY + 3600;
    await app.waitForOutput(/expiry: warned the owners of 0 name\(s\) due to be freed within 3 days; 1 failed, retried at the next sweep/, 15_000);
    expect(sent().length).toBe(0);
    // the failure is an error line that names the owner as every mail line does: masked
    const failure = app.entries.find((e) => e.line.startsWith("mail to "));
    expect(failure?.line).toBe("mail to re...@... failed: resend: application_error: stand-in told to fail");
    expect(failure?.fields?.level).toBe("error");

    standIn.failWith = null;
    await app.waitForOutput(/expiry: warned the owners of 1 name\(s\)/, 15_000);
    await afterSweeps(app);
    await afterSweeps(app);
    expect(sent().length).toBe(1);
    const [warning] = sent();
    expect(warning.to).toEqual(["retry@example.org"]);
    const s = KEEP_LINK.exec(warning.text!)![1];
    expect(warning.html).toContain(`<a href="${app.url}/keep?s=${s}">`);
    expect(warning.headers["idempotency-key"]).toBe(`expiry-warning/${s}`);
    expect(domainRow(app.dbPath, gw.name)!.warned_for).toBe(start);
  }, 60_000);

  test("a send whose answer was lost is retried under the same idempotency key and delivered once", async () => {
    const standIn = startResendStandIn();
    standIns.push(standIn);
    const app = open({ ...resendEnv(standIn), REGISTRATION_EMAIL_SEND_TIMEOUT_SECONDS: "1" });
    const start = app.clock;
    await ownedName(app, "lost@example.org", { standIn });
    const sent = () => standIn.emails.filter((e) => e.subject.includes("will be freed"));
    await app.startExpiry(SWEEPS_HERE);

    standIn.loseAnswers = true; // the provider takes it, its answer never comes: a timeout here
    app.clock = start + 7 * DAY + 3600;
    await app.waitForOutput(/1 failed, retried at the next sweep/, 15_000);
    expect(sent().length).toBe(1);

    standIn.loseAnswers = false;
    await app.waitForOutput(/expiry: warned the owners of 1 name\(s\)/, 15_000);
    await afterSweeps(app);
    expect(standIn.replayed).toBe(1); // the retry, answered from the key: not delivered again
    expect(sent().length).toBe(1);
  }, 60_000);

  test("warnings count against their own per-recipient quota: an owner over it gets the rest at a later sweep", async () => {
    const app = open({}, { emailsPerRecipientPerHour: 1 });
    const start = app.clock;
    await ownedName(app, "many@example.org");
    app.clock += 3600; // the verification emails' own quota: one an hour
    await ownedName(app, "many@example.org");
    await app.startExpiry(SWEEPS_HERE);

    app.clock = start + 7 * DAY + 3 * 3600; // both in the window
    await app.waitForOutput(/expiry: warned the owners of 1 name\(s\).*; 1 deferred by the per-recipient email limits/, 15_000);
    await afterSweeps(app);
    expect(warningsTo(app, "many@example.org").length).toBe(1);

    app.clock += 3600;
    await afterSweeps(app);
    expect(warningsTo(app, "many@example.org").length).toBe(2);
  }, 60_000);

  test("a sweep that frees none because of expiry.max_fraction warns none either", async () => {
    const app = open({ REGISTRATION_EXPIRY_MAX_FRACTION: "0.25" });
    const start = app.clock;
    await subscribe(app); // no owner: stale at day 10, half of all names
    app.clock = start + 3 * DAY;
    await ownedName(app, "held@example.org");
    await app.startExpiry(SWEEPS_HERE);
    app.clock = start + 10 * DAY + 3600; // the owned name is in its window, the other is due
    await app.waitForOutput(/more than expiry\.max_fraction = 0\.25 of them: freed none/, 15_000);
    const held = app.lines.filter((line) => line.includes("freed none")).length;
    await waitFor(() => app.lines.filter((line) => line.includes("freed none")).length >= held + 2, "two more held sweeps", 15_000);
    expect(warningsTo(app, "held@example.org").length).toBe(0);
  }, 60_000);

  test("expiry.warn_days = 0 sends no warning", async () => {
    const app = open({ REGISTRATION_EXPIRY_WARN_DAYS: "0" });
    const start = app.clock;
    await ownedName(app, "never@example.org");
    await app.startExpiry(SWEEPS_HERE);
    app.clock = start + 9 * DAY;
    await afterSweeps(app);
    expect(warningsTo(app, "never@example.org").length).toBe(0);
  }, 60_000);
});

describe("expiry.warn_days", () => {
  const load = (env: Record<string, string>) => loadSettings(["--domain", "example.test"], env).settings.expiry;

  test("defaults to 7, and to 0 (no warning) when names are freed after 7 days or fewer", () => {
    expect(load({}).warnDays).toBe(7);
    expect(load({ REGISTRATION_EXPIRY_INACTIVE_DAYS: "5" }).warnDays).toBe(0);
  });

  test("a value not below expiry.inactive_days is refused with a message naming both", () => {
    expect(() => load({ REGISTRATION_EXPIRY_INACTIVE_DAYS: "10", REGISTRATION_EXPIRY_WARN_DAYS: "10" })).toThrow(SettingsError);
    expect(() => load({ REGISTRATION_EXPIRY_INACTIVE_DAYS: "10", REGISTRATION_EXPIRY_WARN_DAYS: "10" })).toThrow(
      "expiry.warn_days (10) must be less than expiry.inactive_days (10)",
    );
    expect(load({ REGISTRATION_EXPIRY_INACTIVE_DAYS: "10", REGISTRATION_EXPIRY_WARN_DAYS: "9" }).warnDays).toBe(9);
  });
});
