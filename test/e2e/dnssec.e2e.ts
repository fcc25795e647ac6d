// DNSSEC (docs/dns.md, "DNSSEC") with the compiled binary and real validators: unbound holding the DS that
// `registration-server dnssec ds` prints validates (ad) a gateway's A, its _acme-challenge TXT,
// the apex SOA/NS/CAA, a missing name and a NODATA; the DS matches dnssec-dsfromkey over the
// served DNSKEY; lego and pebble get a certificate through DNS-01 resolving via that validating
// unbound; a binary told to break its signatures (REGSRV_TEST_BREAK_DNSSEC=1) gets SERVFAIL.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startResendStandIn, type ResendStandIn } from "../support/resend.ts";
import { legoObtain, startPebble, subjectAltNames, type Pebble } from "./lib/acme.ts";
import { apiGet, describe as said } from "./lib/api.ts";
import { DOMAIN, startBinary, type BinaryServer } from "./lib/binary.ts";
import { dig, txtText } from "./lib/dig.ts";
import { run, stopAllDaemons, tail } from "./lib/proc.ts";
import { check, Steps } from "./lib/steps.ts";
import { startUnbound, type Unbound } from "./lib/unbound.ts";

const steps = new Steps("dnssec");
let work: string;
let config: string;
let resend: ResendStandIn;
let server: BinaryServer;
let unbound: Unbound;
let ds = "";

const tag = crypto.randomUUID().slice(0, 8);
const gw = `sec-${tag}`;
const gatewayIp = "127.0.0.67";
const challenge = `dnssec-challenge-${tag}`;

/** `registration-server dnssec ds` run by the binary under test, on its database. */
async function dsOf(target: BinaryServer): Promise<string> {
  const result = await run([join(target.binaryDir, "registration-server"), "dnssec", "ds", "--db", target.dbPath, "--config", config], { timeoutMs: 20_000 });
  check(result.code === 0, `dnssec ds exited ${result.code}: ${result.stderr}`);
  return result.stdout.trim();
}

async function validatingUnbound(target: BinaryServer, anchor: string, name: string): Promise<Unbound> {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  return await startUnbound(dir, DOMAIN, `127.0.0.1:${target.dnsPort}`, { trustAnchor: anchor });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "regsrv-e2e-dnssec-"));
  config = join(work, "registration.toml");
  writeFileSync(config, `[dns]\ndnssec = true\nnameservers = [["ns1.${DOMAIN}.", "192.0.2.53"]]\ncaa = ['0 issue "letsencrypt.org"']\n`);
  resend = startResendStandIn();
  server = await steps.step("start the compiled server with dns.dnssec on", 60_000, () => startBinary(resend, ["--config", config]));
  steps.watch("registration-server", () => server.output());
  ds = await steps.step("dnssec ds prints the DS", 20_000, () => dsOf(server));
  unbound = await steps.step("start unbound with the DS as its trust anchor", 30_000, () => validatingUnbound(server, ds, "unbound"));
  steps.watch("unbound", () => unbound.daemon.output());
  await steps.step("register a gateway, ping, set a challenge", 15_000, async () => {
    const r = await apiGet(server.url, "/subscribe", { name: gw, mode: "1" });
    check(r.status === 200, `expected 200: ${said("/subscribe", r)}`);
    const token = r.json.token as string;
    check((await apiGet(server.url, "/ping", { token }, { realIp: gatewayIp })).status === 200, "ping");
    check((await apiGet(server.url, "/dnsconfig", { token, challenge })).status === 200, "dnsconfig");
  });
});

afterAll(async () => {
  await unbound?.daemon.stop();
  if (server) await server.dispose();
  resend?.stop();
  await stopAllDaemons();
  if (work) rmSync(work, { recursive: true, force: true });
  console.log(`dnssec e2e step timings:\n${steps.summary()}`);
});

