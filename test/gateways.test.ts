// The gateway rules called as dyndns2 and the CLI will call them: plain values in, no Request,
// no HTTP, over a real SQLite file and the log mailer (its log lines are the mailbox).
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiError } from "../src/api/errors.ts";
import { loadSettings } from "../src/config.ts";
import { createGateways, type Gateways } from "../src/gateways.ts";
import { createMailer } from "../src/mail/mailer.ts";
import { staticLabels } from "../src/names.ts";
import { openDatabase, type Db } from "../src/store/db.ts";
import { createStore, type Store } from "../src/store/domains.ts";

const NOW = 1_700_000_000;
let dir: string;
let db: Db;
let store: Store;
let lines: string[];
let gateways: Gateways;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "regsrv-gateways-"));
  const dbPath = join(dir, "registration.sqlite");
  const { settings } = loadSettings(["--db", dbPath], {});
  db = openDatabase(dbPath);
  store = createStore(db);
  lines = [];
  const log = (line: string) => void lines.push(line);
  gateways = createGateways({ settings, store, mailer: createMailer(settings.email, log), log, reserved: staticLabels(settings.dns) });
});

afterEach(() => {
  db.$client.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The code of the ApiError `run` throws (sync or async), or "none". */
async function failure(run: () => unknown): Promise<string> {
  try {
    await run();
    return "none";
  } catch (e) {
    if (e instanceof ApiError) return e.code;
    throw e;
  }
}

/** The reclamation token the last reclamation email carried. */
const mailedToken = () => /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/.exec(lines.filter((l) => l.startsWith("mail ")).at(-1)!)![0];

describe("gateway rules without HTTP", () => {
  test("subscribe stores the full name with its dot and answers the label", () => {
    const { label, token } = gateways.subscribe({ name: "  Home " }, NOW);
    expect(label).toBe("home");
    expect(store.findDomainByName("home.example.test.")?.token).toBe(token);
    expect(gateways.info(token)).toMatchObject({ name: "home.example.test.", description: "home's server", mode: 0, timestamp: NOW });
  });

  test("subscribe refuses reserved and taken names, and hints at reclamation to the verified owner only", async () => {
    expect(await failure(() => gateways.subscribe({ name: "ns1" }, NOW))).toBe("UnavailableName");
    const { token } = gateways.subscribe({ name: "home" }, NOW);
    await gateways.setEmail(token, "owner@example.org", false, NOW);
    const link = /verifyemail\?s=([0-9a-f-]{36})/.exec(lines.join("\n"))![1];
    expect(gateways.verifyEmail(link, NOW)).toEqual({ outcome: "verified", name: "home.example.test", email: "owner@example.org" });
    expect(gateways.verifyEmail(link, NOW + 60)).toEqual({ outcome: "already", name: "home.example.test", email: "owner@example.org" });
    expect(await failure(() => gateways.subscribe({ name: "home", email: "stranger@example.org" }, NOW))).toBe("UnavailableName");
    expect(await failure(() => gateways.subscribe({ name: "home", email: " Owner@Example.org" }, NOW))).toBe("UnavailableNameReclamationPossible");
    expect(await failure(() => gateways.subscribe({ name: "home", reclamationToken: crypto.randomUUID() }, NOW))).toBe("ReclamationTokenMismatch");
  });

  test("reclaim re-sends the live token, which hands the name over once", async () => {
    const first = gateways.subscribe({ name: "home" }, NOW);
    await gateways.setEmail(first.token, "owner@example.org", false, NOW);
    gateways.verifyEmail(/verifyemail\?s=([0-9a-f-]{36})/.exec(lines.join("\n"))![1], NOW);

    await gateways.reclaim("HOME", NOW);
    const reclamationToken = mailedToken();
    await gateways.reclaim("home", NOW + 60);
    expect(mailedToken()).toBe(reclamationToken);

    const second = gateways.subscribe({ name: "home", reclamationToken, mode: 1 }, NOW + 120);
    expect(second.token).not.toBe(first.token);
    expect(await failure(() => gateways.info(first.token))).toBe("UnknownToken");
    expect(gateways.info(second.token)).toMatchObject({ mode: 1, verified: true, email: "owner@example.org" });
    expect(await failure(() => gateways.subscribe({ name: "home", reclamationToken }, NOW + 180))).toBe("ReclamationTokenMismatch");
  });

  test("reclaim's per-name quota protects the owner whoever asks", async () => {
    const { token } = gateways.subscribe({ name: "home" }, NOW);
    await gateways.setEmail(token, "owner@example.org", false, NOW);
    gateways.verifyEmail(/verifyemail\?s=([0-9a-f-]{36})/.exec(lines.join("\n"))![1], NOW);
    for (let i = 0; i < 3; i++) await gateways.reclaim("home", NOW);
    expect(await failure(() => gateways.reclaim("home", NOW))).toBe("TooManyRequests");
  });

  test("ping stores an IPv4-mapped address as IPv4 and refuses an unknown token", async () => {
    const { token } = gateways.subscribe({ name: "home", mode: 1 }, NOW);
    await gateways.ping(token, "::ffff:192.0.2.7", NOW + 5);
    expect(store.findGatewayByName("home.example.test.")).toMatchObject({ lastIp: "192.0.2.7", mode: 1 });
    expect(gateways.info(token).timestamp).toBe(NOW + 5);
    expect(await failure(() => gateways.ping(crypto.randomUUID(), "192.0.2.7", NOW))).toBe("UnknownToken");
  });

  test("dynUpdate: a ping for the user's own name only; without an address it keeps the name alive and answers a bare nochg", async () => {
    const { token } = gateways.subscribe({ name: "home", mode: 1 }, NOW);
    const other = gateways.subscribe({ name: "other", mode: 1 }, NOW);
    const update = (request: Partial<Parameters<Gateways["dynUpdate"]>[0]>, now = NOW) =>
      gateways.dynUpdate({ user: "home", password: token, hostnames: [], ...request }, now);
    expect(await update({ ipv4: "::ffff:192.0.2.7" })).toEqual(["good 192.0.2.7"]);
    expect(await update({}, NOW + 30)).toEqual(["nochg"]);
    expect(await update({ ipv4: "2001:db8::5", ipv6: "192.0.2.5" }, NOW + 30)).toEqual(["nochg"]); // wrong families are not stored
    expect(gateways.info(token)).toMatchObject({ timestamp: NOW + 30, lastIp: "192.0.2.7", lastIpv4: "192.0.2.7", lastIpv6: "" });
    expect(await update({ user: "home", password: other.token, ipv4: "192.0.2.8" })).toEqual(["badauth"]);
    expect(await update({ hostnames: ["other.example.test", "HOME.example.test."], ipv6: "2001:DB8::1" })).toEqual(["nohost", "good 2001:db8::1"]);
    expect(store.findGatewayByName("home.example.test.")).toMatchObject({ lastIpv4: "192.0.2.7", lastIpv6: "2001:db8::1" });
    expect(store.findGatewayByName("other.example.test.")).toMatchObject({ lastIpv4: "", lastIpv6: "" });
  });

  test("unsubscribe by token or by live reclamation token frees the name", async () => {
    const { token } = gateways.subscribe({ name: "home" }, NOW);
    expect(await failure(() => gateways.unsubscribe({}, NOW))).toBe("MissingParameter");
    expect(await failure(() => gateways.unsubscribe({ reclamationToken: crypto.randomUUID() }, NOW))).toBe("UnknownReclamationToken");
    gateways.unsubscribe({ token }, NOW);
    expect(store.findDomainByName("home.example.test.")).toBeUndefined();
    expect(await failure(() => gateways.unsubscribe({ token }, NOW))).toBe("UnknownToken");
  });
});
