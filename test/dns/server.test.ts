// startDnsServer over real UDP and TCP sockets, queried with dns-packet (an independent codec).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { kiteSign } from "../support/helpers.ts";
import { createSocket } from "node:dgram";
import { createServer } from "node:net";
import { AnswerCache } from "../../src/dns/answer-cache.ts";
import { startDnsServer } from "../../src/dns/server.ts";
import { decode, encodeQuery, GATEWAYS, packet, seededStore, startTestDns, tcpExchange, testAnswerCache, testZone, udpExchange } from "./client.ts";

const LONG_A = "a".repeat(300);
const LONG_B = "é".repeat(200); // 400 octets in UTF-8: split by octets, joined back intact
const zone = testZone({
  txt: [
    ["@", "v=spf1 -all"],
    ["_psl", "https://github.com/publicsuffix/list/pull/1"],
    ["*", "gateway"],
    ["big", LONG_A],
    ["big", LONG_B],
    ["big", "c".repeat(250)],
  ],
});

const seeded = seededStore();
let dns: Awaited<ReturnType<typeof startTestDns>>;
beforeAll(async () => {
  dns = await startTestDns(zone, { gateway: seeded.store.findGatewayByName });
});
afterAll(async () => {
  await dns.close();
  seeded.cleanup();
});

const udp = async (name: string, type: string, options: Parameters<typeof encodeQuery>[2] = {}) =>
  decode(await udpExchange(dns.port, encodeQuery(name, type, options)));
const tcp = async (name: string, type: string, options: Parameters<typeof encodeQuery>[2] = {}) =>
  decode((await tcpExchange(dns.port, [encodeQuery(name, type, options)]))[0]);
const opt = (reply: ReturnType<typeof decode>) => reply.additionals?.find((r) => r.type === "OPT") as any;

/** A header and a question written by hand, for messages dns-packet will not produce. */
function rawQuery(fields: { id?: number; flags?: number; qd?: number; an?: number; ns?: number; ar?: number; body?: Buffer }): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(fields.id ?? 0x1234, 0);
  header.writeUInt16BE(fields.flags ?? 0, 2);
  header.writeUInt16BE(fields.qd ?? 1, 4);
  header.writeUInt16BE(fields.an ?? 0, 6);
  header.writeUInt16BE(fields.ns ?? 0, 8);
  header.writeUInt16BE(fields.ar ?? 0, 10);
  return Buffer.concat([header, fields.body ?? Buffer.alloc(0)]);
}
const QUESTION = encodeQuery("home.example.test", "A", { id: 1 }).subarray(12);
/** An OPT record: root owner, payload 4096, DO set, then `rdata` as its options. */
const optRecord = (rdata: Buffer = Buffer.alloc(0)) =>
  Buffer.concat([Buffer.from([0, 0, 41, 0x10, 0x00, 0, 0, 0x80, 0, rdata.length >> 8, rdata.length & 0xff]), rdata]);

