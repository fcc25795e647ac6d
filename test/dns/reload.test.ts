// DNS on several addresses at one port, and a settings reload: the zone is swapped under the
// running sockets and every cached answer is forgotten, so the next query answers the new records.
import { describe, expect, test } from "bun:test";
import { AnswerCache } from "../../src/dns/answer-cache.ts";
import { startDnsServer } from "../../src/dns/server.ts";
import { decode, encodeQuery, hasIpv6Loopback, tcpExchange, testAnswerCache, testZone, udpExchange } from "./client.ts";

const txtOf = (reply: Buffer) =>
  decode(reply)
    .answers!.filter((a) => a.type === "TXT")
    .map((a) => Buffer.concat((a as { data: Buffer[] }).data).toString());

describe("DNS reload", () => {
  test("after reload(zone) the next query answers the new TXT record over UDP and TCP, though the old answer was cached", async () => {
    const zone = testZone({ txt: [["@", "v=first"]] });
    const dns = await startDnsServer({ host: "127.0.0.1", port: 0, zone, lookups: { gateway: () => undefined }, cache: testAnswerCache(), log: () => {} });
    try {
      const ask = () => udpExchange(dns.port, encodeQuery("example.test", "TXT"));
      expect(txtOf(await ask())).toEqual(["v=first"]);
      expect(txtOf(await ask())).toEqual(["v=first"]); // from the cache
      expect(txtOf((await tcpExchange(dns.port, [encodeQuery("example.test", "TXT")]))[0])).toEqual(["v=first"]);
      await dns.reload(testZone({ txt: [["@", "v=second"]] }));
      expect(txtOf(await ask())).toEqual(["v=second"]);
      expect(txtOf((await tcpExchange(dns.port, [encodeQuery("example.test", "TXT")]))[0])).toEqual(["v=second"]);
    } finally {
      await dns.close();
    }
  });

  test("the warm-up runs at the start only: a reload finds the answer path warm and does not stall answering", async () => {
    const cache = new AnswerCache();
    const zone = testZone({ warmUpQueries: 500 });
    const dns = await startDnsServer({ host: "127.0.0.1", port: 0, zone, lookups: { gateway: () => undefined }, log: () => {}, cache });
    try {
      const afterStart = cache.stats.hits + cache.stats.misses;
      expect(afterStart).toBe(500);
      await dns.reload(testZone({ warmUpQueries: 500, txt: [["@", "v=second"]] }));
      expect(cache.stats.hits + cache.stats.misses).toBe(afterStart);
      expect(txtOf(await udpExchange(dns.port, encodeQuery("example.test", "TXT")))).toEqual(["v=second"]);
    } finally {
      await dns.close();
    }
  });

  test.skipIf(!hasIpv6Loopback())("a list of addresses: 127.0.0.1 and ::1 both answer, UDP and TCP, on one port", async () => {
    const dns = await startDnsServer({
      host: ["127.0.0.1", "::1"],
      port: 0,
      zone: testZone(),
      lookups: { gateway: () => undefined },
      log: () => {},
    });
    try {
      for (const host of ["127.0.0.1", "::1"]) {
        expect(decode(await udpExchange(dns.port, encodeQuery("example.test", "SOA"), 2000, host)).rcode).toBe("NOERROR");
        expect(decode((await tcpExchange(dns.port, [encodeQuery("example.test", "SOA")], 1, 3000, host))[0]).rcode).toBe("NOERROR");
      }
    } finally {
      await dns.close();
    }
    // Closed on every address: the port can be bound again on both.
    const again = await startDnsServer({
      host: ["127.0.0.1", "::1"],
      port: dns.port,
      zone: testZone(),
      lookups: { gateway: () => undefined },
      log: () => {},
    });
    await again.close();
  });
});
