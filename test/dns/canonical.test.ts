// DNSSEC's canonical name order (RFC 4034 6.1) and the zone walked in it: the comparator
// against a reference sort written from the RFC's text, the snapshot's canonical page walk over
// a real SQLite file, and the owners the presigned transfer walks.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canonicalCompare } from "../../src/dns/canonical.ts";
import { canonicalZoneOwners, zoneRecords, type ResourceRecord } from "../../src/dns/zone.ts";
import type { GatewayRecord } from "../../src/gateway-data.ts";
import { openDatabase } from "../../src/store/db.ts";
import { createStore } from "../../src/store/domains.ts";
import { createZonePublisher } from "../../src/store/zone-journal.ts";
import { openZoneSnapshot } from "../../src/store/zone-reader.ts";
import { testZone } from "./client.ts";

/**
 * RFC 4034 6.1, literally: names as sequences of labels, the most significant (rightmost)
 * first; labels compared as left-justified octet strings with uppercase letters as lowercase,
 * the absence of an octet sorting before a zero octet.
 */
function referenceKey(name: string): number[][] {
  return name === ""
    ? []
    : name
        .toLowerCase()
        .split(".")
        .reverse()
        .map((label) => [...Buffer.from(label, "latin1")]);
}
function referenceCompare(a: string, b: string): number {
  const ka = referenceKey(a);
  const kb = referenceKey(b);
  for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
    const la = ka[i];
    const lb = kb[i];
    for (let j = 0; j < Math.min(la.length, lb.length); j++) if (la[j] !== lb[j]) return la[j] - lb[j];
    if (la.length !== lb.length) return la.length - lb.length;
  }
  return ka.length - kb.length;
}

/** A seeded generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Labels built to collide: short alphabets, '-' and digits, and prefixes of labels already made. */
function randomLabels(count: number, seed: number): string[] {
  const next = random(seed);
  const alphabet = "ab-09z";
  const labels = new Set<string>();
  const made: string[] = [];
  while (labels.size < count) {
    let label: string;
    if (made.length > 0 && next() < 0.4) {
      const base = made[Math.floor(next() * made.length)];
      label = next() < 0.5 ? base.slice(0, 1 + Math.floor(next() * base.length)) : `${base}${"-0a"[Math.floor(next() * 3)]}${alphabet[Math.floor(next() * 6)]}`;
    } else {
      const length = 1 + Math.floor(next() * 5);
      label = "";
      for (let i = 0; i < length; i++) label += alphabet[Math.floor(next() * alphabet.length)];
    }
    if (!/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(label)) continue; // a label the API registers
    if (!labels.has(label)) made.push(label);
    labels.add(label);
  }
  return made;
}

describe("canonical order (RFC 4034 6.1)", () => {
  test("the RFC's own example sorts as printed there", () => {
    const rfc = ["example", "a.example", "yljkjljk.a.example", "Z.a.example", "zABC.a.EXAMPLE", "z.example", "\x01.z.example", "*.z.example", "\xc8.z.example"];
    const shuffled = [...rfc].reverse();
    expect(shuffled.sort(canonicalCompare)).toEqual(rfc);
  });

  test("agrees with a reference sort over random labels with '-', digits and prefixes, one and more deep", () => {
    for (const seed of [1, 2, 3]) {
      const labels = randomLabels(300, seed);
      const next = random(seed + 100);
      const names = labels.map((l) => `${l}.example.test`);
      // deeper names: a challenge below a gateway, names below other names, the apex
      for (let i = 0; i < 100; i++) names.push(`${labels[Math.floor(next() * labels.length)]}.${names[Math.floor(next() * names.length)]}`);
      names.push("example.test", "_acme-challenge.a.example.test", "A-B.example.test");
      const unique = [...new Set(names)];
      const expected = [...unique].sort(referenceCompare);
      expect([...unique].sort(canonicalCompare)).toEqual(expected);
      // a total order: antisymmetric, zero only for the same name (in any case)
      for (let i = 0; i + 1 < expected.length; i++) {
        expect(canonicalCompare(expected[i], expected[i + 1])).toBeLessThan(0);
        expect(canonicalCompare(expected[i + 1], expected[i])).toBeGreaterThan(0);
      }
      expect(canonicalCompare("Ab.Example.test", "aB.example.TEST")).toBe(0);
    }
  });

  test("a label comes before the longer labels it begins, unlike the names' octet order", () => {
    const names = ["a-b.example.test", "a.example.test", "a0.example.test", "_acme-challenge.a.example.test"];
    expect([...names].sort()).toEqual(["_acme-challenge.a.example.test", "a-b.example.test", "a.example.test", "a0.example.test"]);
    expect([...names].sort(canonicalCompare)).toEqual(["a.example.test", "_acme-challenge.a.example.test", "a-b.example.test", "a0.example.test"]);
  });
});

