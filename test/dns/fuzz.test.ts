// Hostile input: 10,000 random and mutated messages, then garbage over TCP; the server must
// answer each query at most once, never throw, and still answer a valid query afterwards.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { createResponder } from "../../src/dns/responder.ts";
import { decode, encodeQuery, seededStore, startTestDns, tcpExchange, tcpFramed, testZone, udpExchange } from "./client.ts";

const SEED = Number(process.env.DNS_FUZZ_SEED ?? 20240101);
const COUNT = 10_000;

/** mulberry32: a small seeded generator, so a failure can be replayed with DNS_FUZZ_SEED. */
function generator(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  return { next, int, bytes };
}

const zone = testZone({
  txt: [
    ["@", "v=spf1 -all"],
    ["*", "gateway"],
    ["big", "b".repeat(700)],
  ],
});
const CORPUS = [
  encodeQuery("home.example.test", "A"),
  encodeQuery("HOME.example.test", "AAAA", { edns: { udpPayloadSize: 1232 } }),
  encodeQuery("example.test", "ANY", { edns: { udpPayloadSize: 4096 } }),
  encodeQuery("big.example.test", "TXT"),
  encodeQuery("_acme-challenge.home.example.test", "TXT"),
  encodeQuery("a.b.0123456789abcdef0123456789abcdef0123.https-443.home.example.test.example.test", "A"),
  encodeQuery("example.org", "NS"),
  encodeQuery("nobody.example.test", "CAA", { edns: {} }),
];

function mutate(rng: ReturnType<typeof generator>): Buffer {
  const kind = rng.int(8);
  if (kind === 0) return rng.bytes(rng.int(300));
  const base = Buffer.from(CORPUS[rng.int(CORPUS.length)]);
  switch (kind) {
    case 1: // flip a few octets
      for (let i = rng.int(5) + 1; i > 0; i--) base[rng.int(base.length)] = rng.int(256);
      return base;
    case 2: // cut short
      return base.subarray(0, rng.int(base.length));
    case 3: // trailing garbage
      return Buffer.concat([base, rng.bytes(rng.int(64) + 1)]);
    case 4: // lie about the section counts
      base.writeUInt16BE(rng.int(65536), 4 + 2 * rng.int(4));
      return base;
    case 5: // random flags and opcode, QR left clear so it is read as a query
      base.writeUInt16BE(rng.int(65536) & 0x7fff, 2);
      return base;
    case 6: // a compression pointer or an oversize label somewhere in the question
      base[12 + rng.int(Math.max(1, base.length - 16))] = rng.next() < 0.5 ? 0xc0 | rng.int(64) : 64 + rng.int(192);
      return base;
    default: // two messages glued together
      return Buffer.concat([base, CORPUS[rng.int(CORPUS.length)]]);
  }
}

const seeded = seededStore();
const lookups = { gateway: seeded.store.findGatewayByName };
let dns: Awaited<ReturnType<typeof startTestDns>>;
beforeAll(async () => {
  dns = await startTestDns(zone, lookups);
});
afterAll(async () => {
  await dns.close();
  seeded.cleanup();
});

const rng = generator(SEED);
const messages = Array.from({ length: COUNT }, () => mutate(rng));

describe(`fuzz (seed ${SEED})`, () => {
  test(`${COUNT} hostile messages: never a throw, at most one reply, each reply well-formed and within 512 octets without EDNS`, () => {
    const respond = createResponder({ zone, lookups, log: () => {} });
    let replies = 0;
    for (const message of messages) {
      let reply: Buffer | null = null;
      try {
        reply = respond(message, "udp");
      } catch (e) {
        throw new Error(`responder threw on ${message.toString("hex")}: ${(e as Error).message}`);
      }
      if (!reply) continue;
      replies++;
      const decoded = decode(reply); // dns-packet throws on a malformed message
      expect(decoded.id).toBe(message.readUInt16BE(0));
      expect(decoded.type).toBe("response");
      expect(reply.length).toBeLessThanOrEqual(1232);
      if (!decoded.additionals?.some((r) => r.type === "OPT")) expect(reply.length).toBeLessThanOrEqual(512);
    }
    // Most mutations still carry a header, so most get an answer (FORMERR at least).
    expect(replies).toBeGreaterThan(COUNT / 2);
  });

  test(`${COUNT} hostile datagrams over UDP, then a valid query is still answered`, async () => {
    const socket = createSocket("udp4");
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
    for (let i = 0; i < messages.length; i++) {
      socket.send(messages[i], dns.port, "127.0.0.1");
      if (i % 250 === 249) await Bun.sleep(1); // let the server drain; the point is the content, not a flood
    }
    await Bun.sleep(50);
    socket.close();
    const reply = decode(await udpExchange(dns.port, encodeQuery("home.example.test", "A", { id: 31337 })));
    expect(reply.id).toBe(31337);
    expect(reply.answers?.map((a: any) => a.data)).toEqual(["203.0.113.5"]);
    expect(dns.log.filter((l) => l.includes("unexpected"))).toEqual([]);
  });

  test("each of 300 valid UDP queries gets exactly one reply", async () => {
    const socket = createSocket("udp4");
    const repliesById = new Map<number, number>();
    socket.on("message", (m) => repliesById.set(m.readUInt16BE(0), (repliesById.get(m.readUInt16BE(0)) ?? 0) + 1));
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
    const ids = Array.from({ length: 300 }, (_, i) => i + 1);
    for (const id of ids) {
      const query = Buffer.from(CORPUS[id % CORPUS.length]);
      query.writeUInt16BE(id, 0);
      socket.send(query, dns.port, "127.0.0.1");
      if (id % 50 === 0) await Bun.sleep(5);
    }
    // until every ID has a reply (a bound, not a measurement), then a moment for any second one
    for (const deadline = Date.now() + 5000; repliesById.size < ids.length && Date.now() < deadline; ) await Bun.sleep(10);
    await Bun.sleep(100);
    socket.close();
    expect(ids.filter((id) => repliesById.get(id) !== 1)).toEqual([]);
    expect(repliesById.size).toBe(300);
  });

  test("garbage over TCP (bad framing, huge lengths, early close) leaves TCP answering", async () => {
    const garbageRng = generator(SEED + 1);
    const connections: Promise<void>[] = [];
    for (let i = 0; i < 40; i++) {
      connections.push(
        new Promise<void>((resolve) => {
          const socket = connect(dns.port, "127.0.0.1");
          socket.on("error", () => resolve());
          socket.on("close", () => resolve());
          socket.on("data", () => {});
          const kind = i % 4;
          if (kind === 0) socket.end(garbageRng.bytes(garbageRng.int(2000) + 1));
          else if (kind === 1)
            socket.end(Buffer.concat([Buffer.from([0xff, 0xff]), garbageRng.bytes(100)])); // promises 65535 octets, sends 100
          else if (kind === 2) {
            const body = mutate(garbageRng);
            socket.end(tcpFramed(body));
          } else {
            socket.write(garbageRng.bytes(garbageRng.int(50) + 1));
            setTimeout(() => socket.destroy(), 20);
          }
          setTimeout(() => {
            socket.destroy();
            resolve();
          }, 2000);
        }),
      );
    }
    await Promise.all(connections);
    const [reply] = await tcpExchange(dns.port, [encodeQuery("six.example.test", "AAAA", { id: 4711 })]);
    const decoded = decode(reply);
    expect(decoded.id).toBe(4711);
    expect(decoded.answers?.map((a: any) => a.data)).toEqual(["2001:db8:1::5"]);
  });
});
