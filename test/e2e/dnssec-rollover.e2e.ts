// A DNSSEC key rollover carried out as README "DNSSEC" tells the operator (double-DS, RFC 7583
// 3.3.2 with a combined key): `dnssec roll prepublish`, a restart, `dnssec roll switch`, a
// restart, `dnssec roll retire`, a restart. Checked from outside: the DNSKEY RRset the server
// answers, which key signs, the DS lines `dnssec ds` prints, the SOA serial, and BIND's delv
// validating with the DS set a parent would hold at each point.
// A spawned server makes the key and holds the file (the CLI refuses to roll), and another one
// serves the rolled keys at the end; the restarts in between are the server's DNS side started
// in this process on the same file (test/support/zone-dns.ts), and the CLI steps run in this
// process (test/support/cli.ts): each spawn is ~1.4 s of CPU.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "./lib/proc.ts";
import { cliInProcess } from "../support/cli.ts";
import { writeToml } from "../support/helpers.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import { startZoneDns, type ZoneDns } from "../support/zone-dns.ts";
import { decode, encodeQuery, soaSerial, tcpExchange } from "../dns/client.ts";

/** EDNS's DNSSEC OK bit (RFC 3225). */
const DO = 0x8000;

setDefaultTimeout(60_000);

const ZONE = "example.test";
const dir = mkdtempSync(join(tmpdir(), "regsrv-dnssec-roll-"));
const dbPath = join(dir, "registration.sqlite");
const config = await writeToml(dir, `[dns]\ndnssec = true\nnameservers = [["ns1.example.test.", "192.0.2.53"]]\n`);
const started: { cleanup?(): Promise<void>; close?(): Promise<void> }[] = [];
afterAll(async () => {
  for (const s of started) await (s.cleanup ?? s.close)?.call(s);
  rmSync(dir, { recursive: true, force: true });
});

/** A whole server process on the file. */
async function serve(): Promise<RunningServer> {
  const server = await startServer({ dir, dbPath, args: ["--config", config] });
  started.push(server);
  return server;
}

/** A restart as the DNS sees it: the server's DNS side in this process on the file. */
async function restart(): Promise<ZoneDns> {
  const dns = await startZoneDns(["--config", config, "--domain", ZONE, "--db", dbPath]);
  started.push(dns);
  return dns;
}

type Dns = { dnsPort: number };

const cli = (...args: string[]) => cliInProcess([...args, "--db", dbPath, "--config", config, "--domain", ZONE, "--admin-port", "0"]);

/** `dnssec ds`'s lines, each `[DS text, state or ""]`. */
async function dsLines(): Promise<[string, string][]> {
  const result = await cli("dnssec", "ds");
  expect(result.code, result.stderr).toBe(0);
  return result.stdout
    .trim()
    .split("\n")
    .map((line) => {
      const [ds, state = ""] = line.split(" ; ");
      return [ds, state];
    });
}

const tagOf = (ds: string) => Number(ds.split(/\s+/)[3]);

/** delv against the server, the given DS records as the trust anchors (what the parent holds). */
async function delv(server: Dns, dsSet: string[], name: string, type: string): Promise<string> {
  // one file per DS set: the checks of one set run side by side
  const anchors = join(dir, `anchors-${dsSet.map(tagOf).join("-")}.conf`);
  const lines = dsSet.map((ds) => {
    const [, , , tag, algorithm, digestType, digest] = ds.split(/\s+/);
    return `"${ZONE}." static-ds ${tag} ${algorithm} ${digestType} "${digest}";`;
  });
  writeFileSync(anchors, `trust-anchors {\n${lines.join("\n")}\n};\n`);
  const result = await run(["delv", "@127.0.0.1", "-p", String(server.dnsPort), "-a", anchors, `+root=${ZONE}`, name, type], { timeoutMs: 15_000 });
  return `${result.stdout}${result.stderr}`;
}

/** The key tags of the RRSIGs over `type` at `name`, and the records of that type (asked over TCP with the DO bit, as a resolver does). */
async function signed(server: Dns, name: string, type: string): Promise<{ records: string[]; signers: number[] }> {
  const [reply] = await tcpExchange(server.dnsPort, [encodeQuery(name, type, { edns: { flags: DO } })]);
  const answer = decode(reply);
  expect(answer.rcode).toBe("NOERROR");
  const records = (answer.answers ?? []) as { type: string; data: unknown }[];
  return {
    records: records.filter((r) => r.type === type).map((r) => JSON.stringify(r.data)),
    signers: records
      .filter((r) => r.type === "RRSIG" && (r.data as { typeCovered: string }).typeCovered === type)
      .map((r) => (r.data as { keyTag: number }).keyTag)
      .sort((a, b) => a - b),
  };
}

