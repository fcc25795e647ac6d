// Our DNS as resolvers see it: Debian's unbound recursing into the zone through a stub-zone,
// and dig straight at the DNS port over UDP and TCP, with and without EDNS.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startResendStandIn, type ResendStandIn } from "../support/resend.ts";
import { apiGet, describe as said } from "./lib/api.ts";
import { DOMAIN, startBinary, type BinaryServer } from "./lib/binary.ts";
import { dig, txtText, type DigOptions, type DigResult } from "./lib/dig.ts";
import { stopAllDaemons } from "./lib/proc.ts";
import { check, Steps } from "./lib/steps.ts";
import { startUnbound, type Unbound } from "./lib/unbound.ts";

const steps = new Steps("resolver");
let work: string;
let resend: ResendStandIn;
let server: BinaryServer;
let unbound: Unbound;
let direct: string;

const run = crypto.randomUUID().slice(0, 8);
const gw = `gw-${run}`; // dynamic DNS gateway that pinged, with a challenge
const quiet = `quiet-${run}`; // subscribed, never set a challenge
const gatewayIp = "127.0.0.66";
const challenge = `e2e-challenge-${run}`;
const CAA = '0 issue "letsencrypt.org"';
// Three 200-byte TXT strings for every gateway name: over 512 bytes in one answer.
const bigTxt = ["a", "b", "c"].map((c) => c.repeat(200));

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "regsrv-e2e-resolver-"));
  const config = join(work, "registration.toml");
  writeFileSync(config, `[dns]\ncaa = ['${CAA}']\ntxt = [${bigTxt.map((t) => `["*", "${t}"]`).join(", ")}]\n`);
  resend = startResendStandIn();
  server = await steps.step("start the compiled server", 60_000, () => startBinary(resend, ["--config", config]));
  steps.watch("registration-server", () => server.output());
  direct = `127.0.0.1:${server.dnsPort}`;
  unbound = await steps.step("start unbound with a stub-zone for the zone", 30_000, () => startUnbound(work, DOMAIN, direct));
  steps.watch("unbound", () => unbound.daemon.output());
  await steps.step("register the gateways through the API", 15_000, async () => {
    for (const name of [gw, quiet]) {
      const r = await apiGet(server.url, "/subscribe", { name, mode: "1" });
      check(r.status === 200, `expected 200: ${said("/subscribe", r)}`);
      if (name === gw) {
        const token = r.json.token as string;
        const ping = await apiGet(server.url, "/ping", { token }, { realIp: gatewayIp });
        check(ping.status === 200, `expected 200: ${said("/ping", ping)}`);
        const cfg = await apiGet(server.url, "/dnsconfig", { token, challenge });
        check(cfg.status === 200, `expected 200: ${said("/dnsconfig", cfg)}`);
      }
    }
  });
});

afterAll(async () => {
  await unbound?.daemon.stop();
  if (server) await server.dispose();
  resend?.stop();
  await stopAllDaemons();
  if (work) rmSync(work, { recursive: true, force: true });
  console.log(`resolver e2e step timings:\n${steps.summary()}`);
});

const show = (r: DigResult) => `\n${r.raw}`;
const soaInAuthority = (r: DigResult) => r.authority.some((rr) => rr.type === "SOA" && rr.name.toLowerCase() === `${DOMAIN}.`);

