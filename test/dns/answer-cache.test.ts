// The answer cache (docs/dns.md, "The answer cache"): every cached reply is byte-for-byte what the uncached path
// answers, and every write through the store drops the answers built from the changed row.
// The encoder's byte writer: byte-for-byte what dns2's own writer produced before it.
import { afterAll, describe, expect, test } from "bun:test";
import { kiteSign } from "../support/helpers.ts";
import { Packet } from "dns2";
import { AnswerCache, AnswerVersions } from "../../src/dns/answer-cache.ts";
import { ByteWriter } from "../../src/dns/byte-writer.ts";
import { createResponder } from "../../src/dns/responder.ts";
import { encodeQuery, GATEWAYS, seededStore, testZone } from "./client.ts";

const zone = testZone();
const seeded = seededStore();
const { store } = seeded;
afterAll(() => seeded.cleanup());

// More gateways of every kind, so the queries below touch many rows: each mix of mode, address
// and challenge (i % 30) three times, and challenges of every length the loop makes twice.
const extra: { label: string; token: string }[] = [];
const now = Math.floor(Date.now() / 1000);
for (let i = 0; i < 100; i++) {
  const label = `gw${i}`;
  const token = crypto.randomUUID();
  store.insertDomain({ name: `${label}.example.test.`, token, description: "", mode: i % 2, timestamp: now });
  if (i % 3 !== 0) store.recordPing(token, now, i % 5 === 0 ? `2001:db8::${i.toString(16)}` : `198.51.100.${i}`);
  if (i % 2 === 0) store.setDnsChallenge(token, `challenge-${i}-${"x".repeat(i % 50)}`);
  extra.push({ label, token });
}

const log: string[] = [];
const uncached = createResponder({ zone, lookups: { gateway: store.findGatewayByName }, log: (l) => log.push(l) });
function cachedResponder() {
  const cache = new AnswerCache();
  store.onGatewayChange((name) => cache.invalidate(name));
  return { cache, respond: createResponder({ zone, lookups: { gateway: store.findGatewayByName }, log: (l) => log.push(l), cache }) };
}

/** Deterministic mixed case: DNS names are matched case-insensitively but echoed as asked. */
let seed = 7;
const rand = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
const mixCase = (name: string) => [...name].map((c) => (rand() < 0.2 ? c.toUpperCase() : c)).join("");

const TYPES = ["A", "AAAA", "TXT", "MX", "CAA", "NS", "SOA", "CNAME", "ANY"];
const labels = [...GATEWAYS.map((g) => g.label), ...extra.map((g) => g.label)];
function names(): string[] {
  const out = [
    "example.test",
    "ns1.example.test",
    "ns2.example.test",
    "api.example.test",
    "www.example.test",
    "_psl.example.test",
    "docs.example.test",
    "_dmarc.example.test",
    "nope.example.test",
    "a.b.example.test",
    "example.org",
    ".",
  ];
  for (const label of labels) out.push(`${label}.example.test`, `_acme-challenge.${label}.example.test`);
  // PageKite: a good signature for "home", a bad one, and malformed ones
  out.push("r1.q1.0123456789abcdef0123456789abcdef0123.http-80.home.example.test.example.test", "x.y.z.example.test.example.test");
  return out;
}

function queries(): { message: Buffer; transport: "udp" | "tcp" }[] {
  const out: { message: Buffer; transport: "udp" | "tcp" }[] = [];
  for (const name of names())
    for (const type of TYPES) {
      const edns = rand() < 0.5 ? { udpPayloadSize: rand() < 0.5 ? 512 : 4096 } : false;
      out.push({ message: encodeQuery(mixCase(name), type, { edns, flags: rand() < 0.5 ? 0x0100 : 0 }), transport: rand() < 0.8 ? "udp" : "tcp" });
    }
  return out;
}

/** A PageKite query name signed with `token` (docs/dns.md, "PageKite"). */
function pageKiteName(label: string, token: string | undefined): string {
  return `r1.q1.${kiteSign(token ?? "", "http-80", `${label}.example.test`, "r1", "q1", "0a1b2c3d")}.http-80.${label}.example.test.example.test`;
}
const currentToken = (label: string) => store.findDomainByName(`${label}.example.test.`)?.token;

