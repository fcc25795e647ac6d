// DNSSEC signing (docs/dns.md, "DNSSEC"): the zone's one combined signing key, RRSIGs over RRsets in their
// canonical form (RFC 4034 6), the DNSKEY and DS records, and a bounded signature cache.
// Pure: no sockets, no store. The responder signs answers with it; transfers sign the zone.
//
// Shapes (the interface other parts build on):
//   generateSigningKey(algorithm): SigningKey        a new key, { algorithm, pkcs8 } (what the database keeps)
//   loadSigner(key, { zone, ttl, cache? }): Signer  the key parsed once into node:crypto KeyObjects
//                                                    (cache: a SignatureCache to share, e.g. across reloads)
//   signer.algorithm / signer.keyTag                 13 or 15 / RFC 4034 appendix B tag of the DNSKEY
//   signer.dnskey(): ResourceRecord                  the apex DNSKEY (flags 257), TTL `ttl`
//   signer.ds(): ResourceRecord                      the DS (SHA-256) the registrar publishes, TTL `ttl`
//   signer.sign(rrset, nowSeconds): ResourceRecord   the RRSIG over one RRset (same owner, type and class IN;
//                                                    the first record's owner and TTL), owner case kept
//   signer.validity(owner, nowSeconds)               the RRSIG's { inception, expiration } for that owner
//   signingEpoch(nowSeconds)                         changes once a week, after every owner's signatures rolled
//   dsText(signer.ds())                              the DS as text, as dnssec-dsfromkey prints it
//   canonicalRdata(rr) / signedData(rrset, rrsig) / keyTag(rdata) / dsDigest(owner, rdata)
// Elsewhere: store/dnssec-keys.ts keeps the key (signingKey, readSigningKey); signed-answer.ts
// makes an answer signed (compact denial, successor()); wire.ts writes the four record types.
//
// Validity, as PowerDNS signs live: inception = start of the week - 7 days, expiration = start
// of the week + 14 days, so the signed input of an unchanged RRset is the same all week and
// its signature can be reused; a signature is always valid at least 7 more days. Each owner's
// week starts up to an hour late (a hash of its name: the jitter), so the weekly re-signing
// of a large zone spreads over an hour instead of landing on one second.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign, type KeyObject } from "node:crypto";
import { isIP } from "node:net";
import { ipv6Groups } from "../addresses.ts";
import { asciiLowerCase, withoutDot } from "../names.ts";
import { characterStrings, dnssecRdata, uncompressedName } from "./wire.ts";
import { CLASS_IN, TYPE, type ResourceRecord } from "./zone.ts";

import type { DnssecAlgorithm } from "../config.ts";

export type { DnssecAlgorithm };
export const ALGORITHM_NUMBER: Record<DnssecAlgorithm, number> = { ecdsap256sha256: 13, ed25519: 15 };

/** The key as the database keeps it: PKCS#8 DER of the private key. */
export interface SigningKey {
  algorithm: DnssecAlgorithm;
  pkcs8: Uint8Array;
}

/** DNSKEY flags: Zone Key + Secure Entry Point (one combined key, KSK and ZSK at once). */
export const DNSKEY_FLAGS = 257;
const PROTOCOL = 3;
const DIGEST_SHA256 = 2;
const DAY = 86_400;
const WEEK = 7 * DAY;
/** Each owner's signing week starts up to this late (seconds). */
export const MAX_JITTER = 3600;
/** Both algorithms sign in 64 bytes (P-256: r||s; Ed25519). */
export const SIGNATURE_BYTES = 64;

export function generateSigningKey(algorithm: DnssecAlgorithm): SigningKey {
  const { privateKey } = algorithm === "ed25519" ? generateKeyPairSync("ed25519") : generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { algorithm, pkcs8: new Uint8Array(privateKey.export({ type: "pkcs8", format: "der" })) };
}

