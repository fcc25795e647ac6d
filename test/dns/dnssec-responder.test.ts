// Signed answers (docs/dns.md, "DNSSEC") from the responder over a real store: RRSIGs after every RRset of a
// DO-bit query, the apex DNSKEY, compact denial (RFC 9824) for NXDOMAIN and NODATA, nothing
// changed for queries without the DO bit, and cached answers forgotten when the signing week
// rolls. Read back with dns-packet, an independent decoder.
import { afterAll, describe, expect, test } from "bun:test";
import { AnswerCache } from "../../src/dns/answer-cache.ts";
import { generateSigningKey, loadSigner, signingEpoch } from "../../src/dns/dnssec.ts";
import { createResponder } from "../../src/dns/responder.ts";
import { ResponseRateLimiter, truncatedReply, VERDICT } from "../../src/dns/rrl.ts";
import { successor } from "../../src/dns/signed-answer.ts";
import { decode, encodeQuery, seededStore, testZone } from "./client.ts";

const zone = testZone({ dnssec: true });
const seeded = seededStore();
const { store } = seeded;
afterAll(() => seeded.cleanup());
const signer = loadSigner(generateSigningKey("ecdsap256sha256"), { zone: "example.test", ttl: zone.ttl });
const lookups = { gateway: store.findGatewayByName };
const NOW = 1_800_000_000;
const log: string[] = [];
const signed = createResponder({ zone, lookups, log: (l) => log.push(l), signer, now: () => NOW });
const unsigned = createResponder({ zone, lookups, log: (l) => log.push(l) });

const DO = { udpPayloadSize: 1232, flags: 0x8000 };
type Rr = { name: string; type: string; ttl?: number; data: any };
function ask(name: string, type: string, options: { dnssecOk?: boolean; respond?: typeof signed; transport?: "udp" | "tcp" } = {}) {
  const query = encodeQuery(name, type, { id: 1, edns: options.dnssecOk === false ? { udpPayloadSize: 1232 } : DO });
  const reply = (options.respond ?? signed)(query, options.transport ?? "udp") as Buffer;
  return { reply, decoded: decode(reply) as ReturnType<typeof decode> & { answers: Rr[]; authorities: Rr[]; additionals: Rr[] } };
}
const shape = (records: Rr[]) => records.map((r) => (r.type === "RRSIG" ? `${r.name} RRSIG ${r.data.typeCovered}` : `${r.name} ${r.type}`));