for (const [transport, ask] of [
  ["UDP", udp],
  ["TCP", tcp],
] as const) {
  describe(`answers over ${transport}`, () => {
    test("a dynamic-DNS gateway's A is its ping IP, with AA and the question echoed as asked", async () => {
      const reply = await ask("HoMe.Example.TEST", "A", { id: 4242 });
      expect(reply.id).toBe(4242);
      expect(reply.type).toBe("response");
      expect(reply.flag_aa).toBe(true);
      expect(reply.rcode).toBe("NOERROR");
      expect(reply.questions).toEqual([{ name: "HoMe.Example.TEST", type: "A", class: "IN" }]);
      expect(reply.answers?.map((a: any) => [a.name, a.type, a.ttl, a.data])).toEqual([["HoMe.Example.TEST", "A", 60, "203.0.113.5"]]);
    });

    test("an IPv6 ping answers AAAA", async () => {
      const reply = await ask("six.example.test", "AAAA");
      expect(reply.answers?.map((a: any) => a.data)).toEqual(["2001:db8:1::5"]);
    });

    test("an unknown name is NXDOMAIN with the SOA in authority", async () => {
      const reply = await ask("nobody.example.test", "A");
      expect(reply.rcode).toBe("NXDOMAIN");
      expect(reply.flag_aa).toBe(true);
      expect(reply.answers).toEqual([]);
      expect(reply.authorities?.map((a: any) => [a.name, a.type, a.ttl, a.data.mname, a.data.rname, a.data.serial, a.data.minimum])).toEqual([
        ["example.test", "SOA", 60, "ns1.example.test", "hostmaster.example.test", 2024010100, 60],
      ]);
    });

    test("a missing type is NODATA with the SOA in authority", async () => {
      const reply = await ask("home.example.test", "AAAA");
      expect(reply.rcode).toBe("NOERROR");
      expect(reply.flag_aa).toBe(true);
      expect(reply.answers).toEqual([]);
      expect(reply.authorities?.map((a: any) => a.type)).toEqual(["SOA"]);
    });

    test("a name outside the zone is REFUSED without AA", async () => {
      const reply = await ask("example.org", "A");
      expect(reply.rcode).toBe("REFUSED");
      expect(reply.flag_aa).toBe(false);
    });

    test("CAA is answered (Let's Encrypt checks it before issuing)", async () => {
      const reply = await ask("home.example.test", "CAA");
      expect(reply.answers?.map((a: any) => [a.data.flags, a.data.tag, a.data.value])).toEqual([[0, "issue", "letsencrypt.org"]]);
    });

    test("the ACME challenge TXT", async () => {
      const reply = await ask("_acme-challenge.home.example.test", "TXT");
      expect(reply.answers?.map((a: any) => [a.ttl, Buffer.concat(a.data).toString()])).toEqual([[60, "chal-123"]]);
    });

    test("EDNS is echoed with a 1232-octet payload and the DO bit", async () => {
      const reply = await ask("home.example.test", "A", { edns: { udpPayloadSize: 4096, flags: packet.DNSSEC_OK } });
      expect(opt(reply)).toMatchObject({ udpPayloadSize: 1232, ednsVersion: 0, flag_do: true });
      const plain = await ask("home.example.test", "A");
      expect(opt(plain)).toBeUndefined();
    });

    test("an EDNS version above 0 is BADVERS", async () => {
      const reply = await ask("home.example.test", "A", { edns: { ednsVersion: 1 } });
      expect(reply.rcode).toBe("NOERROR"); // low 4 bits of BADVERS (16)
      expect(opt(reply)).toMatchObject({ extendedRcode: 1, ednsVersion: 0 });
      expect(reply.answers).toEqual([]);
    });

    test("PageKite authentication with a signature computed here", async () => {
      const token = GATEWAYS.find((g) => g.label === "home")!.token;
      const salt = "0badc0de";
      const sign = kiteSign(token, "https-443", "home.example.test", "5eed", "c0ffee", salt);
      const good = await ask(`5eed.c0ffee.${sign}.https-443.home.example.test.example.test`, "A");
      expect(good.answers?.map((a: any) => [a.ttl, a.data])).toEqual([[60, "255.255.254.255"]]);
      expect(good.flag_aa).toBe(true);
      const forged = await ask(`5eed.c0ffee.${salt}${"0".repeat(28)}.https-443.home.example.test.example.test`, "A");
      expect(forged.answers?.map((a: any) => a.data)).toEqual(["255.255.255.1"]);
      const unknown = await ask(`5eed.c0ffee.${sign}.https-443.nobody.example.test.example.test`, "A");
      expect(unknown.answers?.map((a: any) => a.data)).toEqual(["255.255.255.1"]);
    });
  });
}