export interface SignerOptions {
  /** the zone's name, the RRSIG signer and DNSKEY owner: without the trailing dot */
  zone: string;
  /** TTL of the DNSKEY and DS records */
  ttl: number;
  /** signatures kept for reuse (2-way sets); default 2^18: 22 MiB */
  cacheEntries?: number;
  /** a cache to share with an earlier signer of the same key (a settings reload); default a new one */
  cache?: SignatureCache;
  /** keys beside the signing one in the apex DNSKEY RRset (a rollover's pre-published or retiring key): they sign nothing */
  published?: readonly SigningKey[];
  /** tests only: every signature has its first byte flipped, so validators must fail */
  corruptSignatures?: boolean;
}

export interface Signer {
  readonly algorithm: number;
  readonly keyTag: number;
  readonly zone: string;
  dnskey(): ResourceRecord;
  /** the apex DNSKEY RRset: the signing key's DNSKEY, then the published keys' */
  dnskeys(): ResourceRecord[];
  ds(): ResourceRecord;
  /**
   * `keep` false: the signature is not kept for reuse (an RRset made up for one question, as a
   * missing name's NSEC). `later`: the RRSIG comes with 64 zero octets for a signature, and the
   * signature is made when the function handed to `later` is called (if ever): an answer's shape
   * and size, for response-rate limiting, cost no signature (responder.ts).
   */
  sign(rrset: readonly ResourceRecord[], nowSeconds: number, keep?: boolean, later?: (sign: () => void) => void): ResourceRecord;
  validity(owner: string, nowSeconds: number): { inception: number; expiration: number };
  readonly cache: SignatureCache;
}

/** Parses the key once; throws on a key that is not of its stated algorithm. */
export function loadSigner(key: SigningKey, options: SignerOptions): Signer {
  const privateKey = createPrivateKey({ key: Buffer.from(key.pkcs8), format: "der", type: "pkcs8" });
  const algorithm = ALGORITHM_NUMBER[key.algorithm];
  if (algorithm === undefined) throw new Error(`unknown DNSSEC algorithm: ${key.algorithm}`);
  const publicKey = publicKeyBytes(privateKey, key.algorithm);
  const zone = withoutDot(options.zone);
  const dnskeyRecord: ResourceRecord = { name: zone, ttl: options.ttl, type: "DNSKEY", flags: DNSKEY_FLAGS, protocol: PROTOCOL, algorithm, key: publicKey };
  const dnskeySet = [dnskeyRecord, ...(options.published ?? []).map((other) => dnskeyOf(other, zone, options.ttl))];
  const dnskeyRdata = dnssecRdata(dnskeyRecord as Extract<ResourceRecord, { type: "DNSKEY" }>);
  const tag = keyTag(dnskeyRdata);
  const dsRecord: ResourceRecord = {
    name: zone,
    ttl: options.ttl,
    type: "DS",
    keyTag: tag,
    algorithm,
    digestType: DIGEST_SHA256,
    digest: dsDigest(zone, dnskeyRdata),
  };
  const cache = options.cache ?? new SignatureCache(options.cacheEntries);
  const rawSign =
    key.algorithm === "ed25519"
      ? (data: Buffer) => cryptoSign(null, data, privateKey)
      : (data: Buffer) => cryptoSign("sha256", data, { key: privateKey, dsaEncoding: "ieee-p1363" });
  const validity = (owner: string, nowSeconds: number) => signatureValidity(owner, nowSeconds);

  return {
    algorithm,
    keyTag: tag,
    zone,
    cache,
    dnskey: () => ({ ...dnskeyRecord }),
    dnskeys: () => dnskeySet.map((rr) => ({ ...rr })),
    ds: () => ({ ...dsRecord }),
    validity,
    sign(rrset, nowSeconds, keep = true, later) {
      if (rrset.length === 0) throw new Error("cannot sign an empty RRset");
      const first = rrset[0];
      const { inception, expiration } = validity(first.name, nowSeconds);
      const rrsig: Extract<ResourceRecord, { type: "RRSIG" }> = {
        name: first.name,
        ttl: first.ttl,
        type: "RRSIG",
        covered: TYPE[first.type],
        algorithm,
        labels: labelCount(first.name),
        originalTtl: first.ttl,
        expiration,
        inception,
        keyTag: tag,
        signer: zone,
        signature: new Uint8Array(0),
      };
      const makeSignature = () => {
        const data = signedData(rrset, rrsig);
        const digest = createHash("sha256").update(data).digest();
        let signature = cache.get(digest);
        if (!signature) {
          signature = new Uint8Array(rawSign(data));
          if (signature.length !== SIGNATURE_BYTES) throw new Error(`unexpected signature length ${signature.length}`);
          if (keep) cache.set(digest, signature);
        }
        if (options.corruptSignatures) {
          signature = Uint8Array.from(signature);
          signature[0] ^= 0xff;
        }
        rrsig.signature = signature;
      };
      if (later) {
        later(makeSignature);
        rrsig.signature = new Uint8Array(SIGNATURE_BYTES);
      } else makeSignature();
      return rrsig;
    },
  };
}