describe("signed answers to queries with the DO bit", () => {
  test("a gateway's A comes with its RRSIG: our key, our zone as signer, the RRset's TTL and labels", () => {
    const { decoded } = ask("Home.example.test", "A");
    expect(decoded.rcode).toBe("NOERROR");
    expect(decoded.flag_aa).toBe(true);
    expect(shape(decoded.answers)).toEqual(["Home.example.test A", "Home.example.test RRSIG A"]);
    const rrsig = decoded.answers[1];
    expect(rrsig.ttl).toBe(decoded.answers[0].ttl);
    expect(rrsig.data).toMatchObject({ algorithm: 13, labels: 3, originalTTL: 60, keyTag: signer.keyTag, signersName: "example.test" });
    expect(rrsig.data.signature.length).toBe(64);
    expect(rrsig.data.inception).toBeLessThanOrEqual(NOW - 7 * 86400);
    expect(rrsig.data.expiration).toBeGreaterThan(NOW + 7 * 86400);
  });

  test("every RRset of every section is signed: apex NS, its glue, a CNAME chain", () => {
    expect(shape(ask("example.test", "NS").decoded.answers)).toEqual(["example.test NS", "example.test NS", "example.test RRSIG NS"]);
    expect(shape(ask("example.test", "NS").decoded.additionals.filter((r) => r.type !== "OPT"))).toEqual([
      "ns1.example.test A",
      "ns1.example.test RRSIG A",
      "ns2.example.test A",
      "ns2.example.test RRSIG A",
    ]);
    expect(shape(ask("www.example.test", "A").decoded.answers)).toEqual([
      "www.example.test CNAME",
      "www.example.test RRSIG CNAME",
      "example.test A",
      "example.test RRSIG A",
    ]);
    expect(shape(ask("_acme-challenge.home.example.test", "TXT").decoded.answers)).toEqual([
      "_acme-challenge.home.example.test TXT",
      "_acme-challenge.home.example.test RRSIG TXT",
    ]);
  });

  test("the DNSKEY is answered at the apex, with or without the DO bit; its RRSIG with it", () => {
    const withDo = ask("example.test", "DNSKEY").decoded;
    expect(shape(withDo.answers)).toEqual(["example.test DNSKEY", "example.test RRSIG DNSKEY"]);
    expect(withDo.answers[0].data).toMatchObject({ flags: 257, algorithm: 13 });
    expect(Buffer.from(withDo.answers[0].data.key).equals(Buffer.from((signer.dnskey() as { key: Uint8Array }).key))).toBe(true);
    expect(shape(ask("example.test", "DNSKEY", { dnssecOk: false }).decoded.answers)).toEqual(["example.test DNSKEY"]);
    // nowhere else
    expect(ask("home.example.test", "DNSKEY").decoded.answers).toEqual([]);
  });

  test("a name that does not exist: NOERROR, the SOA and one NSEC to \\000.<name> with RRSIG NSEC NXNAME, each signed", () => {
    const { decoded } = ask("Nope.example.test", "A");
    expect(decoded.rcode).toBe("NOERROR");
    expect(decoded.answers).toEqual([]);
    expect(shape(decoded.authorities)).toEqual(["example.test SOA", "example.test RRSIG SOA", "Nope.example.test NSEC", "Nope.example.test RRSIG NSEC"]);
    const nsec = decoded.authorities[2];
    expect(nsec.data).toEqual({ nextDomain: "\u0000.nope.example.test", rrtypes: ["RRSIG", "NSEC", "UNKNOWN_128"] });
    expect(nsec.ttl).toBe(60); // the SOA minimum, as the negative answer's SOA
  });

  test("a name asked for with a leading `*` label: its records are signed without counting that label (RFC 4034 3.1.3)", () => {
    // counted, unbound calls the answer bogus ("signature labelcount out of range")
    const { decoded } = ask("*.example.test", "A");
    expect(shape(decoded.authorities)).toEqual(["example.test SOA", "example.test RRSIG SOA", "*.example.test NSEC", "*.example.test RRSIG NSEC"]);
    expect(decoded.authorities[3].data.labels).toBe(2);
    expect(ask("*.tun.example.test", "TXT").decoded.authorities[3].data.labels).toBe(3);
    const kite = ask("*.srand.qtoken.sign.proto.tun.example.test.example.test", "A").decoded;
    expect(shape(kite.answers)).toEqual([
      "*.srand.qtoken.sign.proto.tun.example.test.example.test A",
      "*.srand.qtoken.sign.proto.tun.example.test.example.test RRSIG A",
    ]);
    expect(kite.answers[1].data.labels).toBe(9);
    expect(ask("a*.example.test", "A").decoded.authorities[3].data.labels).toBe(3);
  });

  test("NODATA: the NSEC lists the types the name holds (and the apex its DNSKEY)", () => {
    // no address yet: the shared TXT, CAA, MX; and A, which a ping may add any moment
    const fresh = ask("fresh.example.test", "AAAA").decoded;
    expect(fresh.rcode).toBe("NOERROR");
    expect(shape(fresh.authorities)).toEqual(["example.test SOA", "example.test RRSIG SOA", "fresh.example.test NSEC", "fresh.example.test RRSIG NSEC"]);
    expect(fresh.authorities[2].data.rrtypes).toEqual(["A", "MX", "TXT", "RRSIG", "NSEC", "CAA"]);
    expect(fresh.authorities[2].data.nextDomain).toBe("\u0000.fresh.example.test");
    const apex = ask("example.test", "DS").decoded;
    expect(apex.authorities[2].data.rrtypes).toEqual(["A", "NS", "SOA", "MX", "TXT", "AAAA", "RRSIG", "NSEC", "DNSKEY", "CAA"]);
    // a gateway's _acme-challenge without a challenge holds nothing but the NSEC and its RRSIG
    const challengeless = ask("_acme-challenge.fresh.example.test", "TXT").decoded;
    expect(challengeless.authorities[2].data.rrtypes).toEqual(["RRSIG", "NSEC"]);
  });

  test("a type the store may add any moment is not denied by a NODATA for another type (RFC 8198 caches)", () => {
    // An ACME client looks the challenge name's zone up (SOA) before it sets the challenge: a
    // resolver caching that NSEC must not answer the TXT query that follows from it.
    const soa = ask("_acme-challenge.fresh.example.test", "SOA").decoded;
    expect(soa.authorities[2].data.rrtypes).toEqual(["TXT", "RRSIG", "NSEC"]);
    // a dynamic-DNS gateway with only an IPv4 address: AAAA may come with its next ping
    const homeCname = ask("home.example.test", "CNAME").decoded;
    expect(homeCname.authorities[2].data.rrtypes).toEqual(["A", "MX", "TXT", "AAAA", "RRSIG", "NSEC", "CAA"]);
  });

  test("a missing name of 255 octets still gets its NSEC: a next name that fits (delv validates all three forms)", () => {
    const [a, b, c] = ["a", "b", "c"].map((x) => x.repeat(63));
    const longest = `${a}.${b}.${c}.${"d".repeat(48)}.example.test`; // 255 octets on the wire
    const { decoded } = ask(longest, "A");
    expect(decoded.rcode).toBe("NOERROR");
    expect(decoded.authorities[2].data.nextDomain).toBe(`${"a".repeat(62)}b.${b}.${c}.${"d".repeat(48)}.example.test`);
    const rest254 = `${b}.${c}.${"e".repeat(63)}.${"d".repeat(45)}.example.test`;
    expect(successor(`x.${rest254}`)).toBe(`x\u0000.${rest254}`); // 254 octets: the first label grows
    expect(successor("nope.example.test")).toBe("\u0000.nope.example.test");
    expect(successor(`${"a".repeat(62)}@.${b}.${c}.${"d".repeat(48)}.example.test`).slice(62, 63)).toBe("["); // not "A"
  });

  test("a missing name of 255 octets whose first label ends in 0xff octets still gets its NSEC, not SERVFAIL", () => {
    const [b, c] = ["b", "c"].map((x) => x.repeat(63));
    const rest = `${b}.${c}.${"d".repeat(48)}.example.test`;
    // the octet before the 0xff ones goes one higher, and they go; a label of 0xff alone: the name after its parent's
    expect(successor(`${"a".repeat(61)}\xff\xff.${rest}`)).toBe(`${"a".repeat(60)}b.${rest}`);
    expect(successor(`${"\xff".repeat(63)}.${rest}`)).toBe(`${"b".repeat(62)}c.${c}.${"d".repeat(48)}.example.test`);
    expect(successor(`${"\xff".repeat(63)}.${"\xff".repeat(63)}.${c}.${"d".repeat(48)}.example.test`)).toBe(
      `${"c".repeat(62)}d.${"d".repeat(48)}.example.test`,
    );
    for (const first of [`${"a".repeat(62)}\xff`, "\xff".repeat(63)]) {
      const labels = [first, b, c, "d".repeat(48), "example", "test"].map((l) => Buffer.concat([Uint8Array.of(l.length), Buffer.from(l, "latin1")]));
      const query = Buffer.concat([
        Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]),
        ...labels,
        Buffer.from([0, 0, 1, 0, 1, 0, 0, 41, 4, 208, 0, 0, 0x80, 0, 0, 0]),
      ]);
      const decoded = decode(signed(query, "udp") as Buffer) as any;
      expect(decoded.rcode).toBe("NOERROR");
      expect(decoded.authorities.map((r: Rr) => r.type)).toEqual(["SOA", "RRSIG", "NSEC", "RRSIG"]);
    }
  });

  test("asked for NSEC, a name gets its NSEC as the answer, signed", () => {
    for (const [name, types] of [
      ["home.example.test", ["A", "MX", "TXT", "AAAA", "RRSIG", "NSEC", "CAA"]],
      ["nope.example.test", ["RRSIG", "NSEC", "UNKNOWN_128"]],
    ] as const) {
      const { decoded } = ask(name, "NSEC");
      expect(decoded.rcode).toBe("NOERROR");
      expect(shape(decoded.answers)).toEqual([`${name} NSEC`, `${name} RRSIG NSEC`]);
      expect(decoded.answers[0].data.rrtypes).toEqual(types);
      expect(decoded.authorities).toEqual([]);
    }
  });

  test("asked for RRSIG, a name gets the signatures of its RRsets", () => {
    const { decoded } = ask("home.example.test", "RRSIG");
    expect(decoded.rcode).toBe("NOERROR");
    expect(shape(decoded.answers).sort()).toEqual([
      "home.example.test RRSIG A",
      "home.example.test RRSIG CAA",
      "home.example.test RRSIG MX",
      "home.example.test RRSIG TXT",
    ]);
  });

  test("asked for RRSIG, a name with no signed RRset but its NSEC gets that NSEC's RRSIG, not a NODATA unbound calls bogus", () => {
    // a NODATA proven by an NSEC listing RRSIG contradicts itself ("nodata proof failed")
    for (const name of ["_acme-challenge.fresh.example.test", "nope.example.test", "example.test.example.test"]) {
      const { decoded } = ask(name, "RRSIG");
      expect(decoded.rcode).toBe("NOERROR");
      expect(shape(decoded.answers), name).toEqual([`${name} RRSIG NSEC`]);
      expect(decoded.authorities).toEqual([]);
      const nsec = ask(name, "NSEC").decoded.answers;
      const { signature: _, ...fields } = decoded.answers[0].data;
      expect(nsec[1].data).toMatchObject(fields); // the RRSIG over the NSEC itself (ECDSA signs differently each time)
    }
  });

  test("a question for NXNAME is FORMERR (RFC 9824 3.5), not a NODATA its own NSEC, listing NXNAME, contradicts", () => {
    for (const name of ["nope.example.test", "home.example.test"]) {
      const { decoded } = ask(name, "UNKNOWN_128");
      expect(decoded.rcode, name).toBe("FORMERR");
      expect([...decoded.answers, ...decoded.authorities]).toEqual([]);
    }
  });

  test("a flood of missing names does not push the zone's signatures out of the signature cache (their NSECs' are not kept)", () => {
    const small = loadSigner(generateSigningKey("ecdsap256sha256"), { zone: "example.test", ttl: zone.ttl, cacheEntries: 16 });
    const respond = createResponder({ zone, lookups, log: () => {}, signer: small, now: () => NOW });
    const home = () => ask("home.example.test", "A", { respond });
    const first = home().decoded.answers[1].data.signature;
    for (let i = 0; i < 200; i++) {
      ask(`gone-${i}.example.test`, "A", { respond });
      ask(`gone-${i}.example.test`, i % 2 ? "NSEC" : "RRSIG", { respond });
    }
    const hits = small.cache.hits;
    // ECDSA signs differently each time: the same bytes mean the kept signature was reused
    expect(home().decoded.answers[1].data.signature).toEqual(first);
    expect(small.cache.hits).toBe(hits + 1);
  });

  test("outside the zone: REFUSED, unsigned", () => {
    const { decoded } = ask("example.org", "A");
    expect(decoded.rcode).toBe("REFUSED");
    expect([...decoded.answers, ...decoded.authorities]).toEqual([]);
  });

  test("without the DO bit, the same bytes as with DNSSEC off (only DNSKEY differs)", () => {
    const names = ["example.test", "home.example.test", "six.example.test", "www.example.test", "nope.example.test", "_acme-challenge.home.example.test"];
    for (const name of names)
      for (const type of ["A", "AAAA", "TXT", "NS", "SOA", "CAA", "MX", "ANY"]) {
        const query = encodeQuery(name, type, { id: 7 });
        expect((signed(query, "udp") as Buffer).toString("hex")).toBe((unsigned(query, "udp") as Buffer).toString("hex"));
        const edns = encodeQuery(name, type, { id: 7, edns: { udpPayloadSize: 1232 } });
        expect((signed(edns, "udp") as Buffer).toString("hex")).toBe((unsigned(edns, "udp") as Buffer).toString("hex"));
      }
  });

  test("UDP size rules hold: a DO query with a 512-byte payload gets at most 512 bytes, TC when the signed answer does not fit", () => {
    for (const [name, type] of [
      ["example.test", "NS"],
      ["example.test", "TXT"],
      ["nope.example.test", "A"],
      ["home.example.test", "A"],
    ]) {
      const query = encodeQuery(name, type, { id: 1, edns: { udpPayloadSize: 512, flags: 0x8000 } });
      const reply = signed(query, "udp") as Buffer;
      expect(reply.length).toBeLessThanOrEqual(512);
      const decoded = decode(reply);
      if (!(decoded.flags! & 0x200)) {
        // complete: every answer RRset still has its RRSIG
        const covered = new Set((decoded.answers ?? []).filter((r) => r.type === "RRSIG").map((r) => (r as Rr).data.typeCovered));
        for (const r of decoded.answers ?? []) if (r.type !== "RRSIG") expect(covered.has(r.type)).toBe(true);
      }
      // over TCP the whole signed answer
      const tcp = decode(signed(query, "tcp") as Buffer);
      expect(tcp.flags! & 0x200).toBe(0);
    }
  });
});

