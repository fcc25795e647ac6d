// Secondaries serve the zone presigned (SPEC 9): NSD, a real secondary without the key, takes
// the compiled server's AXFR (NOTIFY, then request-xfr) of a zone with dns.dnssec on, and
// unbound, holding the DS the server printed as its trust anchor and asking NSD only, validates
// what NSD answers: a gateway's A and its _acme-challenge TXT come back with the ad flag, and a
// name that does not exist is an NXDOMAIN proven by NSD's NSEC records from the presigned chain
// (the primary itself would answer it with compact denial: NOERROR). A gateway added later
// reaches NSD by NOTIFY and validates too.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../support/server.ts";
import { startResendStandIn, type ResendStandIn } from "../support/resend.ts";
import { apiGet, describe as said } from "./lib/api.ts";
import { DOMAIN, startBinary, type BinaryServer } from "./lib/binary.ts";
import { dig, txtText } from "./lib/dig.ts";
import { spawnDaemon, stopAllDaemons, waitFor, type Daemon } from "./lib/proc.ts";
import { check, Steps } from "./lib/steps.ts";
import { startUnbound, type Unbound } from "./lib/unbound.ts";

const NSD = "/usr/sbin/nsd";
const steps = new Steps("presigned");
let work: string;
let resend: ResendStandIn;
let server: BinaryServer;
let nsd: Daemon;
let nsdAddress: string;
let unbound: Unbound;
let ds: string;

const run = crypto.randomUUID().slice(0, 8);
// "a-<run>" and "a-<run>-b": the second's name sorts before the first's by octets, after it canonically
const gw = `a-${run}`;
const gwLonger = `a-${run}-b`;
const later = `later-${run}`;
const challenge = `presigned-${run}`;

async function register(name: string, ip: string): Promise<string> {
  const r = await apiGet(server.url, "/subscribe", { name, mode: "1" });
  check(r.status === 200, `expected 200: ${said("/subscribe", r)}`);
  const token = r.json.token as string;
  const ping = await apiGet(server.url, "/ping", { token }, { realIp: ip });
  check(ping.status === 200, `expected 200: ${said("/ping", ping)}`);
  return token;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "regsrv-e2e-presigned-"));
  const nsdPort = await freePort();
  nsdAddress = `127.0.0.1:${nsdPort}`;
  const config = join(work, "registration.toml");
  writeFileSync(
    config,
    `[dns]
dnssec = true
nameservers = [["ns1.example.test.", "127.0.0.1"]]
caa = ['0 issue "letsencrypt.org"']
transfer_acl = [["127.0.0.1", ""]]
notify = [["${nsdAddress}", ""]]
`,
  );
  resend = startResendStandIn();
  server = await steps.step("start the compiled server, signing", 60_000, () => startBinary(resend, ["--config", config]));
  steps.watch("registration-server", () => server.output());
  ds = (await server.waitForOutput(/the registrar needs its DS: (.+)$/m))[1].trim();
  await steps.step("register gateways through the API", 15_000, async () => {
    const token = await register(gw, "127.0.0.66");
    const cfg = await apiGet(server.url, "/dnsconfig", { token, challenge });
    check(cfg.status === 200, `expected 200: ${said("/dnsconfig", cfg)}`);
    await register(gwLonger, "127.0.0.67");
  });

  const nsdDir = join(work, "nsd");
  Bun.spawnSync(["mkdir", "-p", nsdDir]);
  const nsdConfig = join(nsdDir, "nsd.conf");
  writeFileSync(
    nsdConfig,
    `server:
  ip-address: 127.0.0.1@${nsdPort}
  username: ""
  chroot: ""
  zonesdir: "${nsdDir}"
  pidfile: "${nsdDir}/nsd.pid"
  database: ""
  xfrdfile: "${nsdDir}/xfrd.state"
  zonelistfile: "${nsdDir}/zone.list"
  xfrdir: "${nsdDir}"
  logfile: "${nsdDir}/nsd.log"
  verbosity: 2
  server-count: 1
remote-control:
  control-enable: no
zone:
  name: "${DOMAIN}"
  zonefile: "${DOMAIN}.zone"
  request-xfr: 127.0.0.1@${server.dnsPort} NOKEY
  allow-notify: 127.0.0.1 NOKEY
`,
  );
  nsd = spawnDaemon("nsd", [NSD, "-d", "-c", nsdConfig], { cwd: nsdDir });
  const nsdLog = () => (existsSync(join(nsdDir, "nsd.log")) ? readFileSync(join(nsdDir, "nsd.log"), "utf8") : nsd.output());
  steps.watch("nsd", nsdLog);
  await steps.step("NSD transfers the signed zone", 30_000, () =>
    waitFor("NSD to serve the gateway's signed A", 30_000, async () => {
      if (nsd.exited()) throw new Error(`nsd exited: ${nsdLog()}`);
      const r = await dig(nsdAddress, `${gw}.${DOMAIN}`, "A", { dnssec: true, recurse: false }).catch(() => undefined);
      return r?.status === "NOERROR" && r.answer.some((a) => a.type === "RRSIG") ? true : undefined;
    }),
  );
  unbound = await steps.step("start unbound validating with the DS, asking NSD only", 30_000, () =>
    startUnbound(join(work), DOMAIN, nsdAddress, { trustAnchor: ds }),
  );
  steps.watch("unbound", () => unbound.daemon.output());
});

