// The DNSSEC record types (RFC 4034) as both our encoders write them (wire.ts over dns2 for
// answers, message-writer.ts for transfers), byte for byte against dns-packet's own codecs:
// an independent implementation, so a field written in the wrong place cannot pass.
import { describe, expect, test } from "bun:test";
import { MessageWriter } from "../../src/dns/message-writer.ts";
import { encodeResponse, TYPE_NXNAME } from "../../src/dns/wire.ts";
import type { ResourceRecord } from "../../src/dns/zone.ts";
import { packet } from "./client.ts";

const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

/** Ours, and the same record in dns-packet's shape. */
const CASES: [string, ResourceRecord, Record<string, unknown>][] = [
  [
    "DNSKEY, ECDSA P-256 key (x||y)",
    { name: "example.test", ttl: 3600, type: "DNSKEY", flags: 257, protocol: 3, algorithm: 13, key: bytes(64, 1) },
    { type: "DNSKEY", data: { flags: 257, algorithm: 13, key: bytes(64, 1) } },
  ],
  [
    "DNSKEY, Ed25519 key",
    { name: "example.test", ttl: 3600, type: "DNSKEY", flags: 257, protocol: 3, algorithm: 15, key: bytes(32, 2) },
    { type: "DNSKEY", data: { flags: 257, algorithm: 15, key: bytes(32, 2) } },
  ],
  [
    "RRSIG with a mixed-case signer written as given",
    {
      name: "Home.example.test",
      ttl: 60,
      type: "RRSIG",
      covered: 1,
      algorithm: 13,
      labels: 3,
      originalTtl: 60,
      expiration: 4_000_000_000,
      inception: 1_700_000_000,
      keyTag: 54321,
      signer: "Example.test",
      signature: bytes(64, 3),
    },
    {
      type: "RRSIG",
      data: {
        typeCovered: "A",
        algorithm: 13,
        labels: 3,
        originalTTL: 60,
        expiration: 4_000_000_000,
        inception: 1_700_000_000,
        keyTag: 54321,
        signersName: "Example.test",
        signature: bytes(64, 3),
      },
    },
  ],
  [
    "NSEC of compact denial: next \\000.<qname>, RRSIG NSEC NXNAME",
    { name: "nope.example.test", ttl: 60, type: "NSEC", next: "\u0000.nope.example.test", types: [46, 47, TYPE_NXNAME] },
    { type: "NSEC", data: { nextDomain: "\u0000.nope.example.test", rrtypes: ["RRSIG", "NSEC", "UNKNOWN_128"] } },
  ],
  [
    "NSEC listing types in two windows, unsorted",
    { name: "example.test", ttl: 60, type: "NSEC", next: "\u0000.example.test", types: [257, 6, 2, 1, 16, 46, 47, 48, 28, 15] },
    { type: "NSEC", data: { nextDomain: "\u0000.example.test", rrtypes: ["A", "NS", "SOA", "MX", "TXT", "AAAA", "RRSIG", "NSEC", "DNSKEY", "CAA"] } },
  ],
  [
    "DS with a SHA-256 digest",
    { name: "example.test", ttl: 3600, type: "DS", keyTag: 2371, algorithm: 13, digestType: 2, digest: bytes(32, 4) },
    { type: "DS", data: { keyTag: 2371, algorithm: 13, digestType: 2, digest: bytes(32, 4) } },
  ],
];

/** A response holding one answer and no question: nothing to compress, so dns-packet's bytes are the reference. */
function reference(rr: ResourceRecord, theirs: Record<string, unknown>): Buffer {
  return packet.encode({
    id: 9,
    type: "response",
    flags: packet.AUTHORITATIVE_ANSWER,
    answers: [{ name: rr.name, ttl: rr.ttl, class: "IN", ...theirs } as never],
  });
}

function viaWire(rr: ResourceRecord): Buffer {
  return encodeResponse({ id: 9, opcode: 0, rd: false, cd: false, rcode: 0, aa: true, edns: null, answers: [rr], authority: [], additional: [] }, 65535);
}

function viaWriter(rr: ResourceRecord): Buffer {
  const writer = new MessageWriter({ id: 9, aa: true, rcode: 0, edns: null });
  writer.record(rr);
  return writer.toBuffer();
}

describe("DNSSEC record encoders", () => {
  for (const [what, ours, theirs] of CASES) {
    test(`${what}: answers and transfers write dns-packet's bytes`, () => {
      const expected = reference(ours, theirs);
      expect(viaWire(ours).toString("hex")).toBe(expected.toString("hex"));
      expect(viaWriter(ours).toString("hex")).toBe(expected.toString("hex"));
    });
  }

  test("the signer and next names are never compressed, even after the same name", () => {
    const nsec: ResourceRecord = { name: "a.example.test", ttl: 60, type: "NSEC", next: "a.example.test", types: [1] };
    const writer = new MessageWriter({ id: 1, aa: true, rcode: 0, edns: null, question: { name: "a.example.test", type: 47, class: 1 } });
    writer.record(nsec);
    const wire = writer.toBuffer();
    // the RDATA ends with the full next name and the bitmap: window 0, length 1, A
    expect(wire.subarray(wire.length - 19).toString("hex")).toBe(`${Buffer.from("\x01a\x07example\x04test\x00", "latin1").toString("hex")}000140`);
    const decoded = packet.decode(wire);
    expect(decoded.answers?.[0]).toMatchObject({ type: "NSEC", data: { nextDomain: "a.example.test", rrtypes: ["A"] } });
  });
});