describe("the delegated PageKite zone (dns.pagekite_address) with DNSSEC on", () => {
  const delegating = createResponder({ zone: testZone({ dnssec: true, pagekiteAddress: "192.0.2.53" }), lookups, log: () => {}, signer, now: () => NOW });
  const kite = "a1b2c3.f00dfeed.1a2b3c4d0123456789abcdef0123456789ab.https-443.home.example.test.example.test";

  test("answers at and below its apex go out unsigned: it is a zone of its own, without a key", () => {
    for (const [name, type] of [
      [kite, "A"],
      ["example.test.example.test", "NS"],
      ["example.test.example.test", "SOA"],
      ["ns.example.test.example.test", "A"],
    ]) {
      const { decoded } = ask(name, type, { respond: delegating });
      expect(decoded.answers.length).toBeGreaterThan(0);
      expect([...decoded.answers, ...decoded.authorities].filter((r) => r.type === "RRSIG" || r.type === "NSEC")).toEqual([]);
    }
  });

  test("its DS is denied by the parent: a signed NSEC at the cut with NS and no DS or SOA, next outside the child", () => {
    const { decoded } = ask("example.test.example.test", "DS", { respond: delegating });
    expect(decoded.rcode).toBe("NOERROR");
    expect(shape(decoded.authorities)).toEqual([
      "example.test SOA",
      "example.test RRSIG SOA",
      "example.test.example.test NSEC",
      "example.test.example.test RRSIG NSEC",
    ]);
    expect(decoded.authorities[2].data).toEqual({ nextDomain: "example\u0000.test.example.test", rrtypes: ["NS", "RRSIG", "NSEC"] });
  });

  test("without the delegation the PageKite names are the zone's own, and signed", () => {
    expect(shape(ask(kite, "A").decoded.answers)).toEqual([`${kite} A`, `${kite} RRSIG A`]);
  });
});