describe("canonical walk of the store", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  test("a snapshot's canonical walk is the reference order, in pages, with unpublished changes as the serial found them", () => {
    const dir = mkdtempSync(join(tmpdir(), "regsrv-canonical-"));
    dirs.push(dir);
    const path = join(dir, "registration.sqlite");
    const db = openDatabase(path);
    const publisher = createZonePublisher({ db, policySerial: () => 100, maxChanges: 10_000, fingerprint: "f", log: () => {}, pollMs: 0 });
    const store = createStore(db);
    const labels = randomLabels(400, 7);
    const token = (i: number) => `00000000-0000-4000-8000-${i.toString().padStart(12, "0")}`;
    for (const [i, label] of labels.entries()) store.insertDomain({ name: `${label}.example.test.`, token: token(i), description: "", mode: 0, timestamp: 1 });
    publisher.publishNow();
    // unpublished: one row gone, one new; the snapshot still has the first and not the second
    store.insertDomain({ name: "a-a-new.example.test.", token: token(9999), description: "", mode: 0, timestamp: 1 });
    db.$client.run(`DELETE FROM domains WHERE name = '${labels[5]}.example.test.'`);
    const snapshot = openZoneSnapshot({ path });
    try {
      for (const pageSize of [1, 7, 1000]) {
        const walked = [...snapshot.gateways(pageSize, "canonical")].map(([name]) => name);
        const expected = labels.map((l) => `${l}.example.test.`).sort((a, b) => referenceCompare(a.slice(0, -1), b.slice(0, -1)));
        expect(walked).toEqual(expected);
      }
      // the walk in name order is unchanged: the same rows, SQLite's order
      const byName = [...snapshot.gateways(13)].map(([name]) => name);
      expect(byName).toEqual(labels.map((l) => `${l}.example.test.`).sort());
    } finally {
      snapshot.close();
      publisher.close();
      db.$client.close();
    }
  });

  test("the canonical walk pages on the domains_canonical_name index", () => {
    const db = openDatabase(":memory:");
    const plan = db.$client
      .query("EXPLAIN QUERY PLAN SELECT name FROM domains WHERE replace(name, '.', char(1)) > ? ORDER BY replace(name, '.', char(1)) LIMIT ?")
      .all() as { detail: string }[];
    db.$client.close();
    expect(plan.map((p) => p.detail).join("\n")).toContain("USING INDEX domains_canonical_name");
  });
});

describe("the zone's owners in canonical order", () => {
  const gw = (overrides: Partial<GatewayRecord> = {}): GatewayRecord => ({
    mode: 1,
    lastIp: "203.0.113.1",
    lastIpv4: "203.0.113.1",
    lastIpv6: "",
    dnsChallenge: "",
    token: "",
    ...overrides,
  });
  const key = (r: ResourceRecord) => JSON.stringify(r);

  test("each owner once, strictly in the reference order; static names, challenges and the delegation merged in; the same records as the walk", () => {
    // gateways around the static names (_dmarc, _psl, api, docs, ns1, ns2, www) and the delegation (example.test.example.test)
    const zone = testZone({ pagekiteAddress: "192.0.2.99", txt: [...testZone().txt, ["test", "a static TXT"], ["a-b", "static at a gateway"]] });
    const labels = [...randomLabels(120, 11), "ns", "ns1-a", "api0", "test", "tesu", "tes", "a-b", "docs"];
    const gateways = [...new Set(labels)]
      .map((l, i) => [`${l}.example.test.`, gw(i % 3 === 0 ? { dnsChallenge: `chal-${l}` } : {})] as [string, GatewayRecord])
      .sort(([a], [b]) => referenceCompare(a.slice(0, -1), b.slice(0, -1)));
    const owners = [...canonicalZoneOwners(zone, 5, gateways)];
    for (let i = 0; i + 1 < owners.length; i++) expect(referenceCompare(owners[i].name, owners[i + 1].name)).toBeLessThan(0);
    expect(owners[0]).toMatchObject({ name: "example.test", kind: "authoritative" });
    expect(owners[0].records[0]).toMatchObject({ type: "SOA", serial: 5 });
    for (const owner of owners) for (const record of owner.records) expect(record.name).toBe(owner.name);
    // a challenge right after its gateway
    const at = owners.findIndex((o) => o.name === "test.example.test");
    expect(owners[at + 1].name).toBe("_acme-challenge.test.example.test");
    expect(owners[at + 2]).toMatchObject({ name: "example.test.example.test", kind: "delegation" });
    expect(owners[at + 3]).toMatchObject({ name: "ns.example.test.example.test", kind: "glue" });
    expect(owners.filter((o) => o.kind !== "authoritative").map((o) => o.name)).toEqual(["example.test.example.test", "ns.example.test.example.test"]);
    // a static name at a gateway's name is merged into it: one owner with both
    const merged = owners.find((o) => o.name === "a-b.example.test")!;
    expect(merged.records.map((r) => r.type)).toEqual(expect.arrayContaining(["A", "TXT"]));
    expect(merged.records).toContainEqual({ name: "a-b.example.test", ttl: 86400, type: "TXT", text: "static at a gateway" });
    // exactly zoneRecords' records, SOA included once
    const walked = [...zoneRecords(zone, 5, gateways)].map(key).sort();
    expect(
      owners
        .flatMap((o) => o.records)
        .map(key)
        .sort(),
    ).toEqual(walked);
  });
});
