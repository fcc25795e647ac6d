// One name form inside the program (lower-case, with the trailing dot), converted at the edges.
import { describe, expect, test } from "bun:test";
import { loadSettings } from "../src/config.ts";
import { answerQuestion, TYPE } from "../src/dns/zone.ts";
import type { GatewayRecord } from "../src/gateway-data.ts";
import { absoluteName, fullName, labelProblem, staticLabels, withoutDot } from "../src/names.ts";

describe("name form", () => {
  test("absoluteName lower-cases ASCII only and ends with exactly one dot", () => {
    expect(absoluteName("Demo.Example.TEST")).toBe("demo.example.test.");
    expect(absoluteName("demo.example.test.")).toBe("demo.example.test.");
    expect(absoluteName("")).toBe(".");
    expect(absoluteName("\u00c9x.test")).toBe("\u00c9x.test.");
  });

  test("withoutDot is the edge form, for wire records, emails and people", () => {
    expect(withoutDot("demo.example.test.")).toBe("demo.example.test");
    expect(withoutDot("demo.example.test")).toBe("demo.example.test");
    expect(withoutDot(".")).toBe("");
  });

  test("the zone's name may be handed over with or without its dot", () => {
    const none = new Set<string>();
    expect(fullName("gw", "example.test.")).toBe(fullName("gw", "example.test"));
    const long = `${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`;
    expect(labelProblem("a".repeat(62), `${long}.`, none)).toBe(labelProblem("a".repeat(62), long, none));
    expect(labelProblem("a".repeat(63), `${long}.`, none)).toBe(labelProblem("a".repeat(63), long, none));
    const dns = { ...loadSettings([], {}).settings.dns, mx: [["mail", 10, "mx.example.test."]] as [string, number, string][] };
    expect(staticLabels({ ...dns, domain: "example.test." })).toEqual(staticLabels(dns));
  });

  test("DNS answers the same whatever case and dot the zone's name comes in", () => {
    const dns = { ...loadSettings([], {}).settings.dns, wwwAddresses: ["192.0.2.1"] };
    const gateways = new Map<string, GatewayRecord>([
      ["home.example.test.", { mode: 1, lastIp: "192.0.2.9", lastIpv4: "192.0.2.9", lastIpv6: "", dnsChallenge: "c", token: "t" }],
    ]);
    const lookups = { gateway: (name: string) => gateways.get(name) };
    const questions: [string, number][] = [
      ["example.test", TYPE.SOA],
      ["EXAMPLE.test", TYPE.NS],
      ["www.example.test", TYPE.A],
      ["home.Example.Test", TYPE.A],
      ["_acme-challenge.home.example.test", TYPE.TXT],
      ["missing.example.test", TYPE.A],
      ["example.test.example.test", TYPE.A],
      ["elsewhere.test", TYPE.A],
    ];
    for (const [name, type] of questions) {
      const question = { name, type, class: 1 };
      expect(answerQuestion(question, lookups, { ...dns, domain: "Example.Test." })).toEqual(answerQuestion(question, lookups, dns));
    }
  });
});
