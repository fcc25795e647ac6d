// rrl.ts with a clock set by hand: answer classes, client prefixes, the token bucket, slip.
// Replies are encoded by dns-packet, as the server's would be on the wire.
import { describe, expect, test } from "bun:test";
import { ipv6GroupsInto } from "../../src/addresses.ts";
import { ResponseRateLimiter, truncatedReply, VERDICT, type Verdict } from "../../src/dns/rrl.ts";
import { decode, packet } from "./client.ts";

const RCODE_FLAGS = { NOERROR: 0, NXDOMAIN: 3, REFUSED: 5, FORMERR: 1 } as const;

function reply(name: string, type: string, rcode: keyof typeof RCODE_FLAGS = "NOERROR", answers = rcode === "NOERROR" ? 1 : 0): Buffer {
  return packet.encode({
    type: "response",
    id: 99,
    flags: (1 << 10) | RCODE_FLAGS[rcode],
    questions: [{ name, type: type as any, class: "IN" }],
    answers: Array.from({ length: answers }, () => ({ name, type: "A", ttl: 60, data: "192.0.2.1" }) as any),
  });
}

/** The verdicts for `n` replies at one instant. */
function burst(rrl: ResponseRateLimiter, n: number, make: () => Buffer, from = "198.51.100.7", now = 1000): Verdict[] {
  return Array.from({ length: n }, () => rrl.verdict(make(), from, now));
}
const sent = (v: Verdict[]) => v.filter((x) => x === VERDICT.send).length;