test("the DS `dnssec ds` prints is what dnssec-dsfromkey computes over the served DNSKEY", async () => {
  expect(ds).toMatch(/^example\.test\. IN DS \d+ 13 2 [0-9A-F]{64}$/);
  const fromKey = await run(["bash", "-c", `dig @127.0.0.1 -p ${server.dnsPort} +norec +noall +answer ${DOMAIN} DNSKEY | dnssec-dsfromkey -2 -f - ${DOMAIN}`], {
    timeoutMs: 15_000,
  });
  expect(fromKey.stdout.trim()).toBe(ds);
});

test("unbound validates (ad) a gateway's A and challenge, the apex SOA/NS/CAA, a missing name and a NODATA", async () => {
  const cases: [string, string, (r: Awaited<ReturnType<typeof dig>>) => boolean][] = [
    [`${gw}.${DOMAIN}`, "A", (r) => r.answer.some((rr) => rr.type === "A" && rr.data === gatewayIp)],
    [`_acme-challenge.${gw}.${DOMAIN}`, "TXT", (r) => r.answer.some((rr) => rr.type === "TXT" && txtText(rr) === challenge)],
    [DOMAIN, "SOA", (r) => r.answer.some((rr) => rr.type === "SOA")],
    [DOMAIN, "NS", (r) => r.answer.some((rr) => rr.type === "NS")],
    [DOMAIN, "CAA", (r) => r.answer.some((rr) => rr.type === "CAA")],
    [`missing-${tag}.${DOMAIN}`, "A", (r) => r.answer.length === 0],
    [`${gw}.${DOMAIN}`, "AAAA", (r) => r.answer.length === 0],
  ];
  for (const [name, type, holds] of cases)
    await steps.step(`${name} ${type} validates`, 15_000, async () => {
      const r = await dig(unbound.address, name, type, { dnssec: true });
      check(
        r.status === "NOERROR" && r.flags.includes("ad"),
        `expected NOERROR with ad, got ${r.status} ${r.flags}\n${r.raw}\n${tail(unbound.daemon.output(), 10)}`,
      );
      check(holds(r), `unexpected answer\n${r.raw}`);
    });
});

test("lego obtains a certificate through DNS-01 with pebble and lego resolving via the validating unbound", async () => {
  let pebble: Pebble | undefined;
  try {
    pebble = await steps.step("start pebble resolving through unbound", 30_000, () => startPebble(join(work, "pebble"), unbound.address));
    const sub = await apiGet(server.url, "/subscribe", { name: `acme-${tag}` });
    check(sub.status === 200, `expected 200: ${said("/subscribe", sub)}`);
    const fqdn = `acme-${tag}.${DOMAIN}`;
    const lego = await steps.step("lego run", 120_000, () =>
      legoObtain({ dir: join(work, "lego"), pebble: pebble!, dnsServer: unbound.address, apiUrl: server.url, token: sub.json.token, fqdn }),
    );
    check(lego.code === 0, `lego exited ${lego.code}\n${tail(lego.output, 30)}\n${tail(unbound.daemon.output(), 10)}`);
    expect(await subjectAltNames(lego.certFile)).toEqual([`DNS:${fqdn}`]);
  } finally {
    await pebble?.daemon.stop();
  }
});

test("a binary breaking its own signatures (REGSRV_TEST_BREAK_DNSSEC=1) gets SERVFAIL from unbound", async () => {
  const broken = await steps.step("start a second binary with broken signatures", 60_000, () =>
    startBinary(resend, ["--config", config], { env: { REGSRV_TEST_BREAK_DNSSEC: "1" } }),
  );
  let brokenUnbound: Unbound | undefined;
  try {
    const brokenDs = await dsOf(broken);
    brokenUnbound = await validatingUnbound(broken, brokenDs, "unbound-broken");
    const r = await dig(brokenUnbound.address, DOMAIN, "SOA", { dnssec: true });
    check(r.status === "SERVFAIL", `expected SERVFAIL, got ${r.status}\n${r.raw}`);
    expect(brokenUnbound.daemon.output()).toMatch(/validation failure/);
  } finally {
    await brokenUnbound?.daemon.stop();
    await broken.dispose();
  }
});
