// zone.ts over every row of docs/dns.md, "Names and records", against a real SQLite store.
import { afterAll, describe, expect, test } from "bun:test";
import { kiteSign } from "../support/helpers.ts";
import { answerQuestion, type ResourceRecord, type ZoneAnswer } from "../../src/dns/zone.ts";
import { GATEWAYS, seededStore, testZone } from "./client.ts";

const seeded = seededStore();
afterAll(() => seeded.cleanup());
const lookups = { gateway: seeded.store.findGatewayByName };
const zone = testZone();

const TYPES: Record<string, number> = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  CAA: 257,
  ANY: 255,
  AXFR: 252,
  OPT: 41,
  HINFO: 13,
  NXNAME: 128,
};
const RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];

/** "name ttl TYPE rdata", the way a zone file would show it. */
function show(rr: ResourceRecord): string {
  const rdata = (() => {
    switch (rr.type) {
      case "A":
      case "AAAA":
        return rr.address;
      case "NS":
      case "CNAME":
        return rr.target;
      case "SOA":
        return `${rr.mname} ${rr.rname} ${rr.serial} ${rr.refresh} ${rr.retry} ${rr.expire} ${rr.minimum}`;
      case "MX":
        return `${rr.priority} ${rr.exchange}`;
      case "TXT":
        return JSON.stringify(rr.text);
      case "CAA":
        return `${rr.flags} ${rr.tag} "${rr.value}"`;
      case "HINFO":
        return `${JSON.stringify(rr.cpu)} ${JSON.stringify(rr.os)}`;
    }
  })();
  return `${rr.name} ${rr.ttl} ${rr.type} ${rdata}`;
}

function ask(
  name: string,
  type: string,
  settings = zone,
  cls = 1,
): { rcode: string; aa: boolean; answers: string[]; authority: string[]; additional: string[] } {
  const a: ZoneAnswer = answerQuestion({ name, type: TYPES[type], class: cls }, lookups, settings);
  return { rcode: RCODES[a.rcode], aa: a.aa, answers: a.answers.map(show), authority: a.authority.map(show), additional: a.additional.map(show) };
}

const SOA = "example.test 86400 SOA ns1.example.test hostmaster.example.test 2024010100 900 900 1209600 60";
const NEG_SOA = "example.test 60 SOA ns1.example.test hostmaster.example.test 2024010100 900 900 1209600 60";
const noData = { rcode: "NOERROR", aa: true, answers: [], authority: [NEG_SOA], additional: [] };
const nxDomain = { rcode: "NXDOMAIN", aa: true, answers: [], authority: [NEG_SOA], additional: [] };
const refused = { rcode: "REFUSED", aa: false, answers: [], authority: [], additional: [] };
const yes = (...answers: string[]) => ({ rcode: "NOERROR", aa: true, answers, authority: [], additional: [] });

const homeToken = GATEWAYS.find((g) => g.label === "home")!.token;
const goodSign = kiteSign(homeToken, "https-443", "home.example.test", "a1b2c3", "f00dfeed");
const kiteName = (sign: string, name = "home", proto = "https-443") => `a1b2c3.f00dfeed.${sign}.${proto}.${name}.example.test.example.test`;

type Row = [string, string, string, ReturnType<typeof ask> | { rcode: string; aa: boolean; answers: string[]; authority: string[]; additional: string[] }];

