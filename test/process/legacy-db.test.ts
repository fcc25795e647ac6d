// The server started on a copy of a database the Rust server wrote: every row kept, old tokens
// work, reclaim works for the verified owner and answers NoEmail for the email-less account.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApp } from "../support/app.ts";
import { get, startServer, type RunningServer } from "../support/server.ts";
import { startResendStandIn, resendEnv, type ResendStandIn } from "../support/resend.ts";
import { emailSince, expectError, info, openSqlite, reclamationToken } from "../support/helpers.ts";
import { LEGACY, LEGACY_DB_FILE, LEGACY_DOMAINS, LEGACY_MIGRATIONS } from "../support/make-legacy-db.ts";

let server: RunningServer;
let standIn: ResendStandIn;
let dir: string;
let dbPath: string;
/** the adoption time, every Rust name's last ping: the row's timestamp once upgraded */
let startedAt: number;

beforeAll(async () => {
  standIn = startResendStandIn();
  dir = mkdtempSync(join(tmpdir(), "regsrv-legacydb-"));
  dbPath = join(dir, "domains.sqlite");
  copyFileSync(LEGACY_DB_FILE, dbPath);
  // the fixture's rows were last seen in 2023: keep the expiry from freeing them
  server = await startServer({ dir, dbPath, env: { ...resendEnv(standIn), REGISTRATION_EXPIRY_INACTIVE_DAYS: "36500" } });
  const adopted = await server.waitForOutput(/last ping counts from now \(([^)]+)\)/);
  startedAt = Date.parse(adopted[1]) / 1000;
});
afterAll(async () => {
  await server?.cleanup();
  standIn?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("a Rust server's database", () => {
  test("is upgraded in place at start-up with every account, domain and migration row kept (the last ping becomes the adoption time)", () => {
    const db = openSqlite(dbPath);
    try {
      const rows = db.query("SELECT * FROM domains ORDER BY id").all() as any[];
      expect(rows.length).toBe(LEGACY_DOMAINS.length);
      for (const { label: _label, ...columns } of LEGACY_DOMAINS)
        expect(rows.find((r) => r.id === columns.id)).toMatchObject({ ...columns, timestamp: startedAt });
      expect(db.query("SELECT id, email, optout FROM accounts ORDER BY id").all()).toEqual([...LEGACY.accounts]);
      expect((db.query("SELECT version FROM __diesel_schema_migrations ORDER BY version").all() as any[]).map((r) => r.version)).toEqual(LEGACY_MIGRATIONS);
      const columns = (db.query("PRAGMA table_info(domains)").all() as { name: string }[]).map((c) => c.name);
      expect(columns).toContain("last_ip");
    } finally {
      db.close();
    }
  });

  test("/info answers with the old tokens, as the Rust server stored them", async () => {
    const verified = await info(server, LEGACY.verified.token);
    expect(verified.status, verified.text).toBe(200);
    expect(verified.json).toMatchObject({
      name: LEGACY.verified.name,
      token: LEGACY.verified.token,
      description: LEGACY.verified.description,
      timestamp: startedAt,
      dns_challenge: LEGACY.verified.dns_challenge,
      verified: true,
      email: "owner@example.org",
      optout: false,
      continent: "NA",
      mode: 0,
    });
    const anonymous = await info(server, LEGACY.anonymous.token);
    expect(anonymous.status).toBe(200);
    expect(anonymous.json).toMatchObject({ name: LEGACY.anonymous.name, verified: false, email: "", continent: "EU", mode: 0 });
    const dynamic = await info(server, LEGACY.dynamic.token);
    expect(dynamic.json).toMatchObject({ name: LEGACY.dynamic.name, mode: 1 });
    expect(dynamic.text).not.toContain(LEGACY.dynamic.verification_token);
  });

  test("a verification link the Rust server mailed still verifies after the adoption", async () => {
    const res = await get(server, `/verifyemail?s=${LEGACY.dynamic.verification_token}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain("owner@example.org");
    expect((await info(server, LEGACY.dynamic.token)).json).toMatchObject({ verified: true, email: "owner@example.org" });
  });

  test("the old tokens ping and set challenges", async () => {
    expect((await get(server, `/ping?token=${LEGACY.anonymous.token}`)).status).toBe(200);
    expect((await info(server, LEGACY.anonymous.token)).json.last_ip).toBe("127.0.0.1");
    expect((await get(server, `/dnsconfig?token=${LEGACY.anonymous.token}&challenge=new-challenge`)).status).toBe(200);
    expect((await info(server, LEGACY.anonymous.token)).json.dns_challenge).toBe("new-challenge");
  });

  test("old names stay taken, and the verified owner's email gives UnavailableNameReclamationPossible", async () => {
    expectError(await get(server, `/subscribe?name=${LEGACY.anonymous.label}`), 400, "UnavailableName");
    expectError(await get(server, `/subscribe?name=${LEGACY.verified.label}&email=Owner%40Example.org`), 400, "UnavailableNameReclamationPossible");
  });

  test("/reclaim answers NoEmail for the domain of the email-less account ''", async () => {
    const since = standIn.emails.length;
    expectError(await get(server, `/reclaim?name=${LEGACY.anonymous.label}`), 400, "NoEmail");
    expect(standIn.emails.length).toBe(since);
  });

  test("/reclaim mails the verified owner, and the token reclaims the name", async () => {
    const since = standIn.emails.length;
    expect((await get(server, `/reclaim?name=${LEGACY.verified.label}`)).status).toBe(200);
    const mail = await emailSince(standIn, since, "owner@example.org");
    const token = reclamationToken(mail);
    const res = await get(server, `/subscribe?name=${LEGACY.verified.label}&reclamationToken=${token}`);
    expect(res.status, res.text).toBe(200);
    expectError(await info(server, LEGACY.verified.token), 404, "UnknownToken");
    expect((await info(server, res.json.token)).json.name).toBe(LEGACY.verified.name);
  });

  test("the upgraded file opens again unchanged after a restart", async () => {
    const code = await server.stop("SIGTERM");
    expect(code).toBe(0);
    // the restart's open of the file and its API, in this process (test/support/app.ts)
    const app = startApp({ dbPath, env: { REGISTRATION_EXPIRY_INACTIVE_DAYS: "36500" } });
    try {
      expect((await info(app, LEGACY.anonymous.token)).status).toBe(200);
      expect((await info(app, LEGACY.dynamic.token)).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});