test("unbound resolves a gateway's A, its _acme-challenge TXT, CAA, NXDOMAIN and NODATA through the stub-zone", async () => {
  const ask = (name: string, type: string) => dig(unbound.address, name, type);
  await steps.step("A of the gateway is its last ping address", 15_000, async () => {
    const r = await ask(`${gw}.${DOMAIN}`, "A");
    check(r.status === "NOERROR", `expected NOERROR, got ${r.status}${show(r)}`);
    expect(r.answer.filter((rr) => rr.type === "A").map((rr) => rr.data)).toEqual([gatewayIp]);
  });
  await steps.step("TXT of _acme-challenge is the challenge set through /dnsconfig", 15_000, async () => {
    const r = await ask(`_acme-challenge.${gw}.${DOMAIN}`, "TXT");
    check(r.status === "NOERROR", `expected NOERROR, got ${r.status}${show(r)}`);
    expect(r.answer.filter((rr) => rr.type === "TXT").map(txtText)).toEqual([challenge]);
  });
  await steps.step("CAA of the gateway is the configured record", 15_000, async () => {
    const r = await ask(`${gw}.${DOMAIN}`, "CAA");
    check(r.status === "NOERROR", `expected NOERROR, got ${r.status}${show(r)}`);
    expect(r.answer.filter((rr) => rr.type === "CAA").map((rr) => rr.data)).toEqual([CAA]);
  });
  await steps.step("an unregistered name is NXDOMAIN with the zone's SOA", 15_000, async () => {
    const r = await ask(`nosuch-${run}.${DOMAIN}`, "A");
    check(r.status === "NXDOMAIN", `expected NXDOMAIN, got ${r.status}${show(r)}`);
    check(r.answer.length === 0 && soaInAuthority(r), `expected no answer and the SOA of ${DOMAIN}. in authority${show(r)}`);
  });
  await steps.step("AAAA of an IPv4 gateway is NODATA with the zone's SOA", 15_000, async () => {
    const r = await ask(`${gw}.${DOMAIN}`, "AAAA");
    check(r.status === "NOERROR" && r.answer.length === 0 && soaInAuthority(r), `expected NOERROR, no answer, SOA in authority${show(r)}`);
  });
  await steps.step("_acme-challenge TXT of a gateway without a challenge is NODATA", 15_000, async () => {
    const r = await ask(`_acme-challenge.${quiet}.${DOMAIN}`, "TXT");
    check(r.status === "NOERROR" && r.answer.length === 0 && soaInAuthority(r), `expected NOERROR, no answer, SOA in authority${show(r)}`);
  });
  await steps.step("unbound logged no error about the zone", 5_000, () => {
    const errors = unbound.daemon
      .output()
      .split("\n")
      .filter((l) => /error|fail/i.test(l) && l.includes(DOMAIN));
    check(errors.length === 0, `unbound errors:\n${errors.join("\n")}`);
  });
});

const transports: [string, DigOptions][] = [
  ["UDP with EDNS", { tcp: false, edns: true }],
  ["UDP without EDNS", { tcp: false, edns: false }],
  ["TCP with EDNS", { tcp: true, edns: true }],
  ["TCP without EDNS", { tcp: true, edns: false }],
];

test("dig at the DNS port: aa, rcodes and authority SOA over UDP and TCP, with and without EDNS", async () => {
  for (const [how, options] of transports) {
    const ask = (name: string, type: string) => dig(direct, name, type, { ...options, recurse: false });
    const opt = (r: DigResult) => check(r.edns === options.edns, `expected ${options.edns ? "an" : "no"} OPT record${show(r)}`);
    await steps.step(`${how}: A of the gateway, authoritative, question echoed as asked`, 10_000, async () => {
      const asked = `${gw.toUpperCase()}.Example.TEST.`;
      const r = await ask(asked, "A");
      check(r.status === "NOERROR" && r.flags.includes("aa"), `expected NOERROR with aa${show(r)}`);
      check(r.question === asked, `question echoed as ${r.question}, asked ${asked}${show(r)}`);
      expect(r.answer.map((rr) => [rr.type, rr.data])).toEqual([["A", gatewayIp]]);
      opt(r);
    });
    await steps.step(`${how}: TXT of _acme-challenge`, 10_000, async () => {
      const r = await ask(`_acme-challenge.${gw}.${DOMAIN}`, "TXT");
      check(r.status === "NOERROR" && r.flags.includes("aa"), `expected NOERROR with aa${show(r)}`);
      expect(r.answer.map(txtText)).toEqual([challenge]);
    });
    await steps.step(`${how}: NXDOMAIN, authoritative, SOA in authority`, 10_000, async () => {
      const r = await ask(`nosuch-${run}.${DOMAIN}`, "TXT");
      check(r.status === "NXDOMAIN" && r.flags.includes("aa"), `expected NXDOMAIN with aa${show(r)}`);
      check(r.answer.length === 0 && soaInAuthority(r), `expected the SOA of ${DOMAIN}. in authority${show(r)}`);
      opt(r);
    });
    await steps.step(`${how}: NODATA, authoritative, SOA in authority`, 10_000, async () => {
      const r = await ask(`${gw}.${DOMAIN}`, "AAAA");
      check(r.status === "NOERROR" && r.flags.includes("aa"), `expected NOERROR with aa${show(r)}`);
      check(r.answer.length === 0 && soaInAuthority(r), `expected no answer and the SOA in authority${show(r)}`);
    });
    await steps.step(`${how}: the apex SOA`, 10_000, async () => {
      const r = await ask(`${DOMAIN}.`, "SOA");
      check(r.status === "NOERROR" && r.flags.includes("aa"), `expected NOERROR with aa${show(r)}`);
      check(
        r.answer.length === 1 && r.answer[0].type === "SOA" && r.answer[0].data.startsWith(`ns1.${DOMAIN}. hostmaster.${DOMAIN}.`),
        `expected the SOA${show(r)}`,
      );
    });
    await steps.step(`${how}: a name outside the zone is REFUSED without aa`, 10_000, async () => {
      const r = await ask("example.com.", "A");
      check(r.status === "REFUSED" && !r.flags.includes("aa"), `expected REFUSED without aa${show(r)}`);
    });
  }
});

