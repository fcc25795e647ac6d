// The transfer writer against dns2's encoding (wire.ts encodeResponse): the same records, read
// back by an independent decoder (dns-packet), for every record type the zone can hold.
import { describe, expect, test } from "bun:test";
import { MessageWriter } from "../../src/dns/message-writer.ts";
import { encodeResponse } from "../../src/dns/wire.ts";
import type { ResourceRecord } from "../../src/dns/zone.ts";
import { decode } from "./client.ts";

const RECORDS: ResourceRecord[] = [
  {
    name: "example.test",
    ttl: 86400,
    type: "SOA",
    mname: "ns1.example.test",
    rname: "hostmaster.example.test",
    serial: 4294967295,
    refresh: 900,
    retry: 900,
    expire: 1209600,
    minimum: 60,
  },
  { name: "example.test", ttl: 86400, type: "NS", target: "ns1.example.test" },
  { name: "example.test", ttl: 86400, type: "NS", target: "ns.other.example" },
  { name: "Mixed.Example.test", ttl: 60, type: "A", address: "192.0.2.1" },
  { name: "six.example.test", ttl: 60, type: "AAAA", address: "2001:db8::1" },
  { name: "six.example.test", ttl: 60, type: "AAAA", address: "::ffff:192.0.2.7" },
  { name: "www.example.test", ttl: 86400, type: "CNAME", target: "example.test" },
  { name: "example.test", ttl: 86400, type: "MX", priority: 10, exchange: "mx.example.net" },
  { name: "example.test", ttl: 86400, type: "TXT", text: "v=spf1 -all" },
  { name: "long.example.test", ttl: 86400, type: "TXT", text: "x".repeat(600) },
  { name: "empty.example.test", ttl: 86400, type: "TXT", text: "" },
  { name: "utf.example.test", ttl: 86400, type: "TXT", text: "héllo ✓" },
  { name: "example.test", ttl: 86400, type: "CAA", flags: 128, tag: "issue", value: "letsencrypt.org; validationmethods=dns-01" },
  { name: "example.test", ttl: 0, type: "HINFO", cpu: "RFC8482", os: "" },
  { name: "_acme-challenge.home.example.test", ttl: 60, type: "TXT", text: "chal-123" },
];

function viaDns2(records: ResourceRecord[], question = true): Buffer {
  return encodeResponse(
    {
      id: 9,
      opcode: 0,
      rd: false,
      cd: false,
      rcode: 0,
      aa: true,
      question: question ? { name: "example.test", type: 252, class: 1 } : undefined,
      edns: { payload: 4096, version: 0, dnssecOk: true },
      answers: records,
      authority: [],
      additional: [],
    },
    65535,
  );
}

function viaWriter(records: ResourceRecord[], question = true): Buffer {
  const writer = new MessageWriter({
    id: 9,
    aa: true,
    rcode: 0,
    question: question ? { name: "example.test", type: 252, class: 1 } : undefined,
    edns: { payload: 4096, version: 0, dnssecOk: true },
  });
  for (const record of records) writer.record(record);
  return writer.toBuffer();
}

describe("transfer message writer", () => {
  test("decodes to what dns2's encoding decodes to, header and every record", () => {
    expect(decode(viaWriter(RECORDS))).toEqual(decode(viaDns2(RECORDS)));
    expect(decode(viaWriter(RECORDS, false))).toEqual(decode(viaDns2(RECORDS, false)));
  });

  test("compresses names: a thousand gateways under the apex cost little more than their labels", () => {
    const many: ResourceRecord[] = Array.from({ length: 1000 }, (_, i) => ({ name: `gw${i}.example.test`, ttl: 60, type: "A", address: "10.0.0.1" }));
    const wire = viaWriter(many);
    expect(wire.length).toBeLessThan(viaDns2(many).length + 1);
    // label (<= 6 + 1) + pointer 2 + fixed 10 + address 4 per record
    expect(wire.length).toBeLessThan(12 + 18 + 11 + 1000 * 23);
    expect(decode(wire).answers!.map((a) => a.name)).toEqual(many.map((r) => r.name));
  });

  test("refuses what it cannot write instead of writing it wrong", () => {
    const writer = new MessageWriter({ id: 1, aa: true, rcode: 0, edns: null });
    expect(() => writer.record({ name: "x.example.test", ttl: 1, type: "A", address: "2001:db8::1" })).toThrow("not an IPv4 address");
    expect(() => writer.record({ name: `${"a".repeat(64)}.example.test`, ttl: 1, type: "A", address: "192.0.2.1" })).toThrow("not a DNS label");
  });
});
