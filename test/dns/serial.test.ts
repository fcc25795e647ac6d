// The SOA serial DNS answers is the store's published one (docs/dns.md, "Zone transfers"): it
// reaches the DNS thread through the answer cache's shared buffer, and a new serial shows on the
// very next query, while answers that carry no SOA stay cached.
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { AnswerCache, AnswerVersions } from "../../src/dns/answer-cache.ts";
import { createResponder } from "../../src/dns/responder.ts";
import { startDnsThread } from "../../src/dns/threaded.ts";
import { answerQuestion } from "../../src/dns/zone.ts";
import { decode, encodeQuery, seededStore, tcpExchange, testZone, udpExchange } from "./client.ts";

const zone = testZone();
const CONFIGURED = zone.soa.serial;
const seeded = seededStore();
afterAll(() => seeded.cleanup());

const soaSerials = (reply: Buffer) => {
  const decoded = decode(reply);
  return [...(decoded.answers ?? []), ...(decoded.authorities ?? [])].filter((r: any) => r.type === "SOA").map((r: any) => r.data.serial);
};

describe("published serial", () => {
  test("AnswerVersions holds the serial for every view of its buffer (another thread's), undefined until one is set", () => {
    const versions = new AnswerVersions();
    const elsewhere = new AnswerVersions(versions.buffer);
    expect(elsewhere.serial()).toBeUndefined();
    versions.setSerial(2026112701);
    expect(elsewhere.serial()).toBe(2026112701);
    versions.setSerial(4294967295);
    expect(elsewhere.serial()).toBe(4294967295);
    versions.setSerial(0); // a serial that wrapped is a serial, not "none"
    expect(elsewhere.serial()).toBe(0);
  });

  test("the SOA carries the lookups' serial in answers and in negative answers' authority; without one, the configured serial", () => {
    const gateway = seeded.store.findGatewayByName;
    const apex = { name: "example.test", type: 6, class: 1 };
    const missing = { name: "nope.example.test", type: 1, class: 1 };
    const serialOf = (answer: ReturnType<typeof answerQuestion>) =>
      [...answer.answers, ...answer.authority].filter((r) => r.type === "SOA").map((r) => (r.type === "SOA" ? r.serial : -1));
    expect(serialOf(answerQuestion(apex, { gateway }, zone))).toEqual([CONFIGURED]);
    expect(serialOf(answerQuestion(apex, { gateway, serial: () => undefined }, zone))).toEqual([CONFIGURED]);
    expect(serialOf(answerQuestion(apex, { gateway, serial: () => 7 }, zone))).toEqual([7]);
    expect(serialOf(answerQuestion(missing, { gateway, serial: () => 7 }, zone))).toEqual([7]);
    expect(serialOf(answerQuestion({ name: "tun.example.test", type: 16, class: 1 }, { gateway, serial: () => 7 }, zone))).toEqual([]); // has TXT
    expect(serialOf(answerQuestion({ name: "EXAMPLE.test", type: 255, class: 1 }, { gateway, serial: () => 7 }, zone))).toEqual([]); // ANY: the addresses
  });

  test("cached: an apex SOA query answers a new serial on the very next query after setSerial, while a gateway's A stays a cache hit", () => {
    const versions = new AnswerVersions();
    const cache = new AnswerCache(undefined, versions);
    const respond = createResponder({
      zone,
      lookups: { gateway: seeded.store.findGatewayByName, serial: () => versions.serial() },
      log: () => {},
      cache,
    });
    const ask = (name: string, type: string) => respond(encodeQuery(name, type), "udp")!;
    expect(soaSerials(ask("example.test", "SOA"))).toEqual([CONFIGURED]);
    versions.setSerial(2026112700);
    for (const serial of [2026112700, 2026112701, 2026112702]) {
      versions.setSerial(serial);
      expect(soaSerials(ask("example.test", "SOA"))).toEqual([serial]);
      expect(soaSerials(ask("example.test", "SOA"))).toEqual([serial]); // and cached as such
      expect(soaSerials(ask("nope.example.test", "A"))).toEqual([serial]); // NXDOMAIN
      expect(soaSerials(ask("api.example.test", "MX"))).toEqual([serial]); // NODATA
    }
    const first = ask("tun.example.test", "A");
    const hits = cache.stats.hits;
    versions.setSerial(2026112703);
    const again = ask("tun.example.test", "A");
    expect(cache.stats.hits).toBe(hits + 1);
    expect(again.subarray(2)).toEqual(first.subarray(2));
  });

  test("the DNS thread answers the serial set in the shared buffer, over UDP and TCP, on the next query", async () => {
    const versions = new AnswerVersions();
    const dns = await startDnsThread(
      {
        host: "127.0.0.1",
        port: 0,
        zone,
        dbPath: join(seeded.dir, "registration.sqlite"),
        versions,
        lookups: { gateway: seeded.store.findGatewayByName },
        log: () => {},
      },
      new URL("../../src/dns/worker.ts", import.meta.url),
    );
    try {
      expect(soaSerials(await udpExchange(dns.port, encodeQuery("example.test", "SOA")))).toEqual([CONFIGURED]);
      for (const serial of [2026112710, 2026112711]) {
        versions.setSerial(serial);
        expect(soaSerials(await udpExchange(dns.port, encodeQuery("example.test", "SOA")))).toEqual([serial]);
        const [overTcp] = await tcpExchange(dns.port, [encodeQuery("missing.example.test", "TXT")]);
        expect(soaSerials(overTcp)).toEqual([serial]);
      }
    } finally {
      await dns.close();
    }
  });
});
