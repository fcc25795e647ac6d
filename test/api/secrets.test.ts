// Secrets (docs/api.md, "Secrets and their lifetimes"): token form, empty secrets never match a
// row, tokens never logged in full.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { get } from "../support/server.ts";
import { startApp, type TestApp } from "../support/app.ts";
import { startResendStandIn, resendEnv, type ResendStandIn } from "../support/resend.ts";
import { domainRow, expectError, freshName, info, openSqlite, subscribe, UUID_V4, verifyOwner, writeDb } from "../support/helpers.ts";

let server: TestApp;
let standIn: ResendStandIn;

beforeAll(async () => {
  standIn = startResendStandIn();
  // every request on a line of its own, so the masking is checked on the routine calls too
  server = startApp({ from: "127.0.0.1", env: { ...resendEnv(standIn), REGISTRATION_HTTP_ACCESS_LOG: "all" } });
});
afterAll(async () => {
  await server?.close();
  standIn?.stop();
});

/**
 * Plants a row the API cannot create: every secret column empty, but with live expiry times, a verified owner
 * and a pending address, so only the emptiness of the secret keeps it from matching.
 */
function plantEmptySecretsRow(label: string): void {
  const db = openSqlite(server.dbPath);
  try {
    db.query("INSERT OR IGNORE INTO accounts (email, optout) VALUES (?, 0)").run(`${label}@owner.example.org`);
    const account = db.query("SELECT id FROM accounts WHERE email = ?").get(`${label}@owner.example.org`) as { id: number };
    db.query(
      `INSERT INTO domains (name, account_id, token, description, timestamp, reclamation_token, reclamation_expires, verification_token, verification_expires, pending_email, verified)
       VALUES (?, ?, '', 'planted', ?, '', ?, '', ?, ?, 1)`,
    ).run(`${label}.example.test.`, account.id, server.clock, server.clock + 86400, server.clock + 86400, `${label}@pending.example.org`);
  } finally {
    db.close();
  }
}

describe("tokens", () => {
  test("API tokens are distinct lowercase uuid v4 values", async () => {
    const tokens = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const { token } = await subscribe(server);
      expect(token).toMatch(UUID_V4);
      tokens.add(token);
    }
    expect(tokens.size).toBe(30);
  });

  test("a domain's token keeps working across pings, challenges, emails and a restart of the server", async () => {
    const { name, token } = await subscribe(server);
    expect((await get(server, `/ping?token=${token}`)).status).toBe(200);
    expect((await get(server, `/dnsconfig?token=${token}&challenge=abc`)).status).toBe(200);
    await verifyOwner(server, standIn, token, `${name}@example.org`);
    expect((await get(server, `/revokeemail?token=${token}`)).status).toBe(200);
    expect((await info(server, token)).json.token).toBe(token);
    const restarted = startApp({ from: "127.0.0.1", dbPath: server.dbPath, env: resendEnv(standIn) });
    try {
      expect((await info(restarted, token)).json.name).toBe(`${name}.example.test.`);
    } finally {
      await restarted.close();
    }
  });
});

describe("an empty secret never matches a row", () => {
  test("a row with an empty token is not found, pinged, configured, revoked or unsubscribed with token=", async () => {
    const label = freshName("empty");
    plantEmptySecretsRow(label);
    const before = domainRow(server.dbPath, label);
    expect(before).not.toBeNull();
    for (const path of [
      "/info?token=",
      "/ping?token=",
      "/dnsconfig?token=&challenge=x",
      "/revokeemail?token=",
      "/unsubscribe?token=",
      "/setemail?token=&email=a%40example.org",
    ])
      expectError(await get(server, path), 400, "MissingParameter");
    // whitespace is not empty, but must not match the empty token either
    for (const path of ["/info?token=%20", "/ping?token=%20"]) expect((await get(server, path)).status).not.toBe(200);
    expect(domainRow(server.dbPath, label)).toEqual(before);
  });

  test("a row with an empty (but unexpired) reclamation_token cannot be reclaimed or unsubscribed with reclamationToken=", async () => {
    const label = freshName("empty");
    plantEmptySecretsRow(label);
    const before = domainRow(server.dbPath, label);
    expectError(await get(server, "/unsubscribe?reclamationToken="), 400, "MissingParameter");
    const res = await get(server, `/subscribe?name=${label}&reclamationToken=`);
    expectError(res, 400, "UnavailableName");
    for (const blank of ["%20", "%22%22", "''"]) {
      expect((await get(server, `/unsubscribe?reclamationToken=${blank}`)).status).not.toBe(200);
      expect((await get(server, `/subscribe?name=${label}&reclamationToken=${blank}`)).status).toBe(400);
    }
    expect(domainRow(server.dbPath, label)).toEqual(before);
  });

  test("a row with an empty (but unexpired) verification_token is not verified by s=", async () => {
    const label = freshName("empty");
    plantEmptySecretsRow(label);
    writeDb(server.dbPath, "UPDATE domains SET verified = 0 WHERE name = ?", `${label}.example.test.`);
    const before = domainRow(server.dbPath, label);
    expect((await get(server, "/verifyemail?s=")).status).toBe(400);
    expect((await get(server, "/verifyemail")).status).toBe(400);
    expect((await get(server, "/verifyemail?s=%20")).status).not.toBe(200);
    expect(domainRow(server.dbPath, label)).toEqual(before);
  });

  test("a reclamation token is not accepted as the API token, nor the API token as a reclamation token", async () => {
    const { name, token } = await subscribe(server);
    const reclamation = "0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d";
    writeDb(
      server.dbPath,
      "UPDATE domains SET reclamation_token = ?, reclamation_expires = ? WHERE name = ?",
      reclamation,
      server.clock + 3600,
      `${name}.example.test.`,
    );
    expectError(await info(server, reclamation), 404, "UnknownToken");
    expectError(await get(server, `/unsubscribe?token=${reclamation}`), 400, "UnknownToken");
    expectError(await get(server, `/unsubscribe?reclamationToken=${token}`), 404, "UnknownReclamationToken");
    expectError(await get(server, `/subscribe?name=${name}&reclamationToken=${token}`), 400, "ReclamationTokenMismatch");
    expect((await info(server, token)).status).toBe(200);
  });
});

