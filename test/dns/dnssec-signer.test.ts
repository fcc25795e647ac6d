// The signer (src/dns/dnssec.ts) against independent implementations: a small zone it signs
// passes ldns-verify-zone (canonical form, signatures, key), its DS is what BIND's
// dnssec-dsfromkey computes from its DNSKEY, and node:crypto verifies each signature with the
// public key as the DNSKEY publishes it.
import { describe, expect, test } from "bun:test";
import { createPublicKey, verify } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  dnskeyOf,
  dsOf,
  type DnssecAlgorithm,
  generateSigningKey,
  loadSigner,
  SignatureCache,
  signatureValidity,
  signedData,
  signingEpoch,
  MAX_JITTER,
} from "../../src/dns/dnssec.ts";
import { TYPE_NXNAME } from "../../src/dns/wire.ts";
import { TYPE, type ResourceRecord } from "../../src/dns/zone.ts";
import { presentation } from "./dnssec-text.ts";
import { haveTools } from "../support/tools.ts";

const ZONE = "example.test";
const WEEK = 7 * 86400;
const NOW = Math.floor(Date.now() / 1000);

function run(command: string[]): { code: number; out: string } {
  const p = Bun.spawnSync(command, { stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, out: `${p.stdout.toString()}${p.stderr.toString()}` };
}

/** A small zone with a complete NSEC chain, every RRset signed. */
function signedZone(algorithm: DnssecAlgorithm, corrupt = false): { text: string; signer: ReturnType<typeof loadSigner> } {
  const signer = loadSigner(generateSigningKey(algorithm), { zone: ZONE, ttl: 3600, corruptSignatures: corrupt });
  const data: ResourceRecord[] = [
    {
      name: ZONE,
      ttl: 3600,
      type: "SOA",
      mname: "ns1.example.test",
      rname: "Hostmaster.Example.test",
      serial: 7,
      refresh: 900,
      retry: 900,
      expire: 1209600,
      minimum: 60,
    },
    { name: ZONE, ttl: 3600, type: "NS", target: "NS1.example.test" },
    { name: ZONE, ttl: 3600, type: "NS", target: "ns2.other.example" },
    { name: ZONE, ttl: 3600, type: "MX", priority: 10, exchange: "Mail.example.test" },
    { name: ZONE, ttl: 3600, type: "CAA", flags: 0, tag: "issue", value: "letsencrypt.org" },
    { name: ZONE, ttl: 3600, type: "TXT", text: "zzz" },
    { name: ZONE, ttl: 3600, type: "TXT", text: "aaa" },
    { name: ZONE, ttl: 3600, type: "TXT", text: "y".repeat(300) },
    signer.dnskey(),
    { name: "Home.example.test", ttl: 60, type: "A", address: "192.0.2.1" },
    { name: "home.example.test", ttl: 60, type: "AAAA", address: "2001:db8::1" },
    { name: "_acme-challenge.home.example.test", ttl: 60, type: "TXT", text: "challenge" },
    { name: "ns1.example.test", ttl: 3600, type: "A", address: "192.0.2.53" },
    { name: "www.example.test", ttl: 3600, type: "CNAME", target: "Example.test" },
  ];
  const owners = [...new Set(data.map((r) => r.name.toLowerCase()))];
  // canonical order: by labels from the right
  owners.sort((a, b) => {
    const x = a.split(".").reverse();
    const y = b.split(".").reverse();
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
    return x.length - y.length;
  });
  const records = [...data];
  owners.forEach((owner, i) => {
    const types = [...new Set(data.filter((r) => r.name.toLowerCase() === owner).map((r) => TYPE[r.type]))];
    records.push({ name: owner, ttl: 60, type: "NSEC", next: owners[(i + 1) % owners.length], types: [...types, 46, 47] });
  });
  const sets = new Map<string, ResourceRecord[]>();
  for (const r of records) {
    const key = `${r.name.toLowerCase()} ${r.type}`;
    sets.set(key, [...(sets.get(key) ?? []), r]);
  }
  const lines = records.map(presentation);
  for (const set of sets.values()) lines.push(presentation(signer.sign(set, NOW)));
  return { text: `${lines.join("\n")}\n`, signer };
}

function withFile<T>(name: string, text: string, use: (path: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "dnssec-"));
  try {
    const path = join(dir, name);
    writeFileSync(path, text);
    return use(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Debian's ldnsutils and bind9-utils (installed by .ci/e2e.sh; a machine without them skips these).

describe.skipIf(!haveTools("ldns-verify-zone", "dnssec-dsfromkey"))("signer against ldns-verify-zone and dnssec-dsfromkey", () => {
  for (const algorithm of ["ecdsap256sha256", "ed25519"] as const) {
    test(`${algorithm}: a zone signed with it verifies, with the DS as trust anchor`, () => {
      const { text, signer } = signedZone(algorithm);
      const ds = presentation(signer.ds());
      const result = withFile("zone", text, (zone) => withFile("anchor", `${ds}\n`, (anchor) => run(["ldns-verify-zone", "-k", anchor, zone])));
      expect(result.out).toContain("Zone is verified and complete");
      expect(result.code).toBe(0);
    });

    test(`${algorithm}: the DS is what dnssec-dsfromkey computes from the DNSKEY`, () => {
      const signer = loadSigner(generateSigningKey(algorithm), { zone: ZONE, ttl: 3600 });
      const result = withFile("keys", `${presentation(signer.dnskey())}\n`, (file) => run(["dnssec-dsfromkey", "-2", "-f", file, ZONE]));
      expect(result.code).toBe(0);
      const ds = signer.ds() as Extract<ResourceRecord, { type: "DS" }>;
      expect(result.out.trim()).toBe(`${ZONE}. IN DS ${ds.keyTag} ${ds.algorithm} 2 ${Buffer.from(ds.digest).toString("hex").toUpperCase()}`);
    });
  }

  test("a flipped signature byte fails ldns-verify-zone", () => {
    const { text, signer } = signedZone("ecdsap256sha256", true);
    const result = withFile("zone", text, (zone) =>
      withFile("anchor", `${presentation(signer.ds())}\n`, (anchor) => run(["ldns-verify-zone", "-k", anchor, zone])),
    );
    expect(result.code).not.toBe(0);
    expect(result.out).not.toContain("Zone is verified and complete");
  });
});

describe("signatures", () => {
  test("node:crypto verifies them with the public key the DNSKEY publishes (x||y, x)", () => {
    for (const algorithm of ["ecdsap256sha256", "ed25519"] as const) {
      const signer = loadSigner(generateSigningKey(algorithm), { zone: ZONE, ttl: 3600 });
      const dnskey = signer.dnskey() as Extract<ResourceRecord, { type: "DNSKEY" }>;
      const raw = Buffer.from(dnskey.key);
      const publicKey =
        algorithm === "ed25519"
          ? createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, format: "jwk" })
          : createPublicKey({
              key: { kty: "EC", crv: "P-256", x: raw.subarray(0, 32).toString("base64url"), y: raw.subarray(32).toString("base64url") },
              format: "jwk",
            });
      expect(raw.length).toBe(algorithm === "ed25519" ? 32 : 64);
      const rrset: ResourceRecord[] = [{ name: "a.example.test", ttl: 60, type: "A", address: "192.0.2.9" }];
      const rrsig = signer.sign(rrset, NOW) as Extract<ResourceRecord, { type: "RRSIG" }>;
      expect(rrsig).toMatchObject({
        name: "a.example.test",
        ttl: 60,
        covered: 1,
        algorithm: algorithm === "ed25519" ? 15 : 13,
        labels: 3,
        originalTtl: 60,
        keyTag: signer.keyTag,
        signer: ZONE,
      });
      expect(rrsig.signature.length).toBe(64);
      const data = signedData(rrset, rrsig);
      const ok =
        algorithm === "ed25519"
          ? verify(null, data, publicKey, Buffer.from(rrsig.signature))
          : verify("sha256", data, { key: publicKey, dsaEncoding: "ieee-p1363" }, Buffer.from(rrsig.signature));
      expect(ok).toBe(true);
    }
  });

  test("the compact-denial NSEC (next \\000.<qname>, NXNAME) is signed like any RRset", () => {
    const signer = loadSigner(generateSigningKey("ed25519"), { zone: ZONE, ttl: 3600 });
    const nsec: ResourceRecord = { name: "nope.example.test", ttl: 60, type: "NSEC", next: "\u0000.nope.example.test", types: [46, 47, TYPE_NXNAME] };
    expect(signer.sign([nsec], NOW)).toMatchObject({ covered: 47, labels: 3 });
  });

  test("an RRset is signed once a week: the same signature (ECDSA's differ per call) until the week rolls", () => {
    const signer = loadSigner(generateSigningKey("ecdsap256sha256"), { zone: ZONE, ttl: 3600 });
    const rrset: ResourceRecord[] = [{ name: "a.example.test", ttl: 60, type: "A", address: "192.0.2.9" }];
    const { inception } = signatureValidity("a.example.test", NOW);
    const weekStart = inception + WEEK;
    const first = signer.sign(rrset, weekStart) as Extract<ResourceRecord, { type: "RRSIG" }>;
    const later = signer.sign(rrset, weekStart + WEEK - 1) as Extract<ResourceRecord, { type: "RRSIG" }>;
    expect(Buffer.from(later.signature).equals(Buffer.from(first.signature))).toBe(true);
    expect(signer.cache.hits).toBe(1);
    const next = signer.sign(rrset, weekStart + WEEK) as Extract<ResourceRecord, { type: "RRSIG" }>;
    expect(next.inception).toBe(first.inception + WEEK);
    expect(Buffer.from(next.signature).equals(Buffer.from(first.signature))).toBe(false);
    // another RRset at the same owner is another input
    signer.sign([{ name: "a.example.test", ttl: 60, type: "TXT", text: "x" }], weekStart);
    expect(signer.cache.misses).toBe(3);
  });

  test("validity: inception = week start - 7 days, expiration = week start + 14 days; always 7+ days left", () => {
    for (const owner of ["example.test", "a.example.test", "b.example.test", "Zz.example.test"]) {
      for (let t = NOW; t < NOW + 3 * WEEK; t += 4567) {
        const { inception, expiration } = signatureValidity(owner, t);
        expect(expiration - inception).toBe(3 * WEEK);
        expect(inception).toBeLessThanOrEqual(t - WEEK);
        expect(expiration).toBeGreaterThan(t + WEEK);
        expect((inception + WEEK) % WEEK).toBeLessThan(MAX_JITTER); // aligned to the week, up to the jitter late
      }
    }
    // the owner's case does not move its week
    expect(signatureValidity("ZZ.example.test", NOW)).toEqual(signatureValidity("zz.example.test", NOW));
  });

  test("signing epoch: changes once a week, after every owner's signatures rolled", () => {
    const epochStart = (signingEpoch(NOW) + 1) * WEEK + MAX_JITTER;
    expect(signingEpoch(epochStart - 1)).toBe(signingEpoch(NOW));
    expect(signingEpoch(epochStart)).toBe(signingEpoch(epochStart - 1) + 1);
    // an answer built at the very end of an epoch still has 7 days (less the jitter) after the next begins
    for (const owner of ["a.example.test", "b.example.test", "c.example.test"]) {
      const { expiration } = signatureValidity(owner, epochStart - WEEK);
      expect(expiration - epochStart).toBeGreaterThanOrEqual(WEEK - MAX_JITTER);
    }
  });

  test("the signature cache is bounded: a fixed size whatever is signed, and the newest survive", () => {
    const cache = new SignatureCache(1024);
    const bytes = cache.bytes;
    const digest = (i: number) => {
      const d = new Uint8Array(16);
      new DataView(d.buffer).setUint32(0, i * 2654435761);
      new DataView(d.buffer).setUint32(4, i);
      return d;
    };
    for (let i = 0; i < 100_000; i++) cache.set(digest(i), new Uint8Array(64).fill(i & 0xff));
    expect(cache.bytes).toBe(bytes);
    expect(bytes).toBe(1024 * (16 + 64 + 8));
    expect(cache.get(digest(99_999))?.[0]).toBe(99_999 & 0xff);
    expect(cache.get(digest(5))).toBeUndefined();
    expect(new SignatureCache().bytes).toBe((1 << 18) * 88);
  });

  test("a rollover's published keys join the DNSKEY RRset after the signing key, and sign nothing", () => {
    const active = generateSigningKey("ecdsap256sha256");
    const next = generateSigningKey("ed25519");
    const alone = loadSigner(active, { zone: ZONE, ttl: 300 });
    const rolling = loadSigner(active, { zone: ZONE, ttl: 300, published: [next] });
    const nextSigner = loadSigner(next, { zone: ZONE, ttl: 300 });
    expect(alone.dnskeys()).toEqual([alone.dnskey()]);
    expect(rolling.dnskeys()).toEqual([alone.dnskey(), nextSigner.dnskey()]);
    expect(dsOf(dnskeyOf(next, ZONE, 300))).toEqual(nextSigner.ds() as ReturnType<typeof dsOf>);
    expect(rolling.keyTag).toBe(alone.keyTag);
    const soa = rolling.sign([{ name: ZONE, ttl: 300, type: "TXT", text: "x" }], 1_800_000_000);
    expect((soa as { keyTag: number }).keyTag).toBe(alone.keyTag);
  });

  test("a key of another algorithm than stated is refused at load", () => {
    const ed = generateSigningKey("ed25519");
    expect(() => loadSigner({ ...ed, algorithm: "ecdsap256sha256" }, { zone: ZONE, ttl: 1 })).toThrow("not an ECDSA P-256 key");
  });
});