/** A DS record as the registrar takes it, and as BIND's dnssec-dsfromkey prints it: `<zone>. IN DS <tag> <alg> 2 <HEX>`. */
export function dsText(ds: ResourceRecord): string {
  if (ds.type !== "DS") throw new Error("not a DS record");
  return `${withoutDot(ds.name)}. IN DS ${ds.keyTag} ${ds.algorithm} ${ds.digestType} ${Buffer.from(ds.digest).toString("hex").toUpperCase()}`;
}

/** The DNSKEY record (flags 257) of a key, owned by the zone. */
export function dnskeyOf(key: SigningKey, zone: string, ttl: number): ResourceRecord {
  const algorithm = ALGORITHM_NUMBER[key.algorithm];
  if (algorithm === undefined) throw new Error(`unknown DNSSEC algorithm: ${key.algorithm}`);
  const privateKey = createPrivateKey({ key: Buffer.from(key.pkcs8), format: "der", type: "pkcs8" });
  const name = withoutDot(zone);
  return { name, ttl, type: "DNSKEY", flags: DNSKEY_FLAGS, protocol: PROTOCOL, algorithm, key: publicKeyBytes(privateKey, key.algorithm) };
}

/** The DS (SHA-256) of a DNSKEY record. */
export function dsOf(dnskey: ResourceRecord): Extract<ResourceRecord, { type: "DS" }> {
  if (dnskey.type !== "DNSKEY") throw new Error("not a DNSKEY record");
  const rdata = dnssecRdata(dnskey);
  return {
    name: dnskey.name,
    ttl: dnskey.ttl,
    type: "DS",
    keyTag: keyTag(rdata),
    algorithm: dnskey.algorithm,
    digestType: DIGEST_SHA256,
    digest: dsDigest(dnskey.name, rdata),
  };
}

/** The public key as a DNSKEY carries it: x||y for P-256 (RFC 6605), x for Ed25519 (RFC 8080). */
function publicKeyBytes(privateKey: KeyObject, algorithm: DnssecAlgorithm): Uint8Array {
  const jwk = createPublicKey(privateKey).export({ format: "jwk" });
  if (algorithm === "ed25519") {
    if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || !jwk.x) throw new Error("the DNSSEC key is not an Ed25519 key");
    return new Uint8Array(Buffer.from(jwk.x, "base64url"));
  }
  if (jwk.kty !== "EC" || jwk.crv !== "P-256" || !jwk.x || !jwk.y) throw new Error("the DNSSEC key is not an ECDSA P-256 key");
  return new Uint8Array(Buffer.concat([Buffer.from(jwk.x, "base64url"), Buffer.from(jwk.y, "base64url")]));
}

/**
 * Labels of an owner name for the RRSIG (RFC 4034 3.1.3): a leading `*` label is not counted.
 * Our zone has no wildcard owners, but a query for `*.<name>` gets records owned by that name
 * (its compact denial NSEC, a PageKite A), and validators find counting it bogus.
 */
function labelCount(name: string): number {
  const labels = withoutDot(name).split(".").filter(Boolean);
  return labels[0] === "*" ? labels.length - 1 : labels.length;
}

