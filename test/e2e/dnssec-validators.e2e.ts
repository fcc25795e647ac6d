// A signed zone checked by real validators (docs/dns.md, "DNSSEC"): BIND's delv and unbound, holding the DS
// that `registration-server dnssec ds` prints as their trust anchor, validate a gateway's A, its
// _acme-challenge TXT, the apex SOA/NS/CAA, a name that does not exist and a NODATA; the DS
// matches BIND's dnssec-dsfromkey over the DNSKEY the server answers; the key survives a
// restart; and a build whose signatures are broken (REGSRV_TEST_BREAK_DNSSEC) is refused.
// One spawned server makes the key and answers; the restarts are the server's DNS side started
// in this process on the same file (test/support/zone-dns.ts), the CLI runs in this process.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "./lib/proc.ts";
import { startUnbound, type Unbound } from "./lib/unbound.ts";
import { cliInProcess } from "../support/cli.ts";
import { subscribe, writeToml } from "../support/helpers.ts";
import { get, startServer, type RunningServer } from "../support/server.ts";
import { startZoneDns, type ZoneDns } from "../support/zone-dns.ts";
import { ask } from "../dns/client.ts";
import { haveTools } from "../support/tools.ts";

// Process starts, resolvers and validators: seconds each on a loaded machine.
setDefaultTimeout(60_000);

const ZONE = "example.test";
const dir = mkdtempSync(join(tmpdir(), "regsrv-dnssec-"));
const dbPath = join(dir, "registration.sqlite");
const config = await writeToml(
  dir,
  `[dns]
dnssec = true
nameservers = [["ns1.example.test.", "192.0.2.53"]]
caa = ["0 issue \\"letsencrypt.org\\""]
`,
);
const started: RunningServer[] = [];
const restarted: ZoneDns[] = [];
const resolvers: Unbound[] = [];
afterAll(async () => {
  for (const r of resolvers) await r.daemon.stop();
  for (const s of started) await s.cleanup();
  for (const dns of restarted) await dns.close();
  rmSync(dir, { recursive: true, force: true });
});

async function serve(): Promise<RunningServer> {
  const server = await startServer({ dir, dbPath, args: ["--config", config] });
  started.push(server);
  return server;
}

/** A restart as the DNS sees it: the server's DNS side in this process on the file. */
async function restart(env: Record<string, string> = {}): Promise<ZoneDns> {
  const dns = await startZoneDns(["--config", config, "--domain", ZONE, "--db", dbPath], env);
  restarted.push(dns);
  return dns;
}

type Dns = { dnsPort: number };

