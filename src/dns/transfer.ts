// Zone transfers out: the messages of an AXFR (RFC 5936) or IXFR (RFC 1995) answer, built
// lazily from a snapshot of the store, so a zone of a million names streams out a message at a
// time as the peer reads (server.ts pulls the next one on `drain`). Pure: no sockets.
import type { DnsSettings } from "../config.ts";
import { addressBytes, dottedQuadInto } from "../addresses.ts";
import { MODE, type GatewayRecord } from "../gateway-data.ts";
import type { Changeset, ZoneSnapshot } from "../store/zone-reader.ts";
import type { Signer } from "./dnssec.ts";
import { MessageWriter } from "./message-writer.ts";
import { signedZoneRecords } from "./presigned.ts";
import { serialGreater } from "./serial.ts";
import type { Edns } from "./wire.ts";

export type { Changeset, ZoneSnapshot };
import {
  gatewayRecords,
  plainGateways,
  QTYPE,
  RCODE,
  soaRecord,
  zoneItems,
  type PlainGatewayRow,
  type Question,
  type RecordData,
  type ResourceRecord,
} from "./zone.ts";

export interface TransferQuery {
  id: number;
  question: Question;
  edns: Edns | null;
  /** IXFR: the serial the client holds (the SOA in its query's authority section) */
  ixfrSerial?: number;
}

/**
 * Records per message are packed up to about this many octets: large enough that a transfer
 * is few messages (100,000 names are ~400), small enough that a message never waits on
 * the 64 KiB limit and each write is one socket buffer.
 */
const MESSAGE_TARGET_OCTETS = 16_000;

/** dns.dnssec on: the zone goes out presigned (presigned.ts), signed as of `nowSeconds`. */
export interface TransferSigning {
  signer: Signer;
  nowSeconds: number;
}

/**
 * The messages answering a transfer query, SOA first and last. `finish` sees each encoded
 * message before it goes out (TSIG signs it there). The snapshot is read as messages are
 * taken and closed when the last one is, or when the caller stops early (`return()`).
 */
export function* transferMessages(
  query: TransferQuery,
  snapshot: ZoneSnapshot,
  zone: DnsSettings,
  finish: (message: Buffer) => Buffer = (m) => m,
  signing: TransferSigning | null = null,
): Generator<Buffer> {
  let open = true;
  const close = () => {
    if (open) snapshot.close();
    open = false;
  };
  function* thenClose(records: Iterable<ResourceRecord | PlainGatewayRow>) {
    yield* records;
    close(); // all read: the read transaction ends before the last message goes out
  }
  try {
    yield* pack(query, thenClose(transferRecords(query, snapshot, zone, signing)), zone, finish);
  } finally {
    close();
  }
}

/** The records of the answer, in order. */
function* transferRecords(
  query: TransferQuery,
  snapshot: ZoneSnapshot,
  zone: DnsSettings,
  signing: TransferSigning | null,
): Generator<ResourceRecord | PlainGatewayRow> {
  const soa = soaRecord(zone, snapshot.serial);
  if (query.question.type === QTYPE.IXFR && query.ixfrSerial !== undefined) {
    // RFC 1995 2: a client as new as we are (or newer: RFC 1982) gets the SOA alone.
    if (!serialGreater(snapshot.serial, query.ixfrSerial)) {
      yield soa;
      return;
    }
    // A signed zone's changes move NSEC links and signatures the journal does not hold: a
    // secondary that is behind gets the whole signed zone (RFC 1995 4 allows it).
    const changesets = signing ? null : snapshot.changesetsSince(query.ixfrSerial);
    if (changesets !== null) {
      yield soa;
      for (const changeset of changesets) {
        const { removed, added } = differences(changeset, zone);
        yield soaRecord(zone, changeset.from);
        yield* removed;
        yield soaRecord(zone, changeset.to);
        yield* added;
      }
      yield soa;
      return;
    }
    // Not in the journal: the whole zone, as an AXFR would carry it (RFC 1995 4).
  }
  if (signing) yield* signedZoneRecords(zone, snapshot.serial, snapshot.gateways(undefined, "canonical"), signing.signer, signing.nowSeconds);
  else yield* zoneItems(zone, snapshot.serial, snapshot.gateways(), true);
  yield soa;
}

/** A changeset's records: what its names held before it and no longer do, and the reverse. */
export function differences(changeset: Changeset, zone: DnsSettings): { removed: ResourceRecord[]; added: ResourceRecord[] } {
  // A name changed several times within one changeset: its first state against its last.
  const states = new Map<string, { old: GatewayRecord | null; new: GatewayRecord | null }>();
  for (const change of changeset.changes) {
    const seen = states.get(change.name);
    if (seen) seen.new = change.new;
    else states.set(change.name, { old: change.old, new: change.new });
  }
  const removed: ResourceRecord[] = [];
  const added: ResourceRecord[] = [];
  for (const [name, state] of states) {
    const before = state.old ? gatewayRecords(name, state.old, zone) : [];
    const after = state.new ? gatewayRecords(name, state.new, zone) : [];
    const beforeKeys = new Set(before.map(recordKey));
    const afterKeys = new Set(after.map(recordKey));
    for (const record of before) if (!afterKeys.has(recordKey(record))) removed.push(record);
    for (const record of after) if (!beforeKeys.has(recordKey(record))) added.push(record);
  }
  return { removed, added };
}