describe.skipIf(!existsSync("/usr/bin/delv"))("a DNSSEC key rollover (prepublish, switch, retire)", () => {
  let server: Dns & { stop?(): Promise<number>; close?(): Promise<void>; output(): string };
  let oldDs = "";
  let newDs = "";
  let firstSerial = 0;
  // A positive answer and a denial: delv validates the DNSKEY RRset on the way to either, and
  // every other RRset is signed by the same key (test/e2e/dnssec-validators.e2e.ts asks for each kind).
  const QUESTIONS: [string, string][] = [
    [ZONE, "SOA"],
    [`no-such-name.${ZONE}`, "A"],
  ];
  const validates = async (dsSet: string[]) => {
    const answers = await Promise.all(QUESTIONS.map(([name, type]) => delv(server, dsSet, name, type)));
    for (const [i, [name, type]] of QUESTIONS.entries()) expect(answers[i], `${name} ${type}`).toContain("fully validated");
  };

  test("before: one key, one DS line, validated", async () => {
    server = await serve();
    const lines = await dsLines();
    expect(lines).toHaveLength(1);
    oldDs = lines[0][0];
    firstSerial = await soaSerial(server.dnsPort, ZONE);
    expect((await signed(server, ZONE, "DNSKEY")).records).toHaveLength(1);
    await validates([oldDs]);
  });

  test("a roll step is refused while a server has the file open, and out of order", async () => {
    const busy = await cli("dnssec", "roll", "prepublish");
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain(`has ${dbPath} open: stop it`);
    await server.stop?.();
    const early = await cli("dnssec", "roll", "switch");
    expect(early.code).toBe(1);
    expect(early.stderr).toContain("no key is pre-published: the first step is `dnssec roll prepublish`");
    const retire = await cli("dnssec", "roll", "retire");
    expect(retire.code).toBe(1);
    expect(retire.stderr).toContain("no rollover is under way");
    expect(await dsLines()).toEqual([[oldDs, ""]]);
  });

  test("prepublish: both DNSKEYs served, everything still signed by the old key only, two DS lines, a new serial", async () => {
    const result = await cli("dnssec", "roll", "prepublish");
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("pre-published a new ecdsap256sha256 key");
    server = await restart();
    expect(await soaSerial(server.dnsPort, ZONE)).toBeGreaterThan(firstSerial);
    expect(server.output()).toContain("rollover under way: a published key is in the DNSKEY RRset too");
    const lines = await dsLines();
    expect(lines).toEqual([
      [oldDs, "active"],
      [expect.any(String), "published"],
    ]);
    newDs = lines[1][0];
    expect(tagOf(newDs)).not.toBe(tagOf(oldDs));
    const dnskeys = await signed(server, ZONE, "DNSKEY");
    expect(dnskeys.records).toHaveLength(2);
    expect(dnskeys.signers).toEqual([tagOf(oldDs)]);
    expect((await signed(server, ZONE, "SOA")).signers).toEqual([tagOf(oldDs)]);
    // the parent holds both DS records now (double-DS): validated through the old key
    await validates([oldDs, newDs]);
    // and a resolver that still has only the old DS cached validates too
    await validates([oldDs]);
  });

  test("switch: the new key signs everything, the DNSKEY RRset included; the old key still served; both DS validate", async () => {
    const serialBefore = await soaSerial(server.dnsPort, ZONE);
    await server.close?.();
    const result = await cli("dnssec", "roll", "switch");
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`key ${tagOf(newDs)} signs now`);
    server = await restart();
    expect(await soaSerial(server.dnsPort, ZONE)).toBeGreaterThan(serialBefore);
    expect(await dsLines()).toEqual([
      [newDs, "active"],
      [oldDs, "retiring"],
    ]);
    const dnskeys = await signed(server, ZONE, "DNSKEY");
    expect(dnskeys.records).toHaveLength(2);
    expect(dnskeys.signers).toEqual([tagOf(newDs)]);
    expect((await signed(server, ZONE, "SOA")).signers).toEqual([tagOf(newDs)]);
    expect((await signed(server, ZONE, "NS")).signers).toEqual([tagOf(newDs)]);
    await validates([oldDs, newDs]);
    await validates([newDs]);
    // why README waits for the parent's DS TTL before switching: a resolver with the old DS alone fails now
    expect(await delv(server, [oldDs], ZONE, "SOA")).not.toContain("fully validated");
  });

  test("retire: one DNSKEY, the new one; validated with the new DS only; further steps refused", async () => {
    const serialBefore = await soaSerial(server.dnsPort, ZONE);
    await server.close?.();
    const result = await cli("dnssec", "roll", "retire");
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`retired key ${tagOf(oldDs)}`);
    const again = await cli("dnssec", "roll", "retire");
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("no rollover is under way");
    // the whole flow once through a real start: the process reads the rolled keys
    server = await serve();
    expect(await soaSerial(server.dnsPort, ZONE)).toBeGreaterThan(serialBefore);
    expect(await dsLines()).toEqual([[newDs, ""]]);
    const dnskeys = await signed(server, ZONE, "DNSKEY");
    expect(dnskeys.records).toHaveLength(1);
    expect(dnskeys.signers).toEqual([tagOf(newDs)]);
    await validates([newDs]);
    expect(await delv(server, [oldDs], ZONE, "SOA")).not.toContain("fully validated");
  });
});
