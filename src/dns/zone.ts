// The zone's answers: a pure function of the question, the settings and the store lookups
// (docs/dns.md). Knows nothing about sockets or wire formats.
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import { unmapIPv4 } from "../addresses.ts";
import type { DnsSettings } from "../config.ts";
import { MODE, type GatewayRecord } from "../gateway-data.ts";
import { absoluteName, withoutDot } from "../names.ts";
import { canonicalCompare, isAtOrBelow } from "./canonical.ts";

export interface ZoneLookups {
  /** name: lower-case full name with its trailing dot, e.g. "demo.example.test." */
  gateway(name: string): GatewayRecord | undefined;
  /** the zone's published SOA serial (store/zone-journal.ts); absent or undefined: zone.soa.serial */
  serial?(): number | undefined;
}

export interface Question {
  /** as asked (case preserved), without the trailing dot; "" is the root */
  name: string;
  type: number;
  class: number;
}

export type RecordData =
  | { type: "A"; address: string }
  | { type: "AAAA"; address: string }
  | { type: "NS"; target: string }
  | { type: "CNAME"; target: string }
  | { type: "SOA"; mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number }
  | { type: "MX"; priority: number; exchange: string }
  | { type: "TXT"; text: string }
  | { type: "CAA"; flags: number; tag: string; value: string }
  /** only ever synthesized, as the answer to ANY (RFC 8482 4.2) */
  | { type: "HINFO"; cpu: string; os: string }
  // DNSSEC (RFC 4034; dns/dnssec.ts makes them). Names in RDATA are never compressed.
  | { type: "DNSKEY"; flags: number; protocol: number; algorithm: number; key: Uint8Array }
  | {
      type: "RRSIG";
      covered: number;
      algorithm: number;
      labels: number;
      originalTtl: number;
      /** seconds since the epoch (serial arithmetic on the wire: RFC 4034 3.1.5) */
      expiration: number;
      inception: number;
      keyTag: number;
      signer: string;
      signature: Uint8Array;
    }
  /** `next` in the same text form as owner names (a label may hold any octet, "\0" included); `types` numeric */
  | { type: "NSEC"; next: string; types: number[] }
  | { type: "DS"; keyTag: number; algorithm: number; digestType: number; digest: Uint8Array };

export type RecordType = RecordData["type"];
/** Owner names and target names are in wire presentation form: without a trailing dot (names.ts withoutDot). */
export type ResourceRecord = { name: string; ttl: number } & RecordData;

export interface ZoneAnswer {
  rcode: number;
  aa: boolean;
  answers: ResourceRecord[];
  authority: ResourceRecord[];
  additional: ResourceRecord[];
  /**
   * A negative answer's name (the last of a CNAME chain, case as asked) and the records it
   * holds (their types matter): null when it does not exist (NXDOMAIN); `volatile`, the types
   * the store may add there at any moment. What a signed answer's NSEC says
   * (dns/signed-answer.ts); set for every negative answer, read only when signing.
   */
  denial?: { owner: string; records: readonly RecordData[] | null; volatile?: RecordType[] };
}

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export const TYPE: Record<RecordType, number> = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  DS: 43,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  CAA: 257,
};
export const QTYPE = { OPT: 41, NXNAME: 128, TSIG: 250, IXFR: 251, AXFR: 252, ANY: 255 } as const;
/** Classes: IN, and ANY (a question's class may be either) */
export const CLASS_IN = 1;
export const CLASS_ANY = 255;

/**
 * PageKite's answers (pagekite.net DNS-based authentication). Every refusal is `.1`, never
 * `255.255.255.0`: pagekite's front end reads `.0` as "unknown user, fall through" and then
 * accepts the kite (quota -1 is true in Python).
 */
export const PAGEKITE = { ok: "255.255.254.255", refused: "255.255.255.1", ttl: 60 } as const;

/** The data at one name: its record sets, or a CNAME. An empty node is an existing name (NODATA). */
interface Node {
  records: RecordData[];
  ttl: Partial<Record<RecordType, number>>;
  cname?: string;
  /** types the store may add here at any moment (a ping's address, a challenge) */
  volatile?: RecordType[];
}