/** A record's identity for a difference: owner (any case), type, TTL and data. */
function recordKey(record: ResourceRecord): string {
  return JSON.stringify({ ...record, name: record.name.toLowerCase() });
}

/** Records into messages of about MESSAGE_TARGET_OCTETS; the question goes in the first only (RFC 5936 2.2.1). */
function* pack(
  query: TransferQuery,
  items: Iterable<ResourceRecord | PlainGatewayRow>,
  zone: DnsSettings,
  finish: (message: Buffer) => Buffer,
): Generator<Buffer> {
  const header = { id: query.id, aa: true, rcode: RCODE.NOERROR, edns: query.edns };
  let writer = new MessageWriter({ ...header, question: query.question });
  const plain = new PlainGatewayWriter(zone);
  for (const item of items) {
    if (writer.length >= MESSAGE_TARGET_OCTETS && writer.records > 0) {
      yield finish(writer.toBuffer());
      writer = new MessageWriter(header);
    }
    if (!("row" in item)) writer.record(item);
    else if (!plain.write(writer, item)) for (const record of gatewayRecords(item.name, item.row, zone)) writer.record(record);
  }
  if (writer.records > 0) yield finish(writer.toBuffer());
}

/**
 * Writes a plain gateway's records (PlainGateways in zone.ts: the records gatewayRecords gives
 * for it, in its order) from the row: the owner name once, then each record as a pointer and
 * octets encoded once per transfer. A 100,000-name zone goes out in about half the CPU time
 * the record objects and name lookups took (bench/README.md, "Zone transfers and DNSSEC").
 */
class PlainGatewayWriter {
  private readonly apex: string;
  private readonly tunnel: Buffer[];
  private readonly shared: Buffer[];
  private readonly gatewayTtl: number;
  /** where an A's octets are read into (two: a dual-stack name has a second address) */
  private readonly scratch = [new Uint8Array(4), new Uint8Array(4)];

  constructor(zone: DnsSettings) {
    const shape = plainGateways(zone);
    const tail = (ttl: number) => (data: RecordData) => MessageWriter.recordTail({ ...data, name: "", ttl } as ResourceRecord);
    this.apex = shape.apex.toLowerCase();
    this.tunnel = shape.tunnel.map(tail(shape.gatewayTtl));
    this.shared = shape.shared.map(tail(shape.ttl));
    this.gatewayTtl = shape.gatewayTtl;
  }

  /** An address's octets (an A's or an AAAA's), or null for "" or what is not an address: addressRecord's reading. */
  private octets(address: string, scratch: Uint8Array): Uint8Array | null {
    if (!address) return null;
    // mostly a dotted quad, read without allocating
    return dottedQuadInto(address, scratch) ? scratch : addressBytes(address);
  }

  /** false when nothing was written and gatewayRecords' records must be written instead. */
  write(writer: MessageWriter, { row, name, label }: PlainGatewayRow): boolean {
    let tunnel: Buffer[] = [];
    let first: Uint8Array | null = null;
    let second: Uint8Array | null = null;
    if (row.mode === MODE.tunnel) {
      // A tunnel lands on the tunnel servers; without any configured, on the gateway itself.
      if (this.tunnel.length > 0) tunnel = this.tunnel;
      else first = this.octets(row.lastIp, this.scratch[0]);
    } else if (row.mode === MODE.dynamicDns) {
      first = this.octets(row.lastIpv4, this.scratch[0]);
      second = this.octets(row.lastIpv6, this.scratch[1]);
    }
    const own = tunnel.length + (first ? 1 : 0) + (second ? 1 : 0) + this.shared.length;
    let owner = -1;
    if (own > 0) {
      owner = writer.ownerName(label, this.apex);
      if (owner < 0) return false;
      for (const t of tunnel) writer.recordAt(owner, t);
      if (first) writer.addressAt(owner, this.gatewayTtl, first);
      if (second) writer.addressAt(owner, this.gatewayTtl, second);
      for (const t of this.shared) writer.recordAt(owner, t);
    }
    if (row.dnsChallenge) {
      const challenge: ResourceRecord = { name: `_acme-challenge.${name.slice(0, -1)}`, ttl: this.gatewayTtl, type: "TXT", text: row.dnsChallenge };
      // its owner: the label, then a pointer to the gateway's name when written above
      const at = owner >= 0 ? writer.ownerName("_acme-challenge", owner) : -1;
      if (at >= 0) writer.recordOwnedAt(at, challenge);
      else writer.record(challenge);
    }
    return true;
  }
}