describe("signed answers in the answer cache", () => {
  test("a cached signed answer is the same bytes; it is rebuilt once the signing week rolls", () => {
    let now = NOW;
    const cache = new AnswerCache();
    const respond = createResponder({ zone, lookups, log: () => {}, signer, now: () => now, cache });
    const query = encodeQuery("home.example.test", "A", { id: 3, edns: DO });
    const first = respond(query, "udp") as Buffer;
    expect((respond(query, "udp") as Buffer).equals(first)).toBe(true);
    expect(cache.stats.hits).toBe(1);
    // the next epoch: every owner's signatures have rolled
    now = (signingEpoch(NOW) + 1) * 7 * 86400 + 3600;
    const rolled = respond(query, "udp") as Buffer;
    expect(cache.stats.hits).toBe(1);
    const before = (decode(first).answers![1] as Rr).data;
    const after = (decode(rolled).answers![1] as Rr).data;
    expect(after.inception).toBe(before.inception + 7 * 86400);
    expect((respond(query, "udp") as Buffer).equals(rolled)).toBe(true);
    expect(cache.stats.hits).toBe(2);
  });
});

describe("response-rate limiting before signing", () => {
  test("a burst of DO queries for missing names over the rate: only the answers that go out are signed, and they and the slipped ones are what signing first gave", () => {
    // Ed25519 signs deterministically: the same RRset gives the same bytes whenever it is signed
    const ed25519 = loadSigner(generateSigningKey("ed25519"), { zone: "example.test", ttl: zone.ttl });
    const respond = createResponder({ zone, lookups, log: () => {}, signer: ed25519, now: () => NOW, cache: new AnswerCache() });
    // one instant, so no token comes back: 10 answers go out, then every 2nd is slipped (TC), the others dropped
    const rrl = new ResponseRateLimiter({ rate: 10, slip: 2 });
    const limit = (reply: Buffer, client: string) => rrl.verdict(reply, client, 1000);
    const query = (i: number) => encodeQuery(`gone-${i}.example.test`, "A", { id: i, edns: DO });
    const replies = Array.from({ length: 100 }, (_, i) => respond(query(i), "udp", "198.51.100.7", limit));
    const tc = (reply: Buffer | null) => reply !== null && (reply[2] & 0x02) !== 0;
    expect([replies.filter((r) => r && !tc(r)).length, replies.filter(tc).length, replies.filter((r) => r === null).length]).toEqual([10, 45, 45]);
    // signatures made: the NSEC of each answer that went out, and the SOA's once (kept for reuse)
    expect(ed25519.cache.misses).toBe(10 + 1);
    // each reply is what answering without a limit gives, slipped ones truncated (header, NOERROR as compact denial answers, and question)
    const signedAtOnce = createResponder({ zone, lookups, log: () => {}, signer: ed25519, now: () => NOW });
    for (const [i, reply] of replies.entries()) {
      if (reply === null) continue;
      const expected = signedAtOnce(query(i), "udp") as Buffer;
      expect(reply.toString("hex")).toBe((tc(reply) ? truncatedReply(expected) : expected).toString("hex"));
    }
    expect(shape(decode(replies[0]!).authorities as Rr[])).toEqual([
      "example.test SOA",
      "example.test RRSIG SOA",
      "gone-0.example.test NSEC",
      "gone-0.example.test RRSIG NSEC",
    ]);
  });

  test("an answer the limit lets through is byte for byte the one signed at once: every RRSIG of every section, and when a 512-byte payload drops some or all", () => {
    const ed25519 = loadSigner(generateSigningKey("ed25519"), { zone: "example.test", ttl: zone.ttl });
    // six name servers with glue (at 512 octets the additional section goes), three long TXT at the apex (at 512, TC)
    const big = testZone({
      dnssec: true,
      nameservers: Array.from({ length: 6 }, (_, i) => [`ns${i + 1}.example.test.`, `192.0.2.${53 + i}`] as [string, string]),
      txt: Array.from({ length: 3 }, (_, i) => ["@", `${i}${"x".repeat(200)}`] as [string, string]),
    });
    const limited = createResponder({ zone: big, lookups, log: () => {}, signer: ed25519, now: () => NOW });
    const signedAtOnce = createResponder({ zone: big, lookups, log: () => {}, signer: ed25519, now: () => NOW });
    const questions = [
      ["example.test", "NS"],
      ["example.test", "TXT"],
      ["example.test", "DNSKEY"],
      ["www.example.test", "A"],
      ["home.example.test", "RRSIG"],
      ["nope.example.test", "NSEC"],
      ["home.example.test", "MX"],
    ];
    for (const udpPayloadSize of [1232, 512])
      for (const [name, type] of questions) {
        const query = encodeQuery(name, type, { id: 5, edns: { udpPayloadSize, flags: 0x8000 } });
        const reply = limited(query, "udp", "198.51.100.7", () => VERDICT.send) as Buffer;
        expect({ name, type, udpPayloadSize, reply: reply.toString("hex") }).toEqual({
          name,
          type,
          udpPayloadSize,
          reply: (signedAtOnce(query, "udp") as Buffer).toString("hex"),
        });
      }
  });
});