const withId = (message: Buffer, id: number) => {
  const copy = Buffer.from(message);
  copy.writeUInt16BE(id, 0);
  return copy;
};

describe("DNS answer cache", () => {
  test("over two thousand queries, a cached reply (miss, then hit under another ID) equals the uncached reply byte for byte", () => {
    const { cache, respond } = cachedResponder();
    const all = queries();
    expect(all.length).toBeGreaterThan(2000);
    let hits = 0;
    for (const { message, transport } of all) {
      const expected = uncached(message, transport);
      expect(respond(message, transport)).toEqual(expected);
      const again = withId(message, (message.readUInt16BE(0) + 1) & 0xffff);
      const hitsBefore = cache.stats.hits;
      const second = respond(again, transport);
      hits += cache.stats.hits - hitsBefore;
      expect(second).toEqual(uncached(again, transport));
    }
    expect(hits).toBe(all.length);
    expect(log).toEqual([]);
  });

  test("each write through the store changes the very next cached answer, and only for that name", async () => {
    const { cache, respond } = cachedResponder();
    /** Asks, checks the reply against the uncached path, and tells whether it came from the cache. */
    const ask = (name: string, type: string) => {
      const message = encodeQuery(name, type, { id: 1 });
      const hitsBefore = cache.stats.hits;
      const reply = respond(message, "udp")!;
      expect(reply).toEqual(uncached(message, "udp")!);
      return cache.stats.hits > hitsBefore;
    };
    const warm = () => {
      for (const g of extra.slice(0, 20)) {
        ask(`${g.label}.example.test`, "A");
        ask(`_acme-challenge.${g.label}.example.test`, "TXT");
      }
      ask("newcomer.example.test", "A");
    };
    const [a, b] = [extra[1], extra[2]];
    const writes: [string, () => unknown][] = [
      ["recordPing", () => store.recordPing(a.token, now + 1, "192.0.2.99")],
      ["recordPingGrouped", () => store.recordPingGrouped(a.token, now + 2, "2001:db8::99")],
      ["setDnsChallenge", () => store.setDnsChallenge(a.token, "fresh-challenge")],
      ["insertDomain", () => store.insertDomain({ name: "newcomer.example.test.", token: crypto.randomUUID(), description: "", mode: 1, timestamp: now })],
      ["deleteByToken", () => store.deleteByToken(b.token)],
      [
        "reclaimDomain",
        () => {
          store.setReclamationToken(store.findDomainByName(`${a.label}.example.test.`)!.id, "reclaim-1", now + 3600);
          return store.reclaimDomain(`${a.label}.example.test.`, "reclaim-1", crypto.randomUUID(), "", 0, now);
        },
      ],
      [
        "deleteByReclamationToken",
        () => {
          store.setReclamationToken(store.findDomainByName(`${a.label}.example.test.`)!.id, "reclaim-2", now + 3600);
          return store.deleteByReclamationToken("reclaim-2", now);
        },
      ],
      ["deleteStaleBatch", () => store.deleteStaleBatch({ cutoff: now + 10, after: 0, limit: 1000, scan: 1000 })],
    ];
    for (const [what, write] of writes) {
      warm();
      ask(`${a.label}.example.test`, "A");
      ask(`${extra[3].label}.example.test`, "A");
      ask(pageKiteName(a.label, currentToken(a.label)), "A");
      expect(ask(`${a.label}.example.test`, "A"), what).toBe(true);
      await write();
      // the answers for the changed rows are gone from the cache; an unrelated one stays
      // (the expiry batch removes every gateway above, extra[3] included)
      expect(ask(`${extra[3].label}.example.test`, "A"), what).toBe(what !== "deleteStaleBatch");
      // and what is answered now is the uncached answer (ask() checks), e.g. the new address
      const changed = { insertDomain: "newcomer", deleteByToken: b.label, deleteStaleBatch: extra[4].label }[what] ?? a.label;
      expect(ask(`${changed}.example.test`, "A"), what).toBe(false);
      ask(`${a.label}.example.test`, "A");
      ask(`_acme-challenge.${a.label}.example.test`, "TXT");
      ask(`${b.label}.example.test`, "A");
      ask("newcomer.example.test", "A");
      // signed with the token the gateway had before this write: valid until a reclaim
      ask(pageKiteName(a.label, a.token), "A");
    }
  });

  test("a full ring lets its oldest unasked answers go, keeps the ones asked for, and drops what an invalidated row built", () => {
    // 4 KB: each entry below takes 12 + 8 + 32 (query) + 300 (reply) = 352 bytes, so 11 fit
    const cache = new AnswerCache(4096);
    const q = (label: string) => encodeQuery(`${label}.example.test`, "A", { id: 0x0102 });
    const reply = (n: number) => Buffer.alloc(300, n);
    const cached = (label: string) => cache.get(q(label), "udp")?.[2];
    for (let i = 1; i <= 6; i++) cache.set(q(`k${i}`), "udp", reply(i), [`k${i}.example.test.`]);
    // an answer carries the ID of the message it answers
    const answered = cache.get(withId(q("k1"), 0xabcd), "udp")!;
    expect([answered[0], answered[1], answered.length, answered[299]]).toEqual([0xab, 0xcd, 300, 1]);
    // k1 was asked for while in the older half, so it moved to the head; k2..k6 did not
    for (let i = 7; i <= 13; i++) cache.set(q(`k${i}`), "udp", reply(i), [`k${i}.example.test.`]);
    expect([cached("k2"), cached("k3")]).toEqual([undefined, undefined]);
    expect(cached("k1")).toBe(1);
    expect(cached("k13")).toBe(13);
    // the transport is part of the key
    expect(cache.get(q("k12"), "tcp")).toBeUndefined();
    // a write to a row drops the answers built from it, and only those
    cache.invalidate("k12.example.test.");
    expect(cached("k12")).toBeUndefined();
    expect(cached("k11")).toBe(11);
    // a message cached again after an invalidation answers with the new reply
    cache.set(q("k12"), "udp", reply(42), ["k12.example.test."]);
    expect(cached("k12")).toBe(42);
    // invalidating a name whose answers were overwritten already is harmless
    cache.invalidate("k2.example.test.");
    expect(cached("k11")).toBe(11);
  });

  test("an invalidated answer gives up its slot before a live one does", () => {
    const cache = new AnswerCache();
    const hash = (AnswerCache as unknown as { hash(message: Uint8Array, transport: string): number }).hash;
    const setOf = (message: Buffer) => hash(message, "udp") & ((1 << 17) - 1);
    // three messages whose hashes fall in the same set of two slots
    const bySet = new Map<number, Buffer[]>();
    let trio: Buffer[] | undefined;
    for (let i = 0; !trio; i++) {
      const message = encodeQuery(`n${i}.example.test`, "A", { id: 1 });
      const same = bySet.get(setOf(message)) ?? [];
      same.push(message);
      bySet.set(setOf(message), same);
      if (same.length === 3) trio = same;
    }
    const [live, dead, newcomer] = trio;
    cache.set(live, "udp", Buffer.from([0, 1, 1]), ["live.example.test."]);
    cache.set(dead, "udp", Buffer.from([0, 1, 2]), ["dead.example.test."]);
    cache.invalidate("dead.example.test.");
    cache.set(newcomer, "udp", Buffer.from([0, 1, 3]), ["newcomer.example.test."]);
    // the older of the two (live) would have gone; the invalidated one went instead
    expect(cache.get(live, "udp")?.[2]).toBe(1);
    expect(cache.get(newcomer, "udp")?.[2]).toBe(3);
    expect(cache.get(dead, "udp")).toBeUndefined();
  });

  test("a write committed by another thread while the answer was being looked up leaves that answer uncached, never served stale", () => {
    // The DNS thread reads a row, the writing thread commits and bumps the counter, then the
    // DNS thread caches what it read: the entry must carry the counter as it was before the read.
    const versions = new AnswerVersions();
    const cache = new AnswerCache(undefined, versions);
    let address = "192.0.2.1";
    const lookups = {
      gateway(name: string) {
        const row = name === "racy.example.test." ? { mode: 1, lastIp: address, lastIpv4: address, lastIpv6: "", dnsChallenge: "", token: "t" } : undefined;
        // the other thread's write lands right after this read
        address = "192.0.2.2";
        versions.invalidate("racy.example.test.");
        return row;
      },
    };
    const respond = createResponder({ zone, lookups, log: (l) => log.push(l), cache });
    const message = encodeQuery("racy.example.test", "A", { id: 9 });
    respond(message, "udp");
    const hitsBefore = cache.stats.hits;
    respond(message, "udp");
    expect(cache.stats.hits).toBe(hitsBefore);
  });

  test("counters shared through a SharedArrayBuffer: a bump made through another view of the buffer drops the answer", () => {
    const writer = new AnswerVersions();
    const cache = new AnswerCache(undefined, new AnswerVersions(writer.buffer));
    const message = encodeQuery("shared.example.test", "A", { id: 3 });
    cache.set(message, "udp", Buffer.from([0, 3, 1]), ["shared.example.test."], [writer.of("shared.example.test.")]);
    expect(cache.get(message, "udp")).toEqual(Buffer.from([0, 3, 1]));
    writer.invalidate("shared.example.test.");
    expect(cache.get(message, "udp")).toBeUndefined();
  });

  test("forgetAll (a settings reload) drops every cached answer, in every cache over the shared counters, and new ones are kept", () => {
    const writer = new AnswerVersions();
    const cache = new AnswerCache(undefined, new AnswerVersions(writer.buffer));
    const static1 = encodeQuery("example.test", "TXT", { id: 1 });
    const gateway = encodeQuery("gw.example.test", "A", { id: 2 });
    cache.set(static1, "udp", Buffer.from([0, 1, 1]), []);
    cache.set(gateway, "tcp", Buffer.from([0, 2, 1]), ["gw.example.test."]);
    expect(cache.get(static1, "udp")).toEqual(Buffer.from([0, 1, 1]));
    writer.forgetAll();
    expect(cache.get(static1, "udp")).toBeUndefined();
    expect(cache.get(gateway, "tcp")).toBeUndefined();
    cache.set(static1, "udp", Buffer.from([0, 1, 2]), []);
    expect(cache.get(static1, "udp")).toEqual(Buffer.from([0, 1, 2]));
  });

  test("an answer built from several rows goes when any one of them changes", () => {
    const cache = new AnswerCache();
    const message = encodeQuery("alias.example.test", "A", { id: 7 });
    cache.set(message, "udp", Buffer.from([0, 7, 1]), ["alias.example.test.", "target.example.test."]);
    expect(cache.get(message, "udp")).toEqual(Buffer.from([0, 7, 1]));
    cache.invalidate("target.example.test.");
    expect(cache.get(message, "udp")).toBeUndefined();
  });
});