describe("response-rate limiting", () => {
  test("a positive answer goes out `rate` times, then is limited, then refills at `rate` a second", () => {
    const rrl = new ResponseRateLimiter({ rate: 5, slip: 2 });
    const a = () => reply("home.example.test", "A");
    expect(burst(rrl, 8, a)).toEqual([0, 0, 0, 0, 0, VERDICT.drop, VERDICT.truncate, VERDICT.drop]);
    expect(sent(burst(rrl, 10, a, undefined, 1200))).toBe(1); // 200 ms: one more
    expect(sent(burst(rrl, 10, a, undefined, 3000))).toBe(5); // never more than one second's worth
  });

  test("slip 1 truncates every limited answer, slip 0 drops them all", () => {
    const one = new ResponseRateLimiter({ rate: 1, slip: 1 });
    expect(burst(one, 4, () => reply("a.example.test", "A"))).toEqual([VERDICT.send, VERDICT.truncate, VERDICT.truncate, VERDICT.truncate]);
    const none = new ResponseRateLimiter({ rate: 1, slip: 0 });
    expect(burst(none, 4, () => reply("a.example.test", "A"))).toEqual([VERDICT.send, VERDICT.drop, VERDICT.drop, VERDICT.drop]);
  });

  test("rate 0 limits nothing", () => {
    const rrl = new ResponseRateLimiter({ rate: 0, slip: 2 });
    expect(sent(burst(rrl, 1000, () => reply("a.example.test", "A")))).toBe(1000);
  });

  test("positive answers are counted per name (case folded) and type", () => {
    const rrl = new ResponseRateLimiter({ rate: 3, slip: 0 });
    expect(sent(burst(rrl, 10, () => reply("home.example.test", "A")))).toBe(3);
    expect(sent(burst(rrl, 10, () => reply("HOME.example.TEST", "A")))).toBe(0);
    expect(sent(burst(rrl, 10, () => reply("home.example.test", "TXT")))).toBe(3);
    expect(sent(burst(rrl, 10, () => reply("six.example.test", "A")))).toBe(3);
    expect(sent(burst(rrl, 10, () => reply("home.example.test", "ANY")))).toBe(3);
  });

  test("NXDOMAIN, NODATA and errors are each one class for the zone, whatever the name", () => {
    const rrl = new ResponseRateLimiter({ rate: 3, slip: 0 });
    let i = 0;
    expect(sent(burst(rrl, 10, () => reply(`n${i++}.example.test`, "A", "NXDOMAIN")))).toBe(3);
    expect(sent(burst(rrl, 10, () => reply(`n${i++}.example.test`, "TXT", "NOERROR", 0)))).toBe(3);
    expect(sent(burst(rrl, 5, () => reply(`n${i++}.example.org`, "A", "REFUSED")))).toBe(3);
    expect(sent(burst(rrl, 5, () => reply(`n${i++}.example.test`, "A", "FORMERR")))).toBe(0); // errors share one class
    expect(sent(burst(rrl, 10, () => reply("home.example.test", "A")))).toBe(3); // positive answers untouched
  });

  test("answers made up for any name (PageKite's; NSEC and RRSIG questions) are a class each: made-up names cannot escape the rate", () => {
    const rrl = new ResponseRateLimiter({ rate: 3, slip: 0 }, undefined, "Example.test.example.test");
    let i = 0;
    // every name under <domain>.<domain> gets an A; with DNSSEC, every name an NSEC and its RRSIG
    expect(sent(burst(rrl, 10, () => reply(`s${i++}.q.sig.http.kite${i}.example.test.EXAMPLE.test`, "A")))).toBe(3);
    expect(sent(burst(rrl, 10, () => reply(`gone${i++}.example.test`, i % 2 ? "NSEC" : "RRSIG")))).toBe(3);
    // the delegation point itself, a name merely ending like it, and other names keep their own budgets
    expect(sent(burst(rrl, 10, () => reply("example.test.example.test", "NS")))).toBe(3);
    expect(sent(burst(rrl, 10, () => reply("xexample.test.example.test", "A")))).toBe(3);
    expect(sent(burst(rrl, 10, () => reply("home.example.test", "A")))).toBe(3);
    expect(sent(burst(rrl, 10, () => reply("six.example.test", "A")))).toBe(3);
    // without the setting, PageKite names are each their own key, as any positive answer
    const plain = new ResponseRateLimiter({ rate: 3, slip: 0 });
    expect(sent(burst(plain, 10, () => reply(`s${i++}.q.sig.http.kite.example.test.example.test`, "A")))).toBe(10);
  });

  test("clients are counted per IPv4 /24 and IPv6 /56", () => {
    const rrl = new ResponseRateLimiter({ rate: 2, slip: 0 });
    const a = () => reply("home.example.test", "A");
    expect(sent(burst(rrl, 5, a, "192.0.2.1"))).toBe(2);
    expect(sent(burst(rrl, 5, a, "192.0.2.254"))).toBe(0);
    expect(sent(burst(rrl, 5, a, "::ffff:192.0.2.9"))).toBe(0);
    expect(sent(burst(rrl, 5, a, "192.0.3.1"))).toBe(2);
    expect(sent(burst(rrl, 5, a, "2001:db8:0:1::1"))).toBe(2);
    expect(sent(burst(rrl, 5, a, "2001:db8:0:ff:ffff::2"))).toBe(0);
    expect(sent(burst(rrl, 5, a, "2001:db8::3"))).toBe(0);
    expect(sent(burst(rrl, 5, a, "2001:db8:0:100::1"))).toBe(2);
  });

  test("a table of 16 buckets still limits: a bucket taken by another key starts afresh", () => {
    const rrl = new ResponseRateLimiter({ rate: 2, slip: 0 }, 4);
    for (let round = 0; round < 3; round++)
      for (let n = 0; n < 100; n++) expect(sent(burst(rrl, 5, () => reply(`g${n}.example.test`, "A")))).toBeLessThanOrEqual(2);
  });

  test("a truncated reply is the header and question with TC set and no records", () => {
    const full = reply("home.example.test", "A");
    const cut = decode(truncatedReply(Buffer.from(full)));
    expect(cut.flag_tc).toBe(true);
    expect(cut.id).toBe(99);
    expect(cut.questions).toEqual([{ name: "home.example.test", type: "A", class: "IN" }]);
    expect([cut.answers, cut.authorities, cut.additionals]).toEqual([[], [], []]);
    expect(truncatedReply(Buffer.from(full)).length).toBe(12 + 19 + 4);
  });

  test("IPv6 text forms are read into their eight groups", () => {
    const groups = new Uint16Array(8);
    const read = (a: string) => {
      ipv6GroupsInto(a, groups);
      return Array.from(groups, (g) => g.toString(16)).join(":");
    };
    expect(read("::1")).toBe("0:0:0:0:0:0:0:1");
    expect(read("::")).toBe("0:0:0:0:0:0:0:0");
    expect(read("2001:db8::1")).toBe("2001:db8:0:0:0:0:0:1");
    expect(read("fe80::1:2%eth0")).toBe("fe80:0:0:0:0:0:1:2");
    expect(read("2001:DB8:1:2:3:4:5:6")).toBe("2001:db8:1:2:3:4:5:6");
    expect(read("2001:db8:1::")).toBe("2001:db8:1:0:0:0:0:0");
  });
});