/** The owner's jitter, 0..MAX_JITTER-1 seconds: FNV-1a of its lower-case name. */
function jitterOf(owner: string): number {
  const name = asciiLowerCase(owner);
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return (h >>> 0) % MAX_JITTER;
}

/** Inception = start of the owner's week - 7 days, expiration = start of it + 14 days. */
export function signatureValidity(owner: string, nowSeconds: number): { inception: number; expiration: number } {
  const jitter = jitterOf(owner);
  const start = Math.floor((Math.floor(nowSeconds) - jitter) / WEEK) * WEEK + jitter;
  return { inception: start - WEEK, expiration: start + 2 * WEEK };
}

/**
 * A number that changes once a week, an hour after the week starts (when every owner's
 * signatures have rolled): an answer cached in one epoch carries signatures valid for at
 * least 7 days - 1 hour after the next begins, so forgetting cached answers when it changes
 * means no cached answer outlives its signatures.
 */
export function signingEpoch(nowSeconds: number): number {
  return Math.floor((Math.floor(nowSeconds) - MAX_JITTER) / WEEK);
}

/** The RDATA of a record in canonical form (RFC 4034 6.2): names uncompressed, lower-cased. */
export function canonicalRdata(rr: ResourceRecord): Buffer {
  const name = (text: string) => uncompressedName(asciiLowerCase(text));
  switch (rr.type) {
    case "A":
      if (isIP(rr.address) !== 4) throw new Error(`not an IPv4 address: ${rr.address}`);
      return Buffer.from(rr.address.split(".").map(Number));
    case "AAAA": {
      const out = Buffer.allocUnsafe(16);
      const groups = ipv6Groups(rr.address);
      for (let i = 0; i < 8; i++) out.writeUInt16BE(groups[i], 2 * i);
      return out;
    }
    case "NS":
    case "CNAME":
      return name(rr.target);
    case "SOA": {
      const fixed = Buffer.allocUnsafe(20);
      const values = [rr.serial, rr.refresh, rr.retry, rr.expire, rr.minimum];
      for (let i = 0; i < 5; i++) fixed.writeUInt32BE(values[i] >>> 0, 4 * i);
      return Buffer.concat([name(rr.mname), name(rr.rname), fixed]);
    }
    case "MX": {
      const priority = Buffer.allocUnsafe(2);
      priority.writeUInt16BE(rr.priority);
      return Buffer.concat([priority, name(rr.exchange)]);
    }
    case "TXT":
      return Buffer.concat(characterStrings(rr.text).flatMap((part) => [Uint8Array.of(part.length), part]));
    case "CAA": {
      const tag = Buffer.from(rr.tag);
      return Buffer.concat([Uint8Array.of(rr.flags, tag.length), tag, Buffer.from(rr.value)]);
    }
    case "HINFO":
      return Buffer.concat([rr.cpu, rr.os].flatMap((text) => [Uint8Array.of(Buffer.byteLength(text)), Buffer.from(text)]));
    case "DNSKEY":
    case "RRSIG":
    case "NSEC":
    case "DS":
      // RFC 6840 5.1: the NSEC next name keeps its case; the RRSIG signer is lowered.
      return dnssecRdata(rr, true);
  }
}

/**
 * What an RRSIG signs (RFC 4034 3.1.8.1): its RDATA without the signature, then each record
 * of the RRset in canonical form and order (sorted by RDATA, duplicates dropped), owner
 * lower-cased, TTL the original TTL.
 */
export function signedData(rrset: readonly ResourceRecord[], rrsig: Extract<ResourceRecord, { type: "RRSIG" }>): Buffer {
  const owner = uncompressedName(asciiLowerCase(withoutDot(rrset[0].name)));
  const rdatas = rrset.map(canonicalRdata).sort(Buffer.compare);
  const parts: Uint8Array[] = [dnssecRdata({ ...rrsig, signature: new Uint8Array(0) }, true)];
  let previous: Buffer | undefined;
  for (const rdata of rdatas) {
    if (previous?.equals(rdata)) continue;
    previous = rdata;
    const fixed = Buffer.allocUnsafe(10);
    fixed.writeUInt16BE(rrsig.covered, 0);
    fixed.writeUInt16BE(CLASS_IN, 2);
    fixed.writeUInt32BE(rrsig.originalTtl >>> 0, 4);
    fixed.writeUInt16BE(rdata.length, 8);
    parts.push(owner, fixed, rdata);
  }
  return Buffer.concat(parts);
}