interface StaticZone {
  /** the zone's own name in the program's form, "example.test." */
  apex: string;
  /** ".example.test.": what a name in the zone ends with */
  dotApex: string;
  /** the zone's name as a name inside the zone, "example.test": the PageKite tree <domain>.<domain>. */
  apexBelowApex: string;
  /** zone-relative lower-case name ("" = apex) -> node */
  nodes: Map<string, Node>;
  /** zone-relative names that exist only because a name below them does */
  emptyNonTerminals: Set<string>;
  /**
   * With dns.pagekite_address: the PageKite subtree <domain>.<domain>. as a zone of its own,
   * delegated to this server (NS ns.<domain>.<domain>. and its glue), so that secondaries,
   * which cannot compute the PageKite answers, refer resolvers here (docs/dns.md).
   */
  delegation: { apex: Node; nameserver: string; glue: Node } | null;
  /** every gateway's shared records: the tunnel addresses, CAA and "*" TXT (in that order), "*" MX */
  tunnel: RecordData[];
  everyGateway: { caaTxt: RecordData[]; mx: RecordData[] };
  /** TXT and MX configured for one gateway label */
  labelled: Map<string, { txt: RecordData[]; mx: RecordData[] }>;
}

const staticZones = new WeakMap<DnsSettings, StaticZone>();

/** Answers one question. Throws only when a lookup throws (the server answers SERVFAIL). */
export function answerQuestion(question: Question, lookups: ZoneLookups, zone: DnsSettings): ZoneAnswer {
  const result: ZoneAnswer = { rcode: RCODE.NOERROR, aa: true, answers: [], authority: [], additional: [] };
  if (question.class !== CLASS_IN && question.class !== CLASS_ANY) return refused();
  // NXNAME only marks compact denial's NSEC: asked for, it is FORMERR (RFC 9824 3.5)
  if (question.type === QTYPE.OPT || question.type === QTYPE.TSIG || question.type === QTYPE.NXNAME) return { ...refused(), rcode: RCODE.FORMERR };
  if (question.type === QTYPE.AXFR || question.type === QTYPE.IXFR) return refused();

  const statics = staticZone(zone);
  const relative = relativeName(question.name, statics.apex);
  if (relative === null) return refused();

  // Follow in-zone CNAMEs (www -> apex); the chain is short, the bound only stops loops.
  let owner = withoutDot(question.name);
  let current = relative;
  for (let hop = 0; hop < 8; hop++) {
    const node = findNode(current, lookups, zone, statics);
    if (node === undefined) {
      result.rcode = RCODE.NXDOMAIN;
      result.authority.push(soaForAuthority(zone, statics, lookups));
      result.denial = { owner, records: null };
      return result;
    }
    // RFC 1034 4.3.2: CNAME and ANY questions are answered with the CNAME itself, not chased.
    if (node.cname !== undefined && question.type !== TYPE.CNAME && question.type !== QTYPE.ANY) {
      result.answers.push({ name: owner, ttl: zone.ttl, type: "CNAME", target: node.cname });
      const next = relativeName(node.cname, statics.apex);
      if (next === null) return result;
      owner = node.cname;
      current = next;
      continue;
    }
    const records = node.cname !== undefined ? [{ type: "CNAME", target: node.cname } as RecordData] : node.records;
    const matching = question.type === QTYPE.ANY ? minimalAny(records) : records.filter((r) => TYPE[r.type] === question.type);
    for (const data of matching) result.answers.push({ name: owner, ttl: node.ttl[data.type] ?? zone.ttl, ...withSerial(data, lookups) });
    if (matching.length === 0) {
      result.authority.push(soaForAuthority(zone, statics, lookups));
      result.denial = { owner, records, volatile: node.volatile };
    } else if (current === "" && matching.some((r) => r.type === "NS")) result.additional.push(...glue(zone, statics));
    return result;
  }
  // A CNAME loop in the configuration: what was followed so far is all there is.
  return result;
}

/**
 * RFC 8482: ANY gets one RRset, so it amplifies no more than the question it stands for. The
 * first the name owns of: the addresses (what a client asking ANY usually looks for), MX, NS,
 * SOA, CAA, TXT (the largest, last); a CNAME is the CNAME. A name owning nothing gets the
 * synthesized HINFO "RFC8482" "" (section 4.2) rather than a NODATA a client may take as "no
 * records of any type".
 */