describe("size limits", () => {
  test("without EDNS an answer over 512 octets is truncated over UDP, with TC and the question", async () => {
    const reply = await udpExchange(dns.port, encodeQuery("big.example.test", "TXT", { id: 7 }));
    expect(reply.length).toBeLessThanOrEqual(512);
    const decoded = decode(reply);
    expect(decoded.flag_tc).toBe(true);
    expect(decoded.id).toBe(7);
    expect(decoded.questions).toEqual([{ name: "big.example.test", type: "TXT", class: "IN" }]);
    expect(decoded.answers).toEqual([]);
  });

  test("TCP carries the full answer, TXT strings over 255 octets split and intact", async () => {
    const reply = decode((await tcpExchange(dns.port, [encodeQuery("big.example.test", "TXT")]))[0]);
    expect(reply.flag_tc).toBe(false);
    const texts = reply.answers!.map((a: any) => {
      for (const s of a.data) expect(s.length).toBeLessThanOrEqual(255);
      return Buffer.concat(a.data).toString("utf8");
    });
    expect(texts.sort()).toEqual([LONG_A, "c".repeat(250), LONG_B].sort());
  });

  test("with EDNS the same answer fits over UDP without TC", async () => {
    const reply = await udpExchange(dns.port, encodeQuery("big.example.test", "TXT", { edns: { udpPayloadSize: 1232 } }));
    expect(reply.length).toBeGreaterThan(512);
    expect(reply.length).toBeLessThanOrEqual(1232);
    const decoded = decode(reply);
    expect(decoded.flag_tc).toBe(false);
    expect(decoded.answers).toHaveLength(3);
  });

  test("an EDNS payload below 512 is treated as 512", async () => {
    const reply = decode(await udpExchange(dns.port, encodeQuery("big.example.test", "TXT", { edns: { udpPayloadSize: 100 } })));
    expect(reply.flag_tc).toBe(true);
    expect(opt(reply)).toMatchObject({ udpPayloadSize: 1232 });
  });
});

describe("malformed and unsupported messages", () => {
  test("two questions are FORMERR", async () => {
    const reply = decode(await udpExchange(dns.port, rawQuery({ qd: 2, body: Buffer.concat([QUESTION, QUESTION]) })));
    expect(reply.id).toBe(0x1234);
    expect(reply.rcode).toBe("FORMERR");
    expect(reply.flag_aa).toBe(false);
  });

  test("no question is FORMERR", async () => {
    expect(decode(await udpExchange(dns.port, rawQuery({ qd: 0 }))).rcode).toBe("FORMERR");
  });

  test("a question cut short is FORMERR", async () => {
    expect(decode(await udpExchange(dns.port, rawQuery({ body: QUESTION.subarray(0, 7) }))).rcode).toBe("FORMERR");
  });

  test("a compression pointer in the question is FORMERR", async () => {
    expect(decode(await udpExchange(dns.port, rawQuery({ body: Buffer.from([0xc0, 0x0c, 0, 1, 0, 1]) }))).rcode).toBe("FORMERR");
  });

  test("an additional record running past the end is FORMERR, without an OPT (it cannot be read)", async () => {
    const broken = Buffer.concat([QUESTION, Buffer.from([0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 50])]);
    const reply = decode(await udpExchange(dns.port, rawQuery({ ar: 1, body: broken })));
    expect(reply.rcode).toBe("FORMERR");
    expect(opt(reply)).toBeUndefined();
  });

  test("a non-QUERY opcode (UPDATE) is NOTIMP", async () => {
    const reply = decode(await udpExchange(dns.port, rawQuery({ flags: 5 << 11, body: QUESTION })));
    expect(reply.rcode).toBe("NOTIMP");
    expect(reply.id).toBe(0x1234);
    expect(opt(reply)).toBeUndefined();
  });

  // RFC 6891 7: a reply to a query with an OPT has one too, errors included.
  test("NOTIMP to a query with EDNS carries an OPT, over UDP and TCP", async () => {
    const query = rawQuery({ flags: 15 << 11, ar: 1, body: Buffer.concat([QUESTION, optRecord()]) });
    for (const reply of [decode(await udpExchange(dns.port, query)), decode((await tcpExchange(dns.port, [query]))[0])]) {
      expect(reply.rcode).toBe("NOTIMP");
      expect(opt(reply)).toMatchObject({ udpPayloadSize: 1232, ednsVersion: 0, extendedRcode: 0, flag_do: true });
    }
  });

  test("a non-QUERY opcode with an EDNS version above 0 is BADVERS, not NOTIMP", async () => {
    const version1 = optRecord();
    version1[6] = 1; // the OPT's TTL: extended rcode, then version
    const reply = decode(await udpExchange(dns.port, rawQuery({ flags: 4 << 11, ar: 1, body: Buffer.concat([QUESTION, version1]) })));
    expect(reply.rcode).toBe("NOERROR"); // low 4 bits of BADVERS (16)
    expect(opt(reply)).toMatchObject({ extendedRcode: 1, ednsVersion: 0 });
  });

  test("FORMERR to a query with a readable OPT carries an OPT", async () => {
    const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
    const formerrs = [
      rawQuery({ qd: 2, ar: 1, body: Buffer.concat([QUESTION, QUESTION, optRecord()]) }),
      rawQuery({ qd: 0, ar: 1, body: optRecord() }),
      rawQuery({ an: 1, ar: 1, body: Buffer.concat([QUESTION, answer, optRecord()]) }),
      rawQuery({ ar: 1, body: Buffer.concat([QUESTION, optRecord(Buffer.from([0, 10, 0, 8, 1]))]) }), // an option cut short
    ];
    for (const query of formerrs) {
      const reply = decode(await udpExchange(dns.port, query));
      expect(reply.rcode).toBe("FORMERR");
      expect(opt(reply)).toMatchObject({ udpPayloadSize: 1232, ednsVersion: 0, flag_do: true });
    }
  });

  test("FORMERR for two OPTs, or an OPT not owned by the root, carries none", async () => {
    const notRoot = Buffer.concat([Buffer.from([1, 0x61]), optRecord()]);
    const queries = [
      rawQuery({ ar: 2, body: Buffer.concat([QUESTION, optRecord(), optRecord()]) }),
      rawQuery({ ar: 1, body: Buffer.concat([QUESTION, notRoot]) }),
    ];
    for (const query of queries) {
      const reply = decode(await udpExchange(dns.port, query));
      expect(reply.rcode).toBe("FORMERR");
      expect(opt(reply)).toBeUndefined();
    }
  });

  test("a response or a runt message gets no reply", async () => {
    // both at once: each waits out its 300 ms for the reply that must not come
    await Promise.all([
      expect(udpExchange(dns.port, rawQuery({ flags: 0x8000, body: QUESTION }), 300)).rejects.toThrow("no UDP reply"),
      expect(udpExchange(dns.port, Buffer.from([1, 2, 3]), 300)).rejects.toThrow("no UDP reply"),
    ]);
  });
});