/** RFC 4034 appendix B: the key tag over a DNSKEY's RDATA. */
export function keyTag(dnskeyRdata: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < dnskeyRdata.length; i++) sum += i & 1 ? dnskeyRdata[i] : dnskeyRdata[i] << 8;
  sum += (sum >> 16) & 0xffff;
  return sum & 0xffff;
}

/** RFC 4509: SHA-256 over the owner's canonical wire form and the DNSKEY RDATA. */
export function dsDigest(owner: string, dnskeyRdata: Uint8Array): Uint8Array {
  const name = uncompressedName(asciiLowerCase(withoutDot(owner)));
  return new Uint8Array(createHash("sha256").update(name).update(dnskeyRdata).digest());
}

/** Bytes of the signed input's SHA-256 kept as the key: 128 bits, no accidental collision. */
const DIGEST_BYTES = 16;
const DEFAULT_CACHE_ENTRIES = 1 << 18;

/**
 * Signatures by the hash of their signed input (which holds the validity dates, so a week's
 * roll makes new keys). One cache per Signer, so per key. Fixed typed arrays, no per-entry
 * objects: 2-way set-associative, a new entry replaces the older of its set. 88 bytes an
 * entry (16 of digest, 64 of signature, 8 of age): 2^18 entries are 22 MiB, whatever the
 * size of the zone (at 1,000,000 names too: the least recently signed are re-signed).
 */
export class SignatureCache {
  private readonly sets: number;
  private readonly digests: Uint8Array;
  private readonly signatures: Uint8Array;
  /** per slot: when it was written (a counter), 0 = empty */
  private readonly stamps: Float64Array;
  private clock = 0;
  hits = 0;
  misses = 0;

  constructor(entries = DEFAULT_CACHE_ENTRIES) {
    this.sets = Math.max(1, 2 ** Math.floor(Math.log2(Math.max(2, entries) / 2)));
    const slots = 2 * this.sets;
    this.digests = new Uint8Array(slots * DIGEST_BYTES);
    this.signatures = new Uint8Array(slots * SIGNATURE_BYTES);
    this.stamps = new Float64Array(slots);
  }

  /** Bytes held by the arrays. */
  get bytes(): number {
    return this.digests.length + this.signatures.length + this.stamps.length * 8;
  }

  get(digest: Uint8Array): Uint8Array | undefined {
    const slot = this.find(digest);
    if (slot < 0) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    return this.signatures.slice(slot * SIGNATURE_BYTES, (slot + 1) * SIGNATURE_BYTES);
  }

  set(digest: Uint8Array, signature: Uint8Array): void {
    const first = this.setOf(digest) * 2;
    const slot = this.stamps[first] <= this.stamps[first + 1] ? first : first + 1;
    this.digests.set(digest.subarray(0, DIGEST_BYTES), slot * DIGEST_BYTES);
    this.signatures.set(signature, slot * SIGNATURE_BYTES);
    this.stamps[slot] = ++this.clock;
  }

  private setOf(digest: Uint8Array): number {
    return ((digest[0] | (digest[1] << 8) | (digest[2] << 16) | (digest[3] << 24)) >>> 0) % this.sets;
  }

  private find(digest: Uint8Array): number {
    const first = this.setOf(digest) * 2;
    outer: for (let slot = first; slot < first + 2; slot++) {
      if (this.stamps[slot] === 0) continue;
      const at = slot * DIGEST_BYTES;
      for (let i = 0; i < DIGEST_BYTES; i++) if (this.digests[at + i] !== digest[i]) continue outer;
      return slot;
    }
    return -1;
  }
}