/** dns2's own bit-array writer, which has the same methods as ours (its types omit some). */
const dns2Writer = () => new Packet.Writer() as unknown as ByteWriter;

describe("DNS encoding", () => {
  test("the byte writer encodes every reply of the cache test's queries exactly as dns2's own bit writer does", () => {
    const reference = createResponder({ zone, lookups: { gateway: store.findGatewayByName }, log: (l) => log.push(l), newWriter: dns2Writer });
    let compared = 0;
    for (const { message, transport } of queries()) {
      expect(uncached(message, transport)).toEqual(reference(message, transport));
      compared++;
    }
    expect(compared).toBeGreaterThan(2000);
  });

  test("the byte writer's bit fields, patches and partial bytes match dns2's writer", () => {
    const ours = new ByteWriter();
    const theirs = dns2Writer();
    const ops: [number, number][] = [
      [1, 1],
      [5, 4],
      [0, 3],
      [0xabcd, 16],
      [0x12345678, 32],
      [-1, 32],
      [300, 8],
      [7, 3],
      [0x1ff, 9],
      [2 ** 33 + 5, 32],
      [1.7, 8],
    ];
    for (const [value, size] of ops) {
      ours.write(value, size);
      theirs.write(value, size);
      expect(ours.bitLength()).toBe(theirs.bitLength());
    }
    ours.patch(16, 0xbeef, 16);
    theirs.patch(16, 0xbeef, 16);
    ours.patch(3, 0x5, 5);
    theirs.patch(3, 0x5, 5);
    expect(ours.toBuffer()).toEqual(theirs.toBuffer());
  });
});