const ANY_PREFERENCE: RecordType[] = ["CNAME", "A", "AAAA", "MX", "NS", "SOA", "CAA", "TXT"];
const RFC8482_HINFO: RecordData = { type: "HINFO", cpu: "RFC8482", os: "" };

function minimalAny(records: RecordData[]): RecordData[] {
  for (const type of ANY_PREFERENCE) {
    const set = records.filter((r) => r.type === type);
    if (set.length > 0) return set;
  }
  return [RFC8482_HINFO];
}

function refused(): ZoneAnswer {
  return { rcode: RCODE.REFUSED, aa: false, answers: [], authority: [], additional: [] };
}

/**
 * The zone-relative part of a name (any case, with or without its dot), lower-cased without a
 * trailing dot: "" for the apex, null outside the zone.
 */
function relativeName(name: string, apex: string): string | null {
  const absolute = absoluteName(name);
  if (absolute === apex) return "";
  return absolute.endsWith(`.${apex}`) ? absolute.slice(0, -apex.length - 1) : null;
}

function soaForAuthority(zone: DnsSettings, statics: StaticZone, lookups: ZoneLookups): ResourceRecord {
  // RFC 2308: negative answers are cached for the SOA minimum.
  return { name: withoutDot(statics.apex), ttl: zone.soa.minimum, ...withSerial(soaData(zone), lookups) };
}

/** The SOA with the published serial (the static zone holds the configured one); other records as they are. */
function withSerial(data: RecordData, lookups: ZoneLookups): RecordData {
  if (data.type !== "SOA") return data;
  const serial = lookups.serial?.();
  return serial === undefined ? data : { ...data, serial };
}

/** The zone's SOA record at `serial`, as a transfer carries it (first, last, and per IXFR changeset). */
export function soaRecord(zone: DnsSettings, serial: number): ResourceRecord {
  return { name: withoutDot(staticZone(zone).apex), ttl: zone.ttl, ...soaData(zone), serial } as ResourceRecord;
}

function soaData(zone: DnsSettings): RecordData {
  const { mname, rname, serial, refresh, retry, expire, minimum } = zone.soa;
  return { type: "SOA", mname: withoutDot(mname), rname: withoutDot(rname), serial, refresh, retry, expire, minimum };
}

/** An address record of the right family, or nothing for an empty or unusable address. */
function addressRecord(address: string): RecordData | undefined {
  address = unmapIPv4(address);
  const family = isIP(address);
  if (family === 4) return { type: "A", address };
  if (family === 6) return { type: "AAAA", address };
  return undefined;
}

function addressRecords(addresses: string[]): RecordData[] {
  return addresses.map(addressRecord).filter((r): r is RecordData => r !== undefined);
}

function glue(zone: DnsSettings, statics: StaticZone): ResourceRecord[] {
  const out: ResourceRecord[] = [];
  for (const [host] of zone.nameservers) {
    const relative = relativeName(host, statics.apex);
    if (relative === null) continue;
    for (const data of statics.nodes.get(relative)?.records ?? [])
      if (data.type === "A" || data.type === "AAAA") out.push({ name: withoutDot(host), ttl: zone.ttl, ...data });
  }
  return out;
}

/**
 * Everything that does not come from the database, built once per settings object. The one
 * place the zone's name is taken from settings (config.ts hands it over without the dot).
 */
