// The address forms the API and DNS share (src/addresses.ts), without sockets.
import { describe, expect, test } from "bun:test";
import { addressBytes, dottedQuadInto, inCidr, ipv6Groups, ipv6GroupsInto, ipv6Prefix, parseCidr, unmapIPv4 } from "../src/addresses.ts";

describe("IPv6 groups", () => {
  test("'::' anywhere, a dotted IPv4 tail and a zone index give the eight groups", () => {
    expect(ipv6Groups("::")).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(ipv6Groups("::1")).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    expect(ipv6Groups("2001:db8::")).toEqual([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]);
    expect(ipv6Groups("2001:DB8:0:0:1::2")).toEqual([0x2001, 0xdb8, 0, 0, 1, 0, 0, 2]);
    expect(ipv6Groups("::ffff:192.0.2.1")).toEqual([0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201]);
    expect(ipv6Groups("fe80::1%eth0")).toEqual([0xfe80, 0, 0, 0, 0, 0, 0, 1]);
  });

  test("the validating and the allocation-free expander agree", () => {
    const out = new Uint16Array(8);
    for (const address of ["::", "::1", "2001:db8::", "2001:db8:0:0:1::2", "1:2:3:4:5:6:7:8", "fe80::1%eth0"]) {
      ipv6GroupsInto(address, out);
      expect(Array.from(out), address).toEqual(ipv6Groups(address));
    }
  });

  test("text that is not an IPv6 address is refused", () => {
    for (const text of ["192.0.2.1", "2001:db8:::1", "gateway", ""]) expect(() => ipv6Groups(text), text).toThrow();
  });

  test("a prefix is the network as text, /64 the one rate limits share", () => {
    expect(ipv6Prefix("2001:db8:1:2:3:4:5:6", 64)).toBe("2001:db8:1:2::/64");
    expect(ipv6Prefix("2001:db8::1", 32)).toBe("2001:db8::/32");
  });
});

describe("addresses and networks", () => {
  test("an IPv4-mapped IPv6 address is its IPv4 address", () => {
    expect(unmapIPv4("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(unmapIPv4("::FFFF:192.0.2.1")).toBe("192.0.2.1");
    expect(unmapIPv4("2001:db8::1")).toBe("2001:db8::1");
    expect(addressBytes("::ffff:192.0.2.1")).toEqual(Uint8Array.from([192, 0, 2, 1]));
  });

  test("addressBytes: 4 bytes for IPv4, 16 for IPv6, null for anything else", () => {
    expect(addressBytes("192.0.2.1")?.length).toBe(4);
    expect(addressBytes("2001:db8::1")?.length).toBe(16);
    for (const text of ["192.0.2", "192.0.2.256", "example.org", ""]) expect(addressBytes(text), text).toBeNull();
  });

  test("parseCidr takes a network or a lone address and refuses the rest", () => {
    expect(parseCidr("192.0.2.0/24")).toEqual({ bytes: Uint8Array.from([192, 0, 2, 0]), bits: 24 });
    expect(parseCidr(" 10.0.0.1 ")?.bits).toBe(32);
    expect(parseCidr("2001:db8::/32")?.bits).toBe(32);
    for (const text of ["192.0.2.0/33", "2001:db8::/129", "192.0.2.0/24/1", "192.0.2.0/x", "nowhere/8"]) expect(parseCidr(text), text).toBeNull();
  });

  test("inCidr matches inside the network only, and IPv4 never matches an IPv6 network", () => {
    const v4 = parseCidr("10.0.0.0/8")!;
    expect(inCidr(addressBytes("10.200.1.1")!, v4)).toBe(true);
    expect(inCidr(addressBytes("11.0.0.1")!, v4)).toBe(false);
    const odd = parseCidr("192.0.2.128/25")!;
    expect(inCidr(addressBytes("192.0.2.200")!, odd)).toBe(true);
    expect(inCidr(addressBytes("192.0.2.127")!, odd)).toBe(false);
    const v6 = parseCidr("2001:db8::/32")!;
    expect(inCidr(addressBytes("2001:db8:ffff::1")!, v6)).toBe(true);
    expect(inCidr(addressBytes("2001:db9::1")!, v6)).toBe(false);
    expect(inCidr(addressBytes("10.0.0.1")!, parseCidr("::/0")!)).toBe(false);
    expect(inCidr(addressBytes("2001:db8::1")!, parseCidr("0.0.0.0/0")!)).toBe(false);
  });
});

describe("dotted quads read without allocating", () => {
  test("dottedQuadInto takes exactly what isIP takes as IPv4, with the same octets as addressBytes", () => {
    const { isIP } = require("node:net") as typeof import("node:net");
    const samples = [
      "0.0.0.0",
      "255.255.255.255",
      "1.2.3.4",
      "10.0.0.1",
      "01.2.3.4",
      "1.2.3.04",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "1.2.3.256",
      "1..2.3",
      ".1.2.3",
      "1.2.3.",
      "",
      "a.b.c.d",
      "1.2.3.4 ",
      " 1.2.3.4",
      "::ffff:1.2.3.4",
      "2001:db8::1",
      "1.2.3.4/24",
      "99999999999.1.1.1",
      "0.00.0.0",
    ];
    for (let i = 0; i < 2000; i++) {
      const part = () =>
        [String(Math.floor(Math.random() * 300)), `0${Math.floor(Math.random() * 10)}`, "", "x"][Math.random() < 0.9 ? 0 : Math.floor(Math.random() * 4)];
      samples.push(Array.from({ length: 3 + Math.floor(Math.random() * 3) }, part).join("."));
    }
    const out = new Uint8Array(4);
    for (const text of samples) {
      const read = dottedQuadInto(text, out);
      expect({ text, read }).toEqual({ text, read: isIP(text) === 4 });
      if (read) expect([...out]).toEqual([...addressBytes(text)!]);
    }
  });
});
