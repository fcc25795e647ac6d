// The presigned zone (src/dns/presigned.ts) that transfers carry with dns.dnssec on: a complete
// NSEC chain in canonical order, an RRSIG over every authoritative RRset and none over the
// delegation's NS or its glue, streamed; the whole of it verified by ldns-verify-zone, and the
// AXFR/IXFR streams around it (src/dns/transfer.ts).
import { describe, expect, test } from "bun:test";
import { createPublicKey, verify } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canonicalCompare } from "../../src/dns/canonical.ts";
import { generateSigningKey, loadSigner, signedData, type Signer } from "../../src/dns/dnssec.ts";
import { signedZoneRecords } from "../../src/dns/presigned.ts";
import { transferMessages, type Changeset, type ZoneSnapshot } from "../../src/dns/transfer.ts";
import { TYPE, zoneRecords, type ResourceRecord } from "../../src/dns/zone.ts";
import type { GatewayRecord } from "../../src/gateway-data.ts";
import { decode, testZone } from "./client.ts";
import { presentation } from "./dnssec-text.ts";
import { haveTools } from "../support/tools.ts";

const NOW = Math.floor(Date.now() / 1000);
const SERIAL = 2024010109;
const zone = testZone({ pagekiteAddress: "192.0.2.99", txt: [...testZone().txt, ["test", "static beside the delegation"]] });
const signers = {
  ecdsap256sha256: loadSigner(generateSigningKey("ecdsap256sha256"), { zone: "example.test", ttl: zone.ttl }),
  ed25519: loadSigner(generateSigningKey("ed25519"), { zone: "example.test", ttl: zone.ttl }),
};
const signer = signers.ecdsap256sha256;

type Rr<T extends ResourceRecord["type"]> = Extract<ResourceRecord, { type: T }>;

function gateway(label: string, i: number): [string, GatewayRecord] {
  return [
    `${label}.example.test.`,
    {
      mode: i % 4 === 3 ? 2 : 1,
      lastIp: "",
      lastIpv4: `10.0.${i >> 8}.${i & 255}`,
      lastIpv6: i % 2 === 0 ? `2001:db8::${i.toString(16)}` : "",
      dnsChallenge: i % 3 === 0 ? `challenge-${i}` : "",
      token: "",
    },
  ];
}

/** Gateways whose names' octet order is not their canonical order, in canonical order. */
const LABELS = ["a", "a-b", "a-b-c", "a0", "ab", "b", "test", "tesu", "home", "home-2", "x-1", "x", "z9", "api0"];
const GATEWAYS = LABELS.map(gateway).sort(([a], [b]) => canonicalCompare(a.slice(0, -1), b.slice(0, -1)));

const signed = (s: Signer = signer, gateways = GATEWAYS) => [...signedZoneRecords(zone, SERIAL, gateways, s, NOW)];