describe("TCP connections", () => {
  test("pipelined queries on one connection are each answered, in order", async () => {
    const replies = await tcpExchange(dns.port, [
      encodeQuery("home.example.test", "A", { id: 1 }),
      encodeQuery("six.example.test", "AAAA", { id: 2 }),
      encodeQuery("nobody.example.test", "A", { id: 3 }),
    ]);
    expect(replies.map((r) => [decode(r).id, decode(r).rcode])).toEqual([
      [1, "NOERROR"],
      [2, "NOERROR"],
      [3, "NXDOMAIN"],
    ]);
  });

  test("a query sent in two pieces, then a half-close, is still answered", async () => {
    const { connect } = await import("node:net");
    const query = encodeQuery("home.example.test", "A", { id: 99 });
    const framed = Buffer.concat([Buffer.from([0, query.length]), query]);
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const socket = connect(dns.port, "127.0.0.1");
      let data = Buffer.alloc(0);
      socket.on("data", (c: Buffer) => (data = Buffer.concat([data, c])));
      socket.on("end", () => resolve(data));
      socket.on("error", reject);
      socket.write(framed.subarray(0, 5));
      setTimeout(() => socket.end(framed.subarray(5)), 50);
    });
    expect(reply.readUInt16BE(0)).toBe(reply.length - 2);
    expect(decode(reply.subarray(2)).id).toBe(99);
  });
});

/** A server of the zone with no gateway rows, on `port` (0: the system's choice). */
const emptyServerOn = (port: number) =>
  startDnsServer({ host: "127.0.0.1", port, zone, lookups: { gateway: () => undefined }, cache: testAnswerCache(), log: () => {} });

