// Label rules (what may be registered) and the static labels configured records reserve.
import { describe, expect, test } from "bun:test";
import { fullName, displayName, labelProblem, normalizeLabel } from "../src/names.ts";

const none = new Set<string>();

describe("labelProblem", () => {
  test("letters, digits and inner hyphens up to 63 characters are fine", () => {
    for (const label of ["a", "0", "gw-1", "a".repeat(63), "x1-y2-z3"]) expect(labelProblem(label, "example.test", none)).toBeNull();
  });

  test("empty, too long, edge hyphens, dots, underscores, upper case and spaces are invalid", () => {
    for (const label of ["", "a".repeat(64), "-a", "a-", "a.b", "_a", "A", "a b", "é"]) expect(labelProblem(label, "example.test", none)).toBe("invalid");
  });

  test("a full name over 253 characters is invalid", () => {
    const domain = `${"d".repeat(60)}.${"d".repeat(60)}.${"d".repeat(60)}.ab.test`;
    expect(domain.length).toBe(190);
    expect(labelProblem("a".repeat(62), domain, none)).toBeNull(); // 253
    expect(labelProblem("a".repeat(63), domain, none)).toBe("invalid"); // 254
  });

  test("api, www, _psl, ns, ns<digits> and configured labels are reserved", () => {
    for (const label of ["api", "www", "ns", "ns1", "ns42"]) expect(labelProblem(label, "example.test", none)).toBe("reserved");
    expect(labelProblem("mail", "example.test", new Set(["mail"]))).toBe("reserved");
    expect(labelProblem("nsx", "example.test", none)).toBeNull();
  });
});

describe("name forms", () => {
  test("a requested name is trimmed and lower-cased; the full name has the trailing dot, the display name not", () => {
    expect(normalizeLabel("  MyGateway \n")).toBe("mygateway");
    expect(fullName("gw", "example.test")).toBe("gw.example.test.");
    expect(displayName("gw.example.test.")).toBe("gw.example.test");
  });
});