function withFiles<T>(files: Record<string, string>, body: (paths: Record<string, string>) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "regsrv-presigned-"));
  try {
    const paths: Record<string, string> = {};
    for (const [name, text] of Object.entries(files)) {
      paths[name] = join(dir, name);
      writeFileSync(paths[name], text);
    }
    return body(paths);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function ldnsVerify(records: ResourceRecord[], s: Signer): { code: number; out: string } {
  const text = `${records.map(presentation).join("\n")}\n`;
  return withFiles({ zone: text, anchor: `${presentation(s.ds())}\n` }, ({ zone: file, anchor }) => {
    const p = Bun.spawnSync(["ldns-verify-zone", "-k", anchor, file], { stdout: "pipe", stderr: "pipe" });
    return { code: p.exitCode ?? -1, out: `${p.stdout}${p.stderr}` };
  });
}

describe("the NSEC chain", () => {
  const records = signed();
  const nsecs = records.filter((r): r is Rr<"NSEC"> => r.type === "NSEC");
  const byOwner = new Map<string, ResourceRecord[]>();
  for (const r of records) byOwner.set(r.name, [...(byOwner.get(r.name) ?? []), r]);

  test("links every owner but the glue once, in canonical order, the last back to the apex", () => {
    const glue = "ns.example.test.example.test";
    const owners = [...byOwner.keys()].filter((name) => name !== glue).sort(canonicalCompare);
    expect(nsecs.map((n) => n.name)).toEqual(owners);
    for (let i = 0; i < nsecs.length; i++) expect(nsecs[i].next).toBe(owners[(i + 1) % owners.length]);
    expect(nsecs.at(-1)!.next).toBe("example.test");
    expect(owners[0]).toBe("example.test");
    // "a" < "_acme-challenge.a" < "a-b": not the names' octet order
    const index = (name: string) => owners.indexOf(name);
    expect(index("a.example.test")).toBeLessThan(index("a-b.example.test"));
    expect(index("_acme-challenge.test.example.test")).toBe(index("test.example.test") + 1);
  });

  test("each NSEC's types are its owner's RRsets, RRSIG and NSEC; its TTL the SOA minimum", () => {
    for (const nsec of nsecs) {
      const types = new Set(
        byOwner
          .get(nsec.name)!
          .filter((r) => r.type !== "RRSIG" && r.type !== "NSEC")
          .map((r) => TYPE[r.type]),
      );
      expect(nsec.types).toEqual([...types, TYPE.RRSIG, TYPE.NSEC].sort((a, b) => a - b));
      expect(nsec.ttl).toBe(Math.min(zone.soa.minimum, zone.ttl));
    }
    const apex = nsecs[0].types;
    for (const type of [TYPE.SOA, TYPE.NS, TYPE.DNSKEY, TYPE.MX, TYPE.TXT, TYPE.CAA]) expect(apex).toContain(type);
    expect(nsecs.find((n) => n.name === "example.test.example.test")!.types).toEqual([TYPE.NS, TYPE.RRSIG, TYPE.NSEC]);
  });

  test("an RRSIG over every authoritative RRset and each NSEC, none over the delegation's NS or its glue", () => {
    const sets = new Set<string>();
    const sigs = new Map<string, number>();
    for (const r of records) {
      if (r.type === "RRSIG") sigs.set(`${r.name} ${r.covered}`, (sigs.get(`${r.name} ${r.covered}`) ?? 0) + 1);
      else sets.add(`${r.name} ${TYPE[r.type]}`);
    }
    const unsigned = new Set(["example.test.example.test 2", "ns.example.test.example.test 1"]);
    for (const set of sets) expect(sigs.get(set) ?? 0).toBe(unsigned.has(set) ? 0 : 1);
    for (const sig of sigs.keys()) expect(sets).toContain(sig);
    expect(records.filter((r) => r.name === "ns.example.test.example.test").map((r) => r.type)).toEqual(["A"]);
  });

  test("each signature verifies with node:crypto against the DNSKEY at the apex", () => {
    const dnskey = records.find((r): r is Rr<"DNSKEY"> => r.type === "DNSKEY")!;
    expect(dnskey.name).toBe("example.test");
    const key = Buffer.from(dnskey.key);
    const publicKey = createPublicKey({
      key: { kty: "EC", crv: "P-256", x: key.subarray(0, 32).toString("base64url"), y: key.subarray(32).toString("base64url") },
      format: "jwk",
    });
    let checked = 0;
    for (const rrsig of records.filter((r): r is Rr<"RRSIG"> => r.type === "RRSIG")) {
      const rrset = records.filter((r) => r.name === rrsig.name && r.type !== "RRSIG" && TYPE[r.type] === rrsig.covered);
      const ok = verify("sha256", signedData(rrset, rrsig), { key: publicKey, dsaEncoding: "ieee-p1363" }, rrsig.signature);
      expect(ok).toBe(true);
      checked++;
    }
    expect(checked).toBeGreaterThan(60);
  });

  test("the zone is the unsigned walk's records plus DNSKEY, RRSIG and NSEC, SOA first", () => {
    const key = (r: ResourceRecord) => JSON.stringify(r);
    const plain = [...zoneRecords(zone, SERIAL, GATEWAYS)].map(key).sort();
    expect(
      records
        .filter((r) => !["DNSKEY", "RRSIG", "NSEC"].includes(r.type))
        .map(key)
        .sort(),
    ).toEqual(plain);
    expect(records[0]).toMatchObject({ name: "example.test", type: "SOA", serial: SERIAL });
  });
});

describe("a rollover's DNSKEY RRset in the presigned zone", () => {
  const next = generateSigningKey("ecdsap256sha256");
  const rolling = loadSigner(generateSigningKey("ecdsap256sha256"), { zone: "example.test", ttl: zone.ttl, published: [next] });
  const records = signed(rolling);

  test("both DNSKEYs at the apex, the RRset signed once, by the signing key", () => {
    const dnskeys = records.filter((r): r is Rr<"DNSKEY"> => r.type === "DNSKEY");
    expect(dnskeys.map((r) => Buffer.from(r.key).toString("hex"))).toEqual(rolling.dnskeys().map((r) => Buffer.from((r as Rr<"DNSKEY">).key).toString("hex")));
    expect(dnskeys).toHaveLength(2);
    const sigs = records.filter((r): r is Rr<"RRSIG"> => r.type === "RRSIG" && r.covered === TYPE.DNSKEY);
    expect(sigs.map((r) => r.keyTag)).toEqual([rolling.keyTag]);
  });

  test.skipIf(!haveTools("ldns-verify-zone"))("ldns-verify-zone accepts it with the signing key's DS", () => {
    const result = ldnsVerify(records, rolling);
    expect(result.code, result.out).toBe(0);
  });
});

describe.skipIf(!haveTools("ldns-verify-zone"))("ldns-verify-zone over the presigned zone", () => {
  for (const [algorithm, s] of Object.entries(signers))
    test(`${algorithm}: verified and complete, with the DS as trust anchor`, () => {
      const result = ldnsVerify(signed(s), s);
      expect(result.out).toContain("Zone is verified and complete");
      expect(result.code).toBe(0);
    });

  test("one flipped signature byte fails it, and so does a broken link in the chain", () => {
    const records = signed();
    const at = records.findIndex((r) => r.type === "RRSIG" && r.name === "a-b.example.test");
    const flipped = records.map((r, i) => {
      if (i !== at) return r;
      const signature = Uint8Array.from((r as Rr<"RRSIG">).signature);
      signature[10] ^= 0x01;
      return { ...r, signature };
    });
    const bad = ldnsVerify(flipped, signer);
    expect(bad.code).not.toBe(0);
    expect(bad.out).not.toContain("Zone is verified and complete");
    // a name left out of the chain: the NSEC before it skips it
    const skipped = records.filter(
      (r) => !(r.type === "NSEC" && r.name === "a.example.test") && !(r.type === "RRSIG" && r.name === "a.example.test" && r.covered === TYPE.NSEC),
    );
    expect(ldnsVerify(skipped, signer).code).not.toBe(0);
  });
});

describe("streaming", () => {
  test("gateways are read as the records go out: a large zone is never all in memory", () => {
    let pulled = 0;
    function* many(): Generator<[string, GatewayRecord]> {
      for (let i = 0; i < 100_000; i++) {
        pulled++;
        yield gateway(`gw${i.toString().padStart(6, "0")}`, i);
      }
    }
    const stream = signedZoneRecords(zone, SERIAL, many(), signer, NOW);
    let taken = 0;
    for (const _ of stream) if (++taken === 200) break;
    expect(pulled).toBeLessThan(50);
  });
});

/** A snapshot over plain data; records the order the gateways were asked in. */
function snapshotOf(gateways: [string, GatewayRecord][], journal: Changeset[] = []): ZoneSnapshot & { orders: unknown[] } {
  return {
    serial: SERIAL,
    orders: [],
    gateways(_size, order) {
      this.orders.push(order);
      return (function* () {
        yield* gateways;
      })();
    },
    changesetsSince(from) {
      if (from === SERIAL) return [];
      const start = journal.findIndex((c) => c.from === from);
      return start < 0 ? null : journal.slice(start);
    },
    close() {},
  };
}

const answers = (messages: Buffer[]) => messages.flatMap((m) => decode(m).answers ?? []);
const axfr = { id: 7, question: { name: "example.test", type: 252, class: 1 }, edns: null };
const ixfr = (from: number) => ({ id: 8, question: { name: "example.test", type: 251, class: 1 }, edns: null, ixfrSerial: from });

describe("transfers of a signed zone", () => {
  const journal: Changeset[] = [{ from: SERIAL - 1, to: SERIAL, changes: [{ name: "a.example.test.", old: null, new: GATEWAYS[0][1] }] }];
  const signing = { signer, nowSeconds: NOW };

  test("AXFR carries the presigned zone, SOA first and last, walking the gateways in canonical order", () => {
    const snapshot = snapshotOf(GATEWAYS);
    const got = answers([...transferMessages(axfr, snapshot, zone, undefined, signing)]);
    expect(snapshot.orders).toEqual(["canonical"]);
    const expected = signed();
    expect(got).toHaveLength(expected.length + 1);
    expect(got[0].type).toBe("SOA");
    expect(got.at(-1)).toEqual(got[0]);
    expect(got.filter((a) => a.type === "NSEC")).toHaveLength(expected.filter((r) => r.type === "NSEC").length);
    expect(got.filter((a) => a.type === "RRSIG")).toHaveLength(expected.filter((r) => r.type === "RRSIG").length);
  });

  test("an IXFR from a serial in the journal gets the whole signed zone (RFC 1995 4); a current one the SOA alone", () => {
    const full = answers([...transferMessages(ixfr(SERIAL - 1), snapshotOf(GATEWAYS, journal), zone, undefined, signing)]);
    expect(full).toHaveLength(signed().length + 1);
    expect(full.filter((a) => a.type === "SOA")).toHaveLength(2);
    const current = answers([...transferMessages(ixfr(SERIAL), snapshotOf(GATEWAYS, journal), zone, undefined, signing)]);
    expect(current.map((a) => a.type)).toEqual(["SOA"]);
    // unsigned, the same IXFR is incremental, as before
    const incremental = answers([...transferMessages(ixfr(SERIAL - 1), snapshotOf(GATEWAYS, journal), zone)]);
    expect(incremental.filter((a) => a.type === "SOA")).toHaveLength(4);
  });

  test("unsigned, the AXFR is the walk in name order and carries nothing of DNSSEC", () => {
    const snapshot = snapshotOf(GATEWAYS);
    const got = answers([...transferMessages(axfr, snapshot, zone)]);
    expect(snapshot.orders).toEqual([undefined]);
    expect(got.some((a) => ["RRSIG", "NSEC", "DNSKEY"].includes(a.type))).toBe(false);
    expect(got).toHaveLength([...zoneRecords(zone, SERIAL, GATEWAYS)].length + 1);
  });
});