function staticZone(zone: DnsSettings): StaticZone {
  const cached = staticZones.get(zone);
  if (cached) return cached;
  const apex = absoluteName(zone.domain);
  const apexBelowApex = withoutDot(apex);
  const nodes = new Map<string, Node>();
  const node = (relative: string) => {
    let n = nodes.get(relative);
    if (!n) {
      n = { records: [], ttl: {} };
      nodes.set(relative, n);
    }
    return n;
  };

  const top = node("");
  top.records.push(soaData(zone));
  for (const [host] of zone.nameservers) top.records.push({ type: "NS", target: withoutDot(host) });
  top.records.push(...addressRecords(zone.wwwAddresses));
  top.records.push(...mxFor("@", zone), ...txtFor("@", zone), ...caa(zone));

  for (const [host, ip] of zone.nameservers) {
    const relative = relativeName(host, apex);
    if (relative === null || relative === "") continue;
    node(relative).records.push(...addressRecords(ip ? [ip] : []));
  }
  node("api").records.push(...addressRecords(zone.tunnelAddresses));
  if (zone.wwwAddresses.length > 0) node("www").cname = withoutDot(apex);
  const ownLabels = (entries: [string, ...unknown[]][]) => new Set(entries.map(([label]) => label).filter((l) => l !== "@" && l !== "*"));
  for (const label of ownLabels(zone.txt)) node(label).records.push(...txtFor(label, zone));
  for (const label of ownLabels(zone.mx)) node(label).records.push(...mxFor(label, zone));
  for (const [host, target] of zone.cname) {
    const relative = relativeName(host, apex);
    if (relative !== null && relative !== "") node(relative).cname = withoutDot(target);
  }

  const emptyNonTerminals = new Set<string>();
  for (const relative of nodes.keys()) {
    const labels = relative.split(".");
    for (let i = 1; i < labels.length; i++) {
      const parent = labels.slice(i).join(".");
      if (!nodes.has(parent)) emptyNonTerminals.add(parent);
    }
  }
  // The PageKite tree <...>.<domain>.<domain>. exists below <domain>.<domain>.
  if (!nodes.has(apexBelowApex)) emptyNonTerminals.add(apexBelowApex);
  const glue = addressRecords(zone.pagekiteAddress ? [zone.pagekiteAddress] : []);
  const nameserver = `ns.${apexBelowApex}.${withoutDot(apex)}`;
  const delegation =
    glue.length === 0
      ? null
      : { apex: { records: [soaData(zone), { type: "NS", target: nameserver } as RecordData], ttl: {} }, nameserver, glue: { records: glue, ttl: {} } };
  const labelled = new Map<string, { txt: RecordData[]; mx: RecordData[] }>();
  for (const [label] of [...zone.txt, ...zone.mx])
    if (label !== "@" && label !== "*") labelled.set(label, { txt: txtFor(label, zone), mx: mxFor(label, zone) });
  const built = {
    apex,
    dotApex: `.${apex}`,
    apexBelowApex,
    nodes,
    emptyNonTerminals,
    delegation,
    tunnel: addressRecords(zone.tunnelAddresses),
    everyGateway: { caaTxt: [...caa(zone), ...txtFor("*", zone)], mx: mxFor("*", zone) },
    labelled,
  };
  staticZones.set(zone, built);
  return built;
}

function mxFor(label: string, zone: DnsSettings): RecordData[] {
  return zone.mx.filter(([l]) => l === label).map(([, priority, exchange]) => ({ type: "MX", priority, exchange: withoutDot(exchange) }));
}

function txtFor(label: string, zone: DnsSettings): RecordData[] {
  return zone.txt.filter(([l]) => l === label).map(([, text]) => ({ type: "TXT", text }));
}

function caa(zone: DnsSettings): RecordData[] {
  return zone.caa.map(([flags, tag, value]) => ({ type: "CAA", flags, tag, value }));
}

/** The node at a zone-relative name, or undefined when the name does not exist (NXDOMAIN). */
function findNode(relative: string, lookups: ZoneLookups, zone: DnsSettings, statics: StaticZone): Node | undefined {
  const labels = relative === "" ? [] : relative.split(".");
  const fixed = statics.nodes.get(relative);

  if (labels.length === 1 && fixed?.cname === undefined) {
    const gateway = lookups.gateway(`${relative}.${statics.apex}`);
    if (gateway) return mergeNodes(gatewayNode(relative, gateway, zone, statics), fixed);
  }
  if (fixed) return fixed;

  if (labels.length === 2 && labels[0] === "_acme-challenge") {
    const gateway = lookups.gateway(`${labels[1]}.${statics.apex}`);
    if (gateway) {
      const challenge: RecordData[] = gateway.dnsChallenge ? [{ type: "TXT", text: gateway.dnsChallenge }] : [];
      return { records: challenge, ttl: { TXT: zone.gatewayTtl }, volatile: ["TXT"] };
    }
  }

  if (statics.delegation && relative === statics.apexBelowApex) return statics.delegation.apex;
  if (statics.delegation && relative === `ns.${statics.apexBelowApex}`) return statics.delegation.glue;
  const apexLabels = statics.apexBelowApex.split(".").length;
  if (labels.length > apexLabels && relative.endsWith(`.${statics.apexBelowApex}`)) {
    const address = pageKiteAnswer(labels.slice(0, -apexLabels), lookups, statics.apex);
    return { records: [{ type: "A", address }], ttl: { A: PAGEKITE.ttl } };
  }

  if (statics.emptyNonTerminals.has(relative)) return { records: [], ttl: {} };
  return undefined;
}

