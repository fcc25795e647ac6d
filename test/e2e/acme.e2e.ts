// ACME DNS-01 as a gateway gets its certificate: pebble validates against our DNS port, lego
// publishes the challenge through /dnsconfig; then the name is reclaimed and certified again.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startResendStandIn, type ResendStandIn } from "../support/resend.ts";
import { apiGet, describe as said, emailSince, UUID } from "./lib/api.ts";
import { legoObtain, serialOf, startPebble, subjectAltNames, verifyChain, type LegoResult, type Pebble } from "./lib/acme.ts";
import { DOMAIN, startBinary, type BinaryServer } from "./lib/binary.ts";
import { dig, txtText } from "./lib/dig.ts";
import { stopAllDaemons, tail } from "./lib/proc.ts";
import { check, Steps } from "./lib/steps.ts";

const steps = new Steps("acme");
let work: string;
let resend: ResendStandIn;
let server: BinaryServer;
let pebble: Pebble;
let dnsServer: string;

const label = `acme-${crypto.randomUUID().slice(0, 8)}`;
const fqdn = `${label}.${DOMAIN}`;
const ownerEmail = `owner-${label}@example.com`;
let firstToken = "";
let firstSerial = "";

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "regsrv-e2e-acme-"));
  resend = startResendStandIn();
  server = await steps.step("start the compiled server", 60_000, () => startBinary(resend));
  steps.watch("registration-server", () => server.output());
  dnsServer = `127.0.0.1:${server.dnsPort}`;
  pebble = await steps.step("start pebble", 30_000, () => startPebble(join(work, "pebble"), dnsServer));
  steps.watch("pebble", () => pebble.daemon.output());
});

afterAll(async () => {
  await pebble?.daemon.stop();
  await server?.dispose();
  resend?.stop();
  await stopAllDaemons();
  if (work) rmSync(work, { recursive: true, force: true });
  console.log(`acme e2e step timings:\n${steps.summary()}`);
});

/** Runs lego and checks the certificate: file present, SAN is the name, chains to pebble's root. */
async function obtainAndCheck(what: string, token: string): Promise<LegoResult> {
  const lego = await steps.step(`${what}: lego run (exec provider -> /dnsconfig, pebble validates against our DNS)`, 120_000, async () => {
    const result = await legoObtain({ dir: join(work, what.replace(/\W+/g, "-")), pebble, dnsServer, apiUrl: server.url, token, fqdn });
    check(
      result.code === 0,
      `lego exited ${result.timedOut ? "after its time limit" : result.code}; expected 0.\nhook calls: ${JSON.stringify(result.hookCalls)}\n--- lego output ---\n${tail(result.output, 30)}`,
    );
    return result;
  });
  await steps.step(`${what}: the exec hook published the challenge through /dnsconfig`, 5_000, () => {
    const present = lego.hookCalls.filter((c) => c.action === "present");
    check(present.length === 1, `expected one "present" call, got ${JSON.stringify(lego.hookCalls)}`);
    check(present[0].fqdn === `_acme-challenge.${fqdn}.`, `present fqdn ${present[0].fqdn}, expected _acme-challenge.${fqdn}.`);
    check(present[0].status === 200, `/dnsconfig answered ${present[0].status} ${present[0].body}`);
  });
  await steps.step(`${what}: our DNS still serves the validated TXT`, 10_000, async () => {
    const value = lego.hookCalls.find((c) => c.action === "present")!.value;
    const r = await dig(dnsServer, `_acme-challenge.${fqdn}`, "TXT");
    check(r.status === "NOERROR" && r.flags.includes("aa"), `expected NOERROR with aa, got ${r.status} ${r.flags}\n${r.raw}`);
    check(r.answer.length === 1 && txtText(r.answer[0]) === value, `expected one TXT "${value}"\n${r.raw}`);
  });
  await steps.step(`${what}: the certificate file exists`, 5_000, () => {
    check(existsSync(lego.certFile) && statSync(lego.certFile).size > 0, `no certificate at ${lego.certFile}\n${tail(lego.output, 20)}`);
  });
  await steps.step(`${what}: its subjectAltName is exactly the gateway's name`, 10_000, async () => {
    expect(await subjectAltNames(lego.certFile)).toEqual([`DNS:${fqdn}`]);
  });
  await steps.step(`${what}: it chains to pebble's root from the management port`, 15_000, async () => {
    const root = await pebble.root();
    const verified = await verifyChain(join(work, what.replace(/\W+/g, "-")), lego.certFile, lego.issuerFile, root);
    check(verified.ok, `openssl verify: ${verified.output}`);
  });
  return lego;
}