test("an answer over 512 bytes is truncated over UDP without EDNS, whole over TCP and with EDNS", async () => {
  const name = `${gw}.${DOMAIN}`;
  const texts = (r: DigResult) =>
    r.answer
      .filter((rr) => rr.type === "TXT")
      .map(txtText)
      .sort();
  await steps.step("UDP without EDNS: TC set", 10_000, async () => {
    const r = await dig(direct, name, "TXT", { edns: false, ignoreTruncation: true, recurse: false });
    check(r.status === "NOERROR" && r.flags.includes("tc"), `expected NOERROR with tc${show(r)}`);
  });
  await steps.step("TCP without EDNS: every record, no TC", 10_000, async () => {
    const r = await dig(direct, name, "TXT", { tcp: true, edns: false, recurse: false });
    check(!r.flags.includes("tc") && r.flags.includes("aa"), `expected aa without tc${show(r)}`);
    expect(texts(r)).toEqual(bigTxt);
  });
  await steps.step("UDP with EDNS (1232 bytes): every record, no TC", 10_000, async () => {
    const r = await dig(direct, name, "TXT", { edns: true, ignoreTruncation: true, recurse: false });
    check(!r.flags.includes("tc") && r.edns, `expected an OPT record and no tc${show(r)}`);
    expect(texts(r)).toEqual(bigTxt);
  });
  await steps.step("unbound (falls back to TCP itself) gets every record", 15_000, async () => {
    const r = await dig(unbound.address, name, "TXT");
    check(r.status === "NOERROR", `expected NOERROR${show(r)}`);
    expect(texts(r)).toEqual(bigTxt);
  });
});

test("a challenge changed through the API is what DNS answers on the very next query", async () => {
  const fresh = `e2e-next-${crypto.randomUUID()}`;
  const token = await steps.step("subscribe and set a challenge", 10_000, async () => {
    const r = await apiGet(server.url, "/subscribe", { name: `next-${run}` });
    check(r.status === 200, said("/subscribe", r));
    const cfg = await apiGet(server.url, "/dnsconfig", { token: r.json.token, challenge: fresh });
    check(cfg.status === 200, said("/dnsconfig", cfg));
    return r.json.token as string;
  });
  await steps.step("the next query answers it", 10_000, async () => {
    const r = await dig(direct, `_acme-challenge.next-${run}.${DOMAIN}`, "TXT", { recurse: false });
    expect(r.answer.map(txtText)).toEqual([fresh]);
  });
  await steps.step("after /unsubscribe the name is NXDOMAIN", 10_000, async () => {
    const r = await apiGet(server.url, "/unsubscribe", { token });
    check(r.status === 200, said("/unsubscribe", r));
    const d = await dig(direct, `next-${run}.${DOMAIN}`, "A", { recurse: false });
    check(d.status === "NXDOMAIN" && soaInAuthority(d), `expected NXDOMAIN with SOA${show(d)}`);
  });
});

test("the compiled binary exits 0 on SIGTERM", async () => {
  await unbound.daemon.stop();
  const code = await steps.step("SIGTERM the server", 10_000, () => server.dispose());
  server = undefined as unknown as BinaryServer;
  expect(code).toBe(0);
});