describe("logs", () => {
  test("one line per request with method, path, status and duration", async () => {
    const marker = freshName("logline");
    expect((await get(server, `/subscribe?name=${marker}`)).status).toBe(200);
    expect((await get(server, `/reclaim?name=${marker}`)).status).toBe(400);
    const sub = await server.waitForOutput(new RegExp(`^.*GET /subscribe\\?name=${marker}\\b.*$`, "m"));
    expect(sub[0]).toMatch(/\b200\b/);
    expect(sub[0]).toMatch(/\d+(\.\d+)?\s?(ms|µs|s)\b/);
    const rec = await server.waitForOutput(new RegExp(`^.*GET /reclaim\\?name=${marker}\\b.*$`, "m"));
    expect(rec[0]).toMatch(/\b400\b/);
    const lines = server
      .output()
      .split("\n")
      .filter((l) => l.includes(`/subscribe?name=${marker}`));
    expect(lines.length).toBe(1);
  });

  test("every request gets exactly one line with its status, however it ends", async () => {
    const marker = freshName("everyend");
    // the marker rides in a parameter of its own, since secrets are masked in the log
    const cases: [string, RequestInit | undefined, number][] = [
      [`/subscribe?name=${marker}`, undefined, 200], // the handler's value
      [`/verifyemail?s=not-a-link&n=${marker}`, undefined, 404], // a Response the handler built
      [`/info?token=not-a-token&n=${marker}`, undefined, 404], // an ApiError
      [`/dnsconfig?challenge=abc&n=${marker}`, undefined, 400], // validation
      [`/info?token=a&token=b&n=${marker}`, undefined, 400], // the repeated-parameter check
      [`/no-such-path?n=${marker}`, undefined, 404], // no route
      [`/ping?token=x&n=${marker}`, { method: "HEAD" }, 405], // answered in onRequest
      [`/ping?token=x&n=${marker}`, { method: "OPTIONS" }, 204], // the preflight, answered in onRequest
    ];
    for (const [i, [template, init, status]] of cases.entries()) {
      const path = `${template}-${i}`; // a marker of its own per request
      expect((await get(server, path, init)).status, path).toBe(status);
      const method = init?.method ?? "GET";
      const shown = path.replace(/\?.*/, "");
      const line = await server.waitForOutput(new RegExp(`^.*${method} ${shown.replace(/[/]/g, "\\/")}\\?\\S*${marker}-${i} (\\d+) .*$`, "m"));
      expect(line[1], path).toBe(String(status));
      const count = server
        .output()
        .split("\n")
        .filter((l) => l.includes(` ${method} ${shown}?`) && l.includes(`${marker}-${i} `)).length;
      expect(count, path).toBe(1);
    }
  });

  test("API, reclamation and verification tokens never appear in full in the log", async () => {
    const { name, token } = await subscribe(server);
    await get(server, `/ping?token=${token}`);
    await get(server, `/info?token=${token}`);
    await get(server, `/dnsconfig?token=${token}&challenge=abc`);
    const s = await verifyOwner(server, standIn, token, `${name}@example.org`);
    const since = standIn.emails.length;
    expect((await get(server, `/reclaim?name=${name}`)).status).toBe(200);
    const reclamation = (standIn.emails.slice(since)[0]?.text ?? "").match(/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/)?.[0];
    expect(reclamation).toBeDefined();
    const res = await get(server, `/subscribe?name=${name}&reclamationToken=${reclamation}`);
    expect(res.status).toBe(200);
    await get(server, `/info?token=${res.json.token}`);
    await get(server, `/unsubscribe?token=${res.json.token}`);
    await server.waitForOutput(/GET \/unsubscribe\S* 200/);
    const log = server.output();
    for (const secret of [token, s, reclamation!, res.json.token]) {
      expect(log).not.toContain(secret);
      // not even the part after the first 4 characters
      expect(log).not.toContain(secret.slice(4));
    }
  });
});