test("a gateway obtains a certificate for its name through DNS-01 (pebble + lego exec -> /dnsconfig)", async () => {
  const sub = await steps.step("subscribe the gateway", 10_000, async () => {
    const r = await apiGet(server.url, "/subscribe", { name: label, email: ownerEmail });
    check(r.status === 200 && UUID.test(r.json?.token ?? "") && r.json?.name === label, `expected 200 {name, token}: ${said("/subscribe", r)}`);
    return r.json as { name: string; token: string };
  });
  firstToken = sub.token;
  const lego = await obtainAndCheck("first certificate", firstToken);
  firstSerial = await serialOf(lego.certFile);
});

test("after reclaiming the name, the new token gets a certificate and the old token is refused", async () => {
  check(firstToken, "needs the first certificate test to have subscribed the name");
  let mark = resend.emails.length;
  await steps.step("setemail sends a verification link", 15_000, async () => {
    const r = await apiGet(server.url, "/setemail", { token: firstToken, email: ownerEmail });
    check(r.status === 200, `expected 200: ${said("/setemail", r)}`);
  });
  const link = await steps.step("the verification email holds <public_url>/verifyemail?s=<uuid>", 10_000, async () => {
    const email = await emailSince(resend, ownerEmail, mark);
    const body = `${email.text ?? ""}\n${email.html ?? ""}`;
    const m = new RegExp(`${server.url.replace(/[.]/g, "\\.")}/verifyemail\\?s=(${UUID.source})`).exec(body);
    check(m, `no ${server.url}/verifyemail?s=<uuid> link in the email: ${body.slice(0, 500)}`);
    return m[0];
  });
  await steps.step("following the link verifies the email", 10_000, async () => {
    const res = await fetch(link, { signal: AbortSignal.timeout(5000) });
    check(res.status === 200, `GET ${link} -> ${res.status}`);
    const info = await apiGet(server.url, "/info", { token: firstToken });
    check(info.json?.verified === true, `expected verified in /info: ${said("/info", info)}`);
  });
  mark = resend.emails.length;
  await steps.step("/reclaim answers 200", 15_000, async () => {
    const r = await apiGet(server.url, "/reclaim", { name: label });
    check(r.status === 200, `expected 200: ${said("/reclaim", r)}`);
  });
  const reclamationToken = await steps.step("the reclamation email to the verified owner holds the reclamation token", 10_000, async () => {
    const email = await emailSince(resend, ownerEmail, mark);
    const m = UUID.exec(`${email.text ?? ""}\n${email.html ?? ""}`);
    check(m, `no token in the reclamation email: ${email.subject}`);
    check(m[0] !== firstToken, "the reclamation email must not carry the gateway's API token");
    return m[0];
  });
  const newToken = await steps.step("/subscribe with the reclamation token issues a new token", 10_000, async () => {
    const r = await apiGet(server.url, "/subscribe", { name: label, reclamationToken });
    check(r.status === 200 && UUID.test(r.json?.token ?? "") && r.json.token !== firstToken, `expected 200 with a new token: ${said("/subscribe", r)}`);
    return r.json.token as string;
  });
  await steps.step("the old token is refused by /dnsconfig (404)", 10_000, async () => {
    const r = await apiGet(server.url, "/dnsconfig", { token: firstToken, challenge: "stale-gateway" });
    check(r.status === 404 && typeof r.json?.error === "string", `expected 404 {"error": …}: ${said("/dnsconfig", r)}`);
  });
  await steps.step("lego holding the old token gets no certificate: /dnsconfig refuses it", 60_000, async () => {
    const stale = await legoObtain({ dir: join(work, "stale-token"), pebble, dnsServer, apiUrl: server.url, token: firstToken, fqdn });
    check(
      stale.code !== 0 && !stale.timedOut,
      `lego with the old token exited ${stale.timedOut ? "after its time limit" : stale.code}, expected a failure\n${tail(stale.output, 20)}`,
    );
    const present = stale.hookCalls.find((c) => c.action === "present");
    check(present?.status === 404, `expected the hook's /dnsconfig call to get 404, got ${JSON.stringify(stale.hookCalls)}`);
    check(!existsSync(stale.certFile), `a certificate was issued to the old token: ${stale.certFile}`);
  });
  const lego = await obtainAndCheck("certificate after reclaiming", newToken);
  await steps.step("it is a new certificate", 5_000, async () => {
    expect(await serialOf(lego.certFile)).not.toBe(firstSerial);
  });
});
