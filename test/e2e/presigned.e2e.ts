// Secondaries serve the zone presigned (docs/dns.md, "Transfers to secondaries"): NSD, a real secondary without the key, takes
// the compiled server's AXFR (NOTIFY, then request-xfr) of a zone with dns.dnssec on, and
// unbound, holding the DS the server printed as its trust anchor and asking NSD only, validates
// what NSD answers: a gateway's A and its _acme-challenge TXT come back with the ad flag, and a
// name that does not exist is an NXDOMAIN proven by NSD's NSEC records from the presigned chain
// (the primary itself would answer it with compact denial: NOERROR). A gateway added later
// reaches NSD by NOTIFY and validates too. The same chain from a build whose signatures are
// broken (REGSRV_TEST_BREAK_DNSSEC) gets SERVFAIL from unbound: the check can fail.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
const run = crypto.randomUUID().slice(0, 8);
// "a-<run>" and "a-<run>-b": the second's name sorts before the first's by octets, after it canonically
const gw = `a-${run}`;
const gwLonger = `a-${run}-b`;
const later = `later-${run}`;
const challenge = `presigned-${run}`;

/** The compiled server (signing), NSD as its secondary, and unbound validating through NSD alone. */
interface Chain {
  server: BinaryServer;
  nsd: Daemon;
  nsdAddress: string;
  unbound: Unbound;
}

let resend: ResendStandIn;
const works: string[] = [];
const chains: Partial<Chain>[] = [];

async function register(server: BinaryServer, name: string, ip: string): Promise<string> {
  const r = await apiGet(server.url, "/subscribe", { name, mode: "1" });
  check(r.status === 200, `expected 200: ${said("/subscribe", r)}`);
  const token = r.json.token as string;
  const ping = await apiGet(server.url, "/ping", { token }, { realIp: ip });
  check(ping.status === 200, `expected 200: ${said("/ping", ping)}`);
  return token;
}

async function startChain(steps: Steps, env: Record<string, string> = {}): Promise<Chain> {
  const work = mkdtempSync(join(tmpdir(), "regsrv-e2e-presigned-"));
  works.push(work);
  const chain: Partial<Chain> = {};
  chains.push(chain);
  const nsdPort = await freePort();
  const nsdAddress = `127.0.0.1:${nsdPort}`;
  chain.nsdAddress = nsdAddress;
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
  const server = await steps.step("start the compiled server, signing", 60_000, () => startBinary(resend, ["--config", config], { env }));
  chain.server = server;
  steps.watch("registration-server", () => server.output());
  const ds = (await server.waitForOutput(/the registrar needs its DS: (.+)$/m))[1].trim();
  await steps.step("register gateways through the API", 15_000, async () => {
    const token = await register(server, gw, "127.0.0.66");
    const cfg = await apiGet(server.url, "/dnsconfig", { token, challenge });
    check(cfg.status === 200, `expected 200: ${said("/dnsconfig", cfg)}`);
    await register(server, gwLonger, "127.0.0.67");
  });

  const nsdDir = join(work, "nsd");
  mkdirSync(nsdDir);
  const nsdConfig = join(nsdDir, "nsd.conf");
  writeFileSync(
    nsdConfig,
    `server:
  ip-address: ${nsdAddress.replace(":", "@")}
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
  const nsd = spawnDaemon("nsd", [NSD, "-d", "-c", nsdConfig], { cwd: nsdDir });
  chain.nsd = nsd;
  const nsdLog = () => (existsSync(join(nsdDir, "nsd.log")) ? readFileSync(join(nsdDir, "nsd.log"), "utf8") : nsd.output());
  steps.watch("nsd", nsdLog);
  await steps.step("NSD transfers the signed zone", 30_000, () =>
    waitFor("NSD to serve the gateway's signed A", 30_000, async () => {
      if (nsd.exited()) throw new Error(`nsd exited: ${nsdLog()}`);
      const r = await dig(nsdAddress, `${gw}.${DOMAIN}`, "A", { dnssec: true, recurse: false }).catch(() => undefined);
      return r?.status === "NOERROR" && r.answer.some((a) => a.type === "RRSIG") ? true : undefined;
    }),
  );
  const unbound = await steps.step("start unbound validating with the DS, asking NSD only", 30_000, () =>
    startUnbound(work, DOMAIN, nsdAddress, { trustAnchor: ds }),
  );
  chain.unbound = unbound;
  steps.watch("unbound", () => unbound.daemon.output());
  return chain as Chain;
}

beforeAll(() => {
  resend = startResendStandIn();
});

afterAll(async () => {
  for (const chain of chains) {
    await chain.unbound?.daemon.stop();
    await chain.nsd?.stop();
    if (chain.server) await chain.server.dispose();
  }
  resend?.stop();
  await stopAllDaemons();
  for (const work of works) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!existsSync(NSD))("NSD as a secondary of a signed zone", () => {
  let chain: Chain;
  beforeAll(async () => {
    chain = await startChain(new Steps("presigned"));
  });

  test("NSD serves the presigned zone and unbound validates its answers (ad), its NXDOMAIN included", async () => {
    const { unbound, nsdAddress } = chain;
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

  test("a gateway added later reaches NSD by NOTIFY and validates there", async () => {
    const { server, unbound, nsdAddress } = chain;
    await register(server, later, "127.0.0.68");
    await waitFor("NSD to take the new serial", 20_000, async () => {
      const r = await dig(nsdAddress, `${later}.${DOMAIN}`, "A", { recurse: false }).catch(() => undefined);
      return r?.status === "NOERROR" && r.answer.length > 0 ? true : undefined;
    });
    const a = await dig(unbound.address, `${later}.${DOMAIN}`, "A", { dnssec: true });
    expect(a.status, a.raw).toBe("NOERROR");
    expect(a.flags, a.raw).toContain("ad");
    expect(a.answer.filter((r) => r.type === "A").map((r) => r.data)).toEqual(["127.0.0.68"]);
  });
});

describe.skipIf(!existsSync(NSD))("NSD as a secondary of a zone with broken signatures", () => {
  test("unbound refuses what NSD serves (SERVFAIL), so the checks above can fail", async () => {
    const chain = await startChain(new Steps("presigned-broken"), { REGSRV_TEST_BREAK_DNSSEC: "1" });
    const a = await dig(chain.unbound.address, `${gw}.${DOMAIN}`, "A", { dnssec: true });
    expect(a.status, a.raw).toBe("SERVFAIL");
    expect(a.flags).not.toContain("ad");
    // the reason, not some other failure: unbound logs it at val-log-level 2
    await waitFor("unbound to log the failed signature", 5_000, () => (/signature crypto failed/.test(chain.unbound.daemon.output()) ? true : undefined));
  }, 120_000);
});