afterAll(async () => {
  await unbound?.daemon.stop();
  await nsd?.stop();
  if (server) await server.dispose();
  resend?.stop();
  await stopAllDaemons();
  if (work) rmSync(work, { recursive: true, force: true });
});

test.skipIf(!existsSync(NSD))("NSD serves the presigned zone and unbound validates its answers (ad), its NXDOMAIN included", async () => {
  const a = await dig(unbound.address, `${gw}.${DOMAIN}`, "A", { dnssec: true });
  expect(a.status, a.raw).toBe("NOERROR");
  expect(a.flags, a.raw).toContain("ad");
  expect(a.answer.filter((r) => r.type === "A").map((r) => r.data)).toEqual(["127.0.0.66"]);

  const longer = await dig(unbound.address, `${gwLonger}.${DOMAIN}`, "A", { dnssec: true });
  expect(longer.flags, longer.raw).toContain("ad");
  expect(longer.answer.filter((r) => r.type === "A").map((r) => r.data)).toEqual(["127.0.0.67"]);

  const txt = await dig(unbound.address, `_acme-challenge.${gw}.${DOMAIN}`, "TXT", { dnssec: true });
  expect(txt.flags, txt.raw).toContain("ad");
  expect(txt.answer.filter((r) => r.type === "TXT").map(txtText)).toEqual([challenge]);

  // between a-<run> and a-<run>-b in canonical order: NSD proves it from the chain
  const missing = `a-${run}-a.${DOMAIN}`;
  const direct = await dig(nsdAddress, missing, "A", { dnssec: true, recurse: false });
  expect(direct.status, direct.raw).toBe("NXDOMAIN");
  expect(
    direct.authority.some((r) => r.type === "NSEC"),
    direct.raw,
  ).toBe(true);
  const nx = await dig(unbound.address, missing, "A", { dnssec: true });
  expect(nx.status, nx.raw).toBe("NXDOMAIN");
  expect(nx.flags, nx.raw).toContain("ad");

  const nodata = await dig(unbound.address, `${gw}.${DOMAIN}`, "MX", { dnssec: true });
  expect(nodata.status, nodata.raw).toBe("NOERROR");
  expect(nodata.answer.filter((r) => r.type === "MX")).toEqual([]);
  expect(nodata.flags, nodata.raw).toContain("ad");

  const soa = await dig(unbound.address, DOMAIN, "SOA", { dnssec: true });
  expect(soa.flags, soa.raw).toContain("ad");
});

test.skipIf(!existsSync(NSD))("a gateway added later reaches NSD by NOTIFY and validates there", async () => {
  await register(later, "127.0.0.68");
  await waitFor("NSD to take the new serial", 20_000, async () => {
    const r = await dig(nsdAddress, `${later}.${DOMAIN}`, "A", { recurse: false }).catch(() => undefined);
    return r?.status === "NOERROR" && r.answer.length > 0 ? true : undefined;
  });
  const a = await dig(unbound.address, `${later}.${DOMAIN}`, "A", { dnssec: true });
  expect(a.status, a.raw).toBe("NOERROR");
  expect(a.flags, a.raw).toContain("ad");
  expect(a.answer.filter((r) => r.type === "A").map((r) => r.data)).toEqual(["127.0.0.68"]);
});