/** The PageKite subtree, `<domain>.<domain>` (lower case, without the trailing dot): every name below it is answered. */
export function pagekiteSubtree(zone: DnsSettings): string {
  const statics = staticZone(zone);
  return `${statics.apexBelowApex}.${withoutDot(statics.apex)}`;
}

/**
 * The PageKite subtree's zone (pagekiteSubtree) when the zone delegates it
 * (dns.pagekite_address); null when it is part of the zone.
 */
export function delegatedChild(zone: DnsSettings): string | null {
  return staticZone(zone).delegation ? pagekiteSubtree(zone) : null;
}

/**
 * A gateway's records as a transfer carries them: its address records (and the configured
 * CAA, TXT, MX) at `<name>`, and its challenge at `_acme-challenge.<name>`. `name` is its full
 * name (domains.name); the same records answerQuestion gives for those names.
 */
export function gatewayRecords(name: string, gateway: GatewayRecord, zone: DnsSettings): ResourceRecord[] {
  const statics = staticZone(zone);
  const label = gatewayLabel(name, statics);
  if (label === null) return [];
  const fixed = statics.nodes.get(label);
  if (fixed?.cname !== undefined) return [];
  const out = nodeRecords(withoutDot(name), mergeNodes(gatewayNode(label, gateway, zone, statics), fixed), zone);
  if (gateway.dnsChallenge) out.push({ name: `_acme-challenge.${withoutDot(name)}`, ttl: zone.gatewayTtl, type: "TXT", text: gateway.dnsChallenge });
  return out;
}

/**
 * What a transfer needs to write a plain gateway (one whose label has no static records of its
 * own: nearly all of them) straight from its row: gatewayRecords' records for it are its
 * address records (TTL `gatewayTtl`), then `shared` (CAA, "*" TXT, "*" MX: TTL `ttl`), then
 * its challenge at `_acme-challenge.<name>` (TTL `gatewayTtl`). `label` gives the gateway's
 * label, or null when gatewayRecords must be asked (a static name, or not a gateway name).
 */
export interface PlainGateways {
  /** the zone's name without the trailing dot, lower-case */
  apex: string;
  label(name: string): string | null;
  /** a tunnel-mode gateway's addresses: the tunnel servers' (empty: its own last address) */
  tunnel: RecordData[];
  shared: RecordData[];
  ttl: number;
  gatewayTtl: number;
}

export function plainGateways(zone: DnsSettings): PlainGateways {
  const statics = staticZone(zone);
  return {
    apex: withoutDot(statics.apex),
    label(name) {
      const label = gatewayLabel(name, statics);
      return label === null || statics.nodes.has(label) ? null : label;
    },
    tunnel: statics.tunnel,
    shared: [...statics.everyGateway.caaTxt, ...statics.everyGateway.mx],
    ttl: zone.ttl,
    gatewayTtl: zone.gatewayTtl,
  };
}

/** The label of a gateway's full name, or null when it is not one label below the apex. */
function gatewayLabel(name: string, statics: StaticZone): string | null {
  // domains.name is in the program's form already: the label is what comes before the apex
  const label = name.endsWith(statics.dotApex) ? name.slice(0, -statics.dotApex.length) : relativeName(name, statics.apex);
  return label === null || label === "" || label.includes(".") ? null : label;
}

/**
 * Every record of the zone at `serial`, for a full transfer (RFC 5936): the SOA first (the
 * caller ends the transfer with it again), the apex, the static names, each gateway from
 * `gateways` (full name and row, in any order, read as they are needed), and the delegation
 * of the PageKite subtree. The PageKite answers themselves are computed per query and not
 * part of it.
 */