async function dsOfCli(): Promise<string> {
  const result = await cliInProcess(["dnssec", "ds", "--db", dbPath, "--config", config, "--domain", ZONE, "--admin-port", "0"]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return result.stdout.trim();
}

async function validatingUnbound(server: Dns, ds: string, name: string): Promise<Unbound> {
  const work = join(dir, name);
  mkdirSync(work, { recursive: true });
  const unbound = await startUnbound(work, ZONE, `127.0.0.1:${server.dnsPort}`, { trustAnchor: ds });
  resolvers.push(unbound);
  return unbound;
}

/** delv against the server itself, the DS as its only trust anchor. */
async function delv(server: Dns, ds: string, name: string, type: string): Promise<string> {
  const [, , , tag, algorithm, digestType, digest] = ds.split(/\s+/);
  const anchors = join(dir, "anchors.conf");
  writeFileSync(anchors, `trust-anchors { "${ZONE}." static-ds ${tag} ${algorithm} ${digestType} "${digest}"; };\n`);
  const result = await run(["delv", "@127.0.0.1", "-p", String(server.dnsPort), "-a", anchors, `+root=${ZONE}`, name, type], { timeoutMs: 15_000 });
  return `${result.stdout}${result.stderr}`;
}

const server = await serve();
const gateway = await subscribe(server);
const label = gateway.name.replace(/\..*$/, "");
expect((await get(server, `/ping?token=${gateway.token}`)).status).toBe(200);
expect((await get(server, `/dnsconfig?token=${gateway.token}&challenge=validated-challenge`)).status).toBe(200);

/** Every kind of answer the validators are asked about: [name, type, negative]. */
const QUESTIONS: [string, string, boolean][] = [
  [`${label}.${ZONE}`, "A", false],
  [`_acme-challenge.${label}.${ZONE}`, "TXT", false],
  [ZONE, "SOA", false],
  [ZONE, "NS", false],
  [ZONE, "CAA", false],
  [`no-such-name.${ZONE}`, "A", true],
  [`*.${ZONE}`, "A", true], // a leading `*` label is not counted in the RRSIG's labels
  [`${label}.${ZONE}`, "AAAA", true],
];

// Debian's unbound, bind9-dnsutils (dig, delv) and bind9-utils (installed by .ci/e2e.sh; a machine without them skips these).

describe.skipIf(!haveTools("unbound", "dig", "delv", "dnssec-dsfromkey"))("a signed zone and real validators", () => {
  let ds = "";

  test("`dnssec ds` prints what dnssec-dsfromkey computes over the DNSKEY the server answers", async () => {
    ds = await dsOfCli();
    expect(ds).toMatch(/^example\.test\. IN DS \d+ 13 2 [0-9A-F]{64}$/);
    const fromKey = await run(["bash", "-c", `dig @127.0.0.1 -p ${server.dnsPort} +norec +noall +answer ${ZONE} DNSKEY | dnssec-dsfromkey -2 -f - ${ZONE}`], {
      timeoutMs: 15_000,
    });
    expect(fromKey.stdout.trim()).toBe(ds);
    expect(server.output()).toContain(`the registrar needs its DS: ${ds}`);
  });

  test("delv fully validates every kind of answer, the negative ones included", async () => {
    for (const [name, type, negative] of QUESTIONS) {
      const out = await delv(server, ds, name, type);
      expect(out, `${name} ${type}`).toContain(negative ? "; negative response, fully validated" : "; fully validated");
    }
  });

  test("unbound holding the DS answers each with the ad flag", async () => {
    const unbound = await validatingUnbound(server, ds, "unbound-good");
    for (const [name, type, negative] of QUESTIONS) {
      const answer = await ask(unbound.address, name, type, { dnssec: true });
      expect(answer.flags, `${name} ${type}\n${answer.text}\n${unbound.daemon.output()}`).toContain("ad");
      expect(answer.status).toBe("NOERROR");
      expect(answer.answers.filter((r) => r.type === type).length > 0).toBe(!negative);
    }
  });

  test("the delegated PageKite zone resolves as insecure through unbound (not bogus), its missing DS validated", async () => {
    const unbound = resolvers[0];
    // learn the zone cut first, as a resolver minimising its queries does
    const ns = await ask(unbound.address, `${ZONE}.${ZONE}`, "NS", { dnssec: true });
    expect(ns.status, ns.text).toBe("NOERROR");
    expect(ns.flags).not.toContain("ad");
    const kite = await ask(unbound.address, `a1b2c3.f00dfeed.1a2b3c4d0123456789abcdef0123456789ab.https-443.${label}.${ZONE}.${ZONE}`, "A", { dnssec: true });
    expect(kite.status, `${kite.text}\n${unbound.daemon.output()}`).toBe("NOERROR");
    expect(kite.answers.map((r) => (r as { data: unknown }).data)).toEqual(["255.255.255.1"]);
    expect(await delv(server, ds, `${ZONE}.${ZONE}`, "DS")).toContain("; negative response, fully validated");
  });

  test("a challenge set after its name was looked up is validated at once (no NSEC in unbound's cache denies it)", async () => {
    const unbound = resolvers[0];
    const late = await subscribe(server);
    const name = `_acme-challenge.${late.name.replace(/\..*$/, "")}.${ZONE}`;
    // what an ACME client does first: find the zone of the challenge name
    const before = await ask(unbound.address, name, "SOA", { dnssec: true });
    expect(before.flags).toContain("ad");
    expect((await get(server, `/dnsconfig?token=${late.token}&challenge=set-late`)).status).toBe(200);
    const txt = await ask(unbound.address, name, "TXT", { dnssec: true });
    expect(txt.flags, txt.text).toContain("ad");
    expect(txt.answers.filter((r) => r.type === "TXT").map((r) => Buffer.concat(r.data as Buffer[]).toString())).toEqual(["set-late"]);
  });

  test("the key survives a restart: the same DNSKEY and DS, still validating", async () => {
    const dnskeys = async (port: number) =>
      (await ask(`127.0.0.1:${port}`, ZONE, "DNSKEY", { recurse: false })).answers.filter((r) => r.type === "DNSKEY").map((r) => JSON.stringify(r.data));
    const before = await dnskeys(server.dnsPort);
    expect(before).toHaveLength(1);
    expect(await server.stop()).toBe(0);
    const again = await restart();
    expect(again.output()).toContain("signing with the stored ecdsap256sha256 key");
    expect(await dnskeys(again.dnsPort)).toEqual(before);
    expect(await dsOfCli()).toBe(ds);
    expect(await delv(again, ds, `${label}.${ZONE}`, "A")).toContain("; fully validated");
    await again.close();
  });

  test("broken signatures (REGSRV_TEST_BREAK_DNSSEC=1): unbound answers SERVFAIL (signature crypto failed), delv does not validate", async () => {
    const broken = await restart({ REGSRV_TEST_BREAK_DNSSEC: "1" });
    expect(broken.output()).toContain("every signature is broken on purpose");
    const unbound = await validatingUnbound(broken, ds, "unbound-broken");
    const answer = await ask(unbound.address, `${label}.${ZONE}`, "A", { dnssec: true });
    expect(answer.status, answer.text).toBe("SERVFAIL");
    expect(unbound.daemon.output()).toMatch(/validation failure.*signature crypto failed/);
    expect(await delv(broken, ds, `${label}.${ZONE}`, "A")).not.toContain("fully validated");
  });
});