describe("failures", () => {
  test("a failing lookup answers SERVFAIL and the server keeps answering", async () => {
    let broken = true;
    const log: string[] = [];
    const flaky = await startTestDns(
      zone,
      {
        gateway: (name) => {
          if (broken) throw new Error("SQLITE_BUSY: database is locked");
          return seeded.store.findGatewayByName(name);
        },
      },
      log,
    );
    try {
      const failed = decode(await udpExchange(flaky.port, encodeQuery("home.example.test", "A")));
      expect(failed.rcode).toBe("SERVFAIL");
      expect(failed.flag_aa).toBe(false);
      expect(log.some((l) => l.includes("SERVFAIL") && l.includes("database is locked"))).toBe(true);
      broken = false;
      const ok = decode(await udpExchange(flaky.port, encodeQuery("home.example.test", "A")));
      expect(ok.answers?.map((a: any) => a.data)).toEqual(["203.0.113.5"]);
    } finally {
      await flaky.close();
    }
  });

  test("a record the encoder cannot write answers SERVFAIL instead of crashing", async () => {
    const badName = `${"x".repeat(64)}.example.net.`; // a 64-octet label cannot be encoded
    const bad = await startTestDns(testZone({ mx: [["@", 10, badName]] }), { gateway: () => undefined });
    try {
      expect(decode(await udpExchange(bad.port, encodeQuery("example.test", "MX"))).rcode).toBe("SERVFAIL");
      expect(decode(await udpExchange(bad.port, encodeQuery("example.test", "SOA"))).rcode).toBe("NOERROR");
    } finally {
      await bad.close();
    }
  });

  test("port 0: UDP and TCP are bound on one port of the system's choosing, and the server names it", async () => {
    const own = await emptyServerOn(0);
    try {
      expect(own.port).toBeGreaterThan(0);
      expect(decode(await udpExchange(own.port, encodeQuery("example.test", "SOA"))).rcode).toBe("NOERROR");
      expect(decode((await tcpExchange(own.port, [encodeQuery("example.test", "SOA")]))[0]).rcode).toBe("NOERROR");
    } finally {
      await own.close();
    }
  });

  test("start-up rejects when the UDP port is taken", async () => {
    const taken = createSocket("udp4");
    await new Promise<void>((resolve) => taken.bind(0, "127.0.0.1", () => resolve()));
    const { port } = taken.address();
    try {
      await expect(emptyServerOn(port)).rejects.toThrow();
    } finally {
      taken.close();
    }
  });

  test("start-up rejects when the TCP port is taken, and frees the UDP port again", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", () => resolve()));
    const { port } = taken.address() as { port: number };
    try {
      await expect(emptyServerOn(port)).rejects.toThrow();
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
    const again = await emptyServerOn(port);
    await again.close();
  });
});

describe("start-up", () => {
  test("the warm-up answers dns.warm_up_queries made-up questions before the sockets open; 0 skips it", async () => {
    const warmed = new AnswerCache();
    const warmZone = { ...zone, warmUpQueries: 1200 };
    await (await startDnsServer({ host: "127.0.0.1", port: 0, zone: warmZone, lookups: { gateway: () => undefined }, log: () => {}, cache: warmed })).close();
    // A, AAAA and TXT of a new name each time (3 in 5), and the apex SOA and NS (from the cache after the first)
    expect(warmed.stats.hits + warmed.stats.misses).toBe(1200);
    expect(warmed.stats.misses).toBeGreaterThanOrEqual(720);
    const cold = new AnswerCache();
    await (
      await startDnsServer({
        host: "127.0.0.1",
        port: 0,
        zone: { ...zone, warmUpQueries: 0 },
        lookups: { gateway: () => undefined },
        log: () => {},
        cache: cold,
      })
    ).close();
    expect(cold.stats).toEqual({ hits: 0, misses: 0 });
  });
});

describe("shutdown", () => {
  test("close() resolves promptly with an idle TCP connection open, and frees the port", async () => {
    const { connect } = await import("node:net");
    const own = await startTestDns(zone, { gateway: () => undefined });
    const idle = connect(own.port, "127.0.0.1");
    const closedByServer = new Promise<void>((resolve) => idle.on("close", () => resolve()));
    idle.on("error", () => {});
    await new Promise<void>((resolve) => idle.on("connect", () => resolve()));
    const t0 = performance.now();
    await own.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    await closedByServer;
    const again = await emptyServerOn(own.port);
    await again.close();
  });
});