export function* zoneRecords(zone: DnsSettings, serial: number, gateways: Iterable<[string, GatewayRecord]>): Generator<ResourceRecord> {
  for (const item of zoneItems(zone, serial, gateways, false)) yield item as ResourceRecord;
}

/** A plain gateway (PlainGateways) as a transfer writes it from its row: full name and label. */
export interface PlainGatewayRow {
  row: GatewayRecord;
  name: string;
  label: string;
}

/** zoneRecords' records in the same order, each plain gateway's as one row when `plainRows`. */
export function* zoneItems(
  zone: DnsSettings,
  serial: number,
  gateways: Iterable<[string, GatewayRecord]>,
  plainRows: boolean,
): Generator<ResourceRecord | PlainGatewayRow> {
  const statics = staticZone(zone);
  const apexName = withoutDot(statics.apex);
  yield soaRecord(zone, serial);
  const top = statics.nodes.get("");
  if (top) yield* nodeRecords(apexName, { ...top, records: top.records.filter((r) => r.type !== "SOA") }, zone);
  // A static name a gateway also holds is given once, merged, with the gateway.
  const shadowed = new Set<string>();
  for (const [name, gateway] of gateways) {
    if (plainRows) {
      const label = gatewayLabel(name, statics);
      if (label !== null && !statics.nodes.has(label)) {
        yield { row: gateway, name, label };
        continue;
      }
    }
    const records = gatewayRecords(name, gateway, zone);
    if (records.length === 0) continue;
    const label = gatewayLabel(name, statics)!;
    if (statics.nodes.has(label)) shadowed.add(label);
    yield* records;
  }
  for (const [relative, node] of statics.nodes) {
    if (relative === "" || shadowed.has(relative)) continue;
    yield* nodeRecords(`${relative}.${apexName}`, node, zone);
  }
  if (statics.delegation) {
    const child = `${statics.apexBelowApex}.${apexName}`;
    yield { name: child, ttl: zone.ttl, type: "NS", target: statics.delegation.nameserver };
    yield* nodeRecords(statics.delegation.nameserver, statics.delegation.glue, zone);
  }
}

/**
 * One owner name of the zone and its records, for a signed transfer. `kind`: "delegation" is
 * the PageKite zone cut `<domain>.<domain>.` (its NS is the child's, not signed; RFC 4035
 * 2.2), "glue" a name below it (occluded: no NSEC, no RRSIG), every other name "authoritative".
 */
export interface ZoneOwner {
  name: string;
  kind: "authoritative" | "delegation" | "glue";
  records: ResourceRecord[];
}

/**
 * The zone's owner names at `serial` in canonical order (RFC 4034 6.1), each once with all its
 * records: what zoneRecords gives, grouped by owner. `gateways` must come in canonical order
 * (ZoneSnapshot.gateways(size, "canonical")) and are read as they are needed; the static
 * names (few) are sorted here and merged in, each gateway's `_acme-challenge` child right
 * after it. Empty non-terminals own nothing and are not given.
 */
export function* canonicalZoneOwners(zone: DnsSettings, serial: number, gateways: Iterable<[string, GatewayRecord]>): Generator<ZoneOwner> {
  const statics = staticZone(zone);
  const apexName = withoutDot(statics.apex);
  const fixed: ZoneOwner[] = [];
  for (const [relative, node] of statics.nodes) {
    const name = relative === "" ? apexName : `${relative}.${apexName}`;
    const records = nodeRecords(name, node, zone).map((r) => (r.type === "SOA" ? { ...r, serial } : r));
    if (records.length > 0) fixed.push({ name, kind: "authoritative", records });
  }
  if (statics.delegation) {
    const cut = `${statics.apexBelowApex}.${apexName}`;
    for (const owner of fixed) if (isAtOrBelow(owner.name, cut)) owner.kind = "glue";
    fixed.push({ name: cut, kind: "delegation", records: [{ name: cut, ttl: zone.ttl, type: "NS", target: statics.delegation.nameserver }] });
    const glue = nodeRecords(statics.delegation.nameserver, statics.delegation.glue, zone);
    const same = fixed.find((o) => o.name === statics.delegation?.nameserver);
    if (same) same.records.push(...glue);
    else fixed.push({ name: statics.delegation.nameserver, kind: "glue", records: glue });
  }
  fixed.sort((a, b) => canonicalCompare(a.name, b.name));

  let next = 0;
  /** The static owners before `name`; then whether the static owner at `name` stands instead of the gateway's. */
  function* before(name: string): Generator<ZoneOwner, boolean> {
    while (next < fixed.length && canonicalCompare(fixed[next].name, name) < 0) yield fixed[next++];
    return next < fixed.length && canonicalCompare(fixed[next].name, name) === 0;
  }
  for (const [full, gateway] of gateways) {
    const records = gatewayRecords(full, gateway, zone);
    if (records.length === 0) continue;
    const name = withoutDot(full);
    const own = records.filter((r) => r.name === name);
    const below = records.filter((r) => r.name !== name);
    if (own.length > 0) {
      // gatewayRecords merged the static records at the gateway's name in already
      if (yield* before(name)) next++;
      yield { name, kind: "authoritative", records: own };
    }
    if (below.length > 0) {
      // a static name wins over a gateway's challenge, as in the answers (findNode)
      if (yield* before(below[0].name)) yield fixed[next++];
      else yield { name: below[0].name, kind: "authoritative", records: below };
    }
  }
  while (next < fixed.length) yield fixed[next++];
}