const rows: Row[] = [
  // <domain>.
  ["apex SOA", "example.test", "SOA", yes(SOA)],
  [
    "apex NS with glue",
    "example.test",
    "NS",
    {
      ...yes("example.test 86400 NS ns1.example.test", "example.test 86400 NS ns2.example.test"),
      additional: ["ns1.example.test 86400 A 192.0.2.53", "ns2.example.test 86400 A 192.0.2.54"],
    },
  ],
  ["apex A = www_addresses", "example.test", "A", yes("example.test 86400 A 192.0.2.80")],
  ["apex AAAA = www_addresses", "example.test", "AAAA", yes("example.test 86400 AAAA 2001:db8::80")],
  ["apex MX for @", "example.test", "MX", yes("example.test 86400 MX 10 mail.example.net")],
  ["apex TXT for @", "example.test", "TXT", yes('example.test 86400 TXT "v=spf1 -all"')],
  ["apex CAA", "example.test", "CAA", yes('example.test 86400 CAA 0 issue "letsencrypt.org"')],
  ["apex type without data is NODATA", "example.test", "SRV", noData],
  ["apex with a trailing dot", "example.test.", "SOA", yes("example.test 86400 SOA ns1.example.test hostmaster.example.test 2024010100 900 900 1209600 60")],
  // ns<N>.<domain>.
  ["ns1 A from nameservers", "ns1.example.test", "A", yes("ns1.example.test 86400 A 192.0.2.53")],
  ["ns2 A from nameservers", "ns2.example.test", "A", yes("ns2.example.test 86400 A 192.0.2.54")],
  ["ns1 AAAA is NODATA", "ns1.example.test", "AAAA", noData],
  ["unconfigured ns3 is NXDOMAIN", "ns3.example.test", "A", nxDomain],
  // api.<domain>.
  ["api A = tunnel_addresses", "api.example.test", "A", yes("api.example.test 86400 A 192.0.2.10")],
  ["api AAAA = tunnel_addresses", "api.example.test", "AAAA", yes("api.example.test 86400 AAAA 2001:db8::10")],
  ["api TXT is NODATA", "api.example.test", "TXT", noData],
  // www.<domain>.
  ["www A follows the CNAME to the apex", "www.example.test", "A", yes("www.example.test 86400 CNAME example.test", "example.test 86400 A 192.0.2.80")],
  ["www CNAME", "www.example.test", "CNAME", yes("www.example.test 86400 CNAME example.test")],
  ["www ANY is the CNAME alone, not chased (RFC 1034 4.3.2)", "www.example.test", "ANY", yes("www.example.test 86400 CNAME example.test")],
  // <name>.<domain>. registered
  ["tunnel gateway A = tunnel_addresses", "tun.example.test", "A", yes("tun.example.test 60 A 192.0.2.10")],
  ["tunnel gateway AAAA = tunnel_addresses", "tun.example.test", "AAAA", yes("tun.example.test 60 AAAA 2001:db8::10")],
  ["dynamic gateway A = last ping IP", "home.example.test", "A", yes("home.example.test 60 A 203.0.113.5")],
  ["dynamic gateway with an IPv4 ping has no AAAA", "home.example.test", "AAAA", noData],
  ["dynamic gateway AAAA = IPv6 ping", "six.example.test", "AAAA", yes("six.example.test 60 AAAA 2001:db8:1::5")],
  ["dynamic gateway with an IPv6 ping has no A", "six.example.test", "A", noData],
  ["IPv4-mapped ping IP answers A", "mapped.example.test", "A", yes("mapped.example.test 60 A 203.0.113.9")],
  ["never pinged dynamic gateway is NODATA", "fresh.example.test", "A", noData],
  ["gateway CAA", "home.example.test", "CAA", yes('home.example.test 86400 CAA 0 issue "letsencrypt.org"')],
  ["gateway TXT for *", "home.example.test", "TXT", yes('home.example.test 86400 TXT "gateway"')],
  ["gateway MX for *", "home.example.test", "MX", yes("home.example.test 86400 MX 20 mx.example.net")],
  ["gateway SOA is NODATA", "home.example.test", "SOA", noData],
  ["below a gateway is NXDOMAIN", "deep.home.example.test", "A", nxDomain],
  // _acme-challenge.<name>.<domain>.
  ["challenge TXT with the gateway TTL", "_acme-challenge.home.example.test", "TXT", yes('_acme-challenge.home.example.test 60 TXT "chal-123"')],
  ["no challenge set is NODATA", "_acme-challenge.tun.example.test", "TXT", noData],
  ["challenge A is NODATA", "_acme-challenge.home.example.test", "A", noData],
  ["challenge of an unknown name is NXDOMAIN", "_acme-challenge.nobody.example.test", "TXT", nxDomain],
  // _psl.<domain>. and other configured labels
  ["_psl TXT", "_psl.example.test", "TXT", yes('_psl.example.test 86400 TXT "https://github.com/publicsuffix/list/pull/1"')],
  ["_psl A is NODATA", "_psl.example.test", "A", noData],
  ["configured _dmarc TXT", "_dmarc.example.test", "TXT", yes('_dmarc.example.test 86400 TXT "v=DMARC1; p=reject"')],
  ["configured CNAME out of the zone", "docs.example.test", "A", yes("docs.example.test 86400 CNAME example.github.io")],
  // other names in the zone
  ["unknown name is NXDOMAIN with SOA", "nope.example.test", "A", nxDomain],
  ["unknown name CAA is NXDOMAIN too", "nope.example.test", "CAA", nxDomain],
  // PageKite
  ["PageKite good signature", kiteName(goodSign), "A", yes(`${kiteName(goodSign)} 60 A 255.255.254.255`)],
  ["PageKite good signature asked in upper case", kiteName(goodSign).toUpperCase(), "A", yes(`${kiteName(goodSign).toUpperCase()} 60 A 255.255.254.255`)],
  [
    "PageKite bad signature",
    kiteName(kiteSign("not-the-token", "https-443", "home.example.test", "a1b2c3", "f00dfeed")),
    "A",
    yes(`${kiteName(kiteSign("not-the-token", "https-443", "home.example.test", "a1b2c3", "f00dfeed"))} 60 A 255.255.255.1`),
  ],
  ["PageKite signature for another proto", kiteName(goodSign, "home", "http-80"), "A", yes(`${kiteName(goodSign, "home", "http-80")} 60 A 255.255.255.1`)],
  // Every refusal is .1, never .0: pagekite's front end reads .0 as "unknown user" and lets the kite in.
  ["PageKite unknown name", kiteName(goodSign, "nobody"), "A", yes(`${kiteName(goodSign, "nobody")} 60 A 255.255.255.1`)],
  [
    "PageKite unknown name signed with its own secret",
    kiteName(kiteSign("mine", "https-443", "nobody.example.test", "a1b2c3", "f00dfeed"), "nobody"),
    "A",
    yes(`${kiteName(kiteSign("mine", "https-443", "nobody.example.test", "a1b2c3", "f00dfeed"), "nobody")} 60 A 255.255.255.1`),
  ],
  [
    "PageKite nested kite name under a gateway, signed with its token",
    kiteName(kiteSign(homeToken, "https-443", "sub.home.example.test", "a1b2c3", "f00dfeed"), "sub.home"),
    "A",
    yes(`${kiteName(kiteSign(homeToken, "https-443", "sub.home.example.test", "a1b2c3", "f00dfeed"), "sub.home")} 60 A 255.255.255.1`),
  ],
  [
    "PageKite wildcard kite (*.<zone>, asked as _any_)",
    kiteName(kiteSign("mine", "https-443", "_any_.example.test", "a1b2c3", "f00dfeed"), "_any_"),
    "A",
    yes(`${kiteName(kiteSign("mine", "https-443", "_any_.example.test", "a1b2c3", "f00dfeed"), "_any_")} 60 A 255.255.255.1`),
  ],
  ["PageKite short signature", kiteName("1a2b3c4d0123"), "A", yes(`${kiteName("1a2b3c4d0123")} 60 A 255.255.255.1`)],
  ["PageKite too few labels", "https-443.home.example.test.example.test", "A", yes("https-443.home.example.test.example.test 60 A 255.255.255.1")],
  ["PageKite too many labels", `x.${kiteName(goodSign)}`, "A", yes(`x.${kiteName(goodSign)} 60 A 255.255.255.1`)],
  ["PageKite AAAA is NODATA, not an error", kiteName(goodSign), "AAAA", noData],
  ["<domain>.<domain>. exists (NODATA) so minimising resolvers reach the kites", "example.test.example.test", "A", noData],
  // names outside the zone
  ["outside the zone is REFUSED without AA", "example.org", "A", refused],
  ["a name that only ends like the zone is REFUSED", "notexample.test", "A", refused],
  ["the parent zone is REFUSED", "test", "SOA", refused],
  ["the root is REFUSED", "", "NS", refused],
  ["zone transfer is REFUSED", "example.test", "AXFR", refused],
  ["OPT as a question is FORMERR", "example.test", "OPT", { ...refused, rcode: "FORMERR" }],
  ["NXNAME as a question is FORMERR (RFC 9824 3.5)", "nope.example.test", "NXNAME", { ...refused, rcode: "FORMERR" }],
  // every type gets an answer
  ["an obscure type is NODATA", "home.example.test", "HINFO", noData],
];

