// The zone presigned for secondaries (docs/dns.md, "Zone transfers"): every owner of the full-transfer walk in
// canonical order, each authoritative RRset followed by its RRSIG, the DNSKEY at the apex,
// and a complete NSEC chain (RFC 4034 4, RFC 4035 2.3), so that a secondary, which has no
// key, answers validly. Streamed: one owner and the previous owner's NSEC types in hand.
import type { DnsSettings } from "../config.ts";
import type { GatewayRecord } from "../gateway-data.ts";
import type { Signer } from "./dnssec.ts";
import { canonicalZoneOwners, TYPE, type ResourceRecord } from "./zone.ts";

/**
 * The signed zone's records, SOA first (the caller ends a transfer with the SOA again).
 * `gateways` in canonical order (ZoneSnapshot.gateways(size, "canonical")). Each name gets an
 * NSEC to the next name in canonical order, the last one to the apex; its types are the
 * name's RRsets, RRSIG and NSEC. The PageKite delegation's NS is the child's and not signed,
 * its NSEC is; its glue (anything below it) is occluded: no NSEC, no RRSIG.
 */
export function* signedZoneRecords(
  zone: DnsSettings,
  serial: number,
  gateways: Iterable<[string, GatewayRecord]>,
  signer: Signer,
  nowSeconds: number,
): Generator<ResourceRecord> {
  // RFC 9077 (updating RFC 4034 4 and 4035 2.3): the lesser of the SOA's minimum and its TTL.
  const nsecTtl = Math.min(zone.soa.minimum, zone.ttl);
  let apex: string | null = null;
  let previous: { name: string; types: number[] } | null = null;
  function* link(next: string): Generator<ResourceRecord> {
    if (!previous) return;
    const nsec: ResourceRecord = { name: previous.name, ttl: nsecTtl, type: "NSEC", next, types: previous.types };
    yield nsec;
    yield signer.sign([nsec], nowSeconds);
  }
  for (const owner of canonicalZoneOwners(zone, serial, gateways)) {
    if (owner.kind === "glue") {
      yield* owner.records;
      continue;
    }
    yield* link(owner.name);
    const sets = rrsets(owner.records);
    if (apex === null) {
      apex = owner.name;
      sets.set(
        TYPE.DNSKEY,
        signer.dnskeys().map((rr) => ({ ...rr, name: owner.name })),
      );
    }
    for (const set of sets.values()) {
      yield* set;
      if (owner.kind === "authoritative") yield signer.sign(set, nowSeconds);
    }
    previous = { name: owner.name, types: [...sets.keys(), TYPE.RRSIG, TYPE.NSEC].sort((a, b) => a - b) };
  }
  if (apex !== null) yield* link(apex);
}

/** An owner's records by type, in the order each type first appears (the apex's SOA first). */
function rrsets(records: ResourceRecord[]): Map<number, ResourceRecord[]> {
  const sets = new Map<number, ResourceRecord[]>();
  for (const record of records) {
    const type = TYPE[record.type];
    const set = sets.get(type);
    if (set) set.push(record);
    else sets.set(type, [record]);
  }
  return sets;
}