/** The records of one node, owned by `owner` (its CNAME, or its record sets with their TTLs). */
function nodeRecords(owner: string, node: Node, zone: DnsSettings): ResourceRecord[] {
  if (node.cname !== undefined) return [{ name: owner, ttl: zone.ttl, type: "CNAME", target: node.cname }];
  return node.records.map((data) => ({ name: owner, ttl: node.ttl[data.type] ?? zone.ttl, ...data }));
}

function mergeNodes(gateway: Node, fixed: Node | undefined): Node {
  if (!fixed) return gateway;
  const present = new Set(gateway.records.map((r) => r.type));
  return {
    records: [...gateway.records, ...fixed.records.filter((r) => !present.has(r.type))],
    ttl: { ...fixed.ttl, ...gateway.ttl },
    volatile: gateway.volatile,
  };
}

function gatewayNode(label: string, gateway: GatewayRecord, zone: DnsSettings, statics: StaticZone): Node {
  const records: RecordData[] = [];
  if (gateway.mode === MODE.tunnel) {
    // A tunnel lands on the tunnel servers; without any configured, on the gateway itself.
    const tunnel = statics.tunnel;
    records.push(...(tunnel.length > 0 ? tunnel : addressRecords([gateway.lastIp])));
  } else if (gateway.mode === MODE.dynamicDns) {
    // Dual stack: A from the last IPv4 address given, AAAA from the last IPv6 one.
    if (gateway.lastIpv4) records.push(...addressRecords([gateway.lastIpv4]));
    if (gateway.lastIpv6) records.push(...addressRecords([gateway.lastIpv6]));
  }
  const own = statics.labelled.get(label);
  records.push(...statics.everyGateway.caaTxt, ...(own?.txt ?? []), ...statics.everyGateway.mx, ...(own?.mx ?? []));
  return { records, ttl: { A: zone.gatewayTtl, AAAA: zone.gatewayTtl }, volatile: ["A", "AAAA"] };
}

/**
 * <srand>.<qtoken>.<sign>.<proto>.<name> under <domain>.<domain>: the kite secret is the
 * gateway's API token, and the reply is an address, never an error. A kite name that is not
 * exactly one registered gateway (unknown, nested `sub.gw`, wildcard `_any_`) is refused.
 */
function pageKiteAnswer(labels: string[], lookups: ZoneLookups, apex: string): string {
  if (labels.length !== 5) return PAGEKITE.refused;
  const [srand, qtoken, sign, proto, name] = labels;
  const gateway = lookups.gateway(`${name}.${apex}`);
  // An empty token would let anyone compute the signature.
  if (!gateway?.token || sign.length < 36) return PAGEKITE.refused;
  const salt = sign.slice(0, 8);
  const payload = `${proto}:${name}.${withoutDot(apex)}:${srand}:${qtoken}`;
  const digest = createHash("sha1")
    .update(gateway.token + payload + salt)
    .digest("hex");
  return digest.slice(0, 28) === sign.slice(8, 36) ? PAGEKITE.ok : PAGEKITE.refused;
}