describe("zone answers, row by row of the names and records table", () => {
  for (const [title, name, type, expected] of rows) {
    test(`${title}: ${name || "."} ${type}`, () => {
      expect(ask(name, type)).toEqual(expected as any);
    });
  }

  test("names match case-insensitively and the owner is echoed as asked", () => {
    expect(ask("HoMe.ExAmPlE.TeSt", "A")).toEqual(yes("HoMe.ExAmPlE.TeSt 60 A 203.0.113.5"));
    expect(ask("_ACME-Challenge.HOME.example.TEST", "TXT")).toEqual(yes('_ACME-Challenge.HOME.example.TEST 60 TXT "chal-123"'));
  });

  test("ANY at the apex is one RRset, the address (RFC 8482)", () => {
    expect(ask("example.test", "ANY")).toEqual(yes("example.test 86400 A 192.0.2.80"));
  });

  test("ANY at a dynamic gateway is its address alone (RFC 8482)", () => {
    expect(ask("home.example.test", "ANY")).toEqual(yes("home.example.test 60 A 203.0.113.5"));
  });

  test("ANY picks the next RRset in order where there is no address: MX, then NS with its glue", () => {
    const bare = testZone({ wwwAddresses: [] });
    expect(ask("example.test", "ANY", bare)).toEqual(yes("example.test 86400 MX 10 mail.example.net"));
    const noMx = testZone({ wwwAddresses: [], mx: [] });
    expect(ask("example.test", "ANY", noMx)).toEqual({
      ...yes("example.test 86400 NS ns1.example.test", "example.test 86400 NS ns2.example.test"),
      additional: ["ns1.example.test 86400 A 192.0.2.53", "ns2.example.test 86400 A 192.0.2.54"],
    });
    expect(ask("_dmarc.example.test", "ANY")).toEqual(yes('_dmarc.example.test 86400 TXT "v=DMARC1; p=reject"'));
  });

  test('ANY at a name that owns nothing is the synthesized HINFO "RFC8482" ""', () => {
    expect(ask("_acme-challenge.fresh.example.test", "ANY")).toEqual(yes('_acme-challenge.fresh.example.test 86400 HINFO "RFC8482" ""'));
    expect(ask("example.test.example.test", "ANY")).toEqual(yes('example.test.example.test 86400 HINFO "RFC8482" ""'));
  });

  test("HINFO asked for is still NODATA: the RFC 8482 record answers ANY only", () => {
    expect(ask("fresh.example.test", "HINFO")).toEqual(noData);
  });

  test("ANY at an unknown name is still NXDOMAIN", () => {
    expect(ask("nobody.example.test", "ANY")).toEqual(nxDomain);
  });

  test("ANY at a PageKite name is the kite answer", () => {
    expect(ask(kiteName(goodSign), "ANY").answers).toEqual([`${kiteName(goodSign)} 60 A 255.255.254.255`]);
  });

  test("class CH is REFUSED", () => {
    expect(ask("example.test", "SOA", zone, 3)).toEqual(refused);
  });

  test("class ANY is answered like IN", () => {
    expect(ask("home.example.test", "A", zone, 255)).toEqual(yes("home.example.test 60 A 203.0.113.5"));
  });

  test("a tunnel gateway uses its last ping IP when no tunnel addresses are configured", () => {
    const bare = testZone({ tunnelAddresses: [] });
    expect(ask("tun.example.test", "A", bare)).toEqual(yes("tun.example.test 60 A 198.51.100.7"));
    expect(ask("api.example.test", "A", bare)).toEqual(noData);
  });

  test("a dual-stack dynamic-DNS gateway answers A from its last IPv4 and AAAA from its last IPv6 address", async () => {
    const token = "66666666-6666-4666-8666-666666666666";
    const now = Math.floor(Date.now() / 1000);
    expect(seeded.store.insertDomain({ name: "dual.example.test.", token, description: "", mode: 1, timestamp: now })).toBe(true);
    seeded.store.recordPing(token, now, "192.0.2.44");
    seeded.store.recordPing(token, now, "2001:db8::44"); // a ping over IPv6 keeps the IPv4 address
    expect(ask("dual.example.test", "A")).toEqual(yes("dual.example.test 60 A 192.0.2.44"));
    expect(ask("dual.example.test", "AAAA")).toEqual(yes("dual.example.test 60 AAAA 2001:db8::44"));
    // a dyndns2 update naming both replaces both; one naming a single family keeps the other
    await seeded.store.recordUpdate({ token, timestamp: now, ip: "192.0.2.45", ipv4: "192.0.2.45", ipv6: "2001:db8::45" });
    expect([ask("dual.example.test", "A").answers, ask("dual.example.test", "AAAA").answers]).toEqual([
      ["dual.example.test 60 A 192.0.2.45"],
      ["dual.example.test 60 AAAA 2001:db8::45"],
    ]);
    await seeded.store.recordUpdate({ token, timestamp: now, ip: "192.0.2.46", ipv4: "192.0.2.46", ipv6: null });
    expect(ask("dual.example.test", "AAAA").answers).toEqual(["dual.example.test 60 AAAA 2001:db8::45"]);
    expect(ask("dual.example.test", "A").answers).toEqual(["dual.example.test 60 A 192.0.2.46"]);
    expect(seeded.store.deleteByToken(token)).toBe("dual.example.test.");
  });

  test("www is NXDOMAIN when www_addresses is not set", () => {
    const bare = testZone({ wwwAddresses: [] });
    expect(ask("www.example.test", "A", bare)).toEqual(nxDomain);
    expect(ask("example.test", "A", bare)).toEqual(noData);
  });

  test("gateway-specific TXT and MX entries are served at that name", () => {
    const own = testZone({
      txt: [
        ["*", "everyone"],
        ["home", "only home"],
      ],
      mx: [["home", 5, "mx.home.example."]],
    });
    expect(ask("home.example.test", "TXT", own).answers.sort()).toEqual(['home.example.test 86400 TXT "everyone"', 'home.example.test 86400 TXT "only home"']);
    expect(ask("home.example.test", "MX", own)).toEqual(yes("home.example.test 86400 MX 5 mx.home.example"));
    expect(ask("six.example.test", "TXT", own)).toEqual(yes('six.example.test 86400 TXT "everyone"'));
  });

  test("a challenge change is seen on the next question", () => {
    seeded.store.setDnsChallenge(GATEWAYS.find((g) => g.label === "tun")!.token, "fresh-value");
    expect(ask("_acme-challenge.tun.example.test", "TXT")).toEqual(yes('_acme-challenge.tun.example.test 60 TXT "fresh-value"'));
    seeded.store.setDnsChallenge(GATEWAYS.find((g) => g.label === "tun")!.token, "");
    expect(ask("_acme-challenge.tun.example.test", "TXT")).toEqual(noData);
  });

  test("a gateway with an empty token never passes PageKite authentication", () => {
    const empty = { gateway: () => ({ mode: 0, lastIp: "", lastIpv4: "", lastIpv6: "", dnsChallenge: "", token: "" }) };
    const sign = kiteSign("", "https-443", "home.example.test", "a1b2c3", "f00dfeed");
    const answer = answerQuestion({ name: kiteName(sign), type: 1, class: 1 }, empty, zone);
    expect(answer.answers.map(show)).toEqual([`${kiteName(sign)} 60 A 255.255.255.1`]);
  });

  test("a failing lookup throws (the server turns it into SERVFAIL)", () => {
    const broken = {
      gateway: (): never => {
        throw new Error("database is locked");
      },
    };
    expect(() => answerQuestion({ name: "home.example.test", type: 1, class: 1 }, broken, zone)).toThrow("database is locked");
  });
});
