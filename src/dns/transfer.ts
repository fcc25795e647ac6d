// Zone transfers out: the messages of an AXFR (RFC 5936) or IXFR (RFC 1995) answer, built
// lazily from a snapshot of the store, so a zone of a million names streams out a message at a
// time as the peer reads (server.ts pulls the next one on `drain`). Pure: no sockets.
import type { DnsSettings } from "../config.ts";
import { addressBytes, dottedQuadInto } from "../addresses.ts";
import { MODE, type GatewayRecord } from "../gateway-data.ts";
import { absoluteName, withoutDot } from "../names.ts";
import type { Changeset, ZoneSnapshot } from "../store/zone-reader.ts";
import type { Signer } from "./dnssec.ts";
import { MessageWriter } from "./message-writer.ts";
import { signedZoneRecords } from "./presigned.ts";
import { serialGreater } from "./serial.ts";
import { OPT_OCTETS, uncompressedName, writeOpt, type Edns } from "./wire.ts";

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
 * taken and closed when the last one is, or when the caller stops early (`return()`). With
 * `images`, an unsigned whole zone comes from the zone's image at the snapshot's serial (made
 * by the first transfer that needs it), each message given this query's ID, question and OPT.
 */
export function* transferMessages(
  query: TransferQuery,
  snapshot: ZoneSnapshot,
  zone: DnsSettings,
  finish: (message: Buffer) => Buffer = (m) => m,
  signing: TransferSigning | null = null,
  images: ZoneImages | null = null,
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
    const answer = answerKind(query, snapshot, signing);
    const image = answer.kind === "whole zone" && !signing ? images?.read(snapshot.serial, zone, () => wholeZoneMessages(snapshot, zone)) : null;
    if (image) {
      // The snapshot stays open until the end: a transfer under way holds its place (server.ts).
      let first = true;
      for (const message of image) {
        yield finish(forQuery(message, first, query));
        first = false;
      }
      return;
    }
    yield* pack(query, thenClose(transferRecords(answer, snapshot, zone, signing)), zone, finish);
  } finally {
    close();
  }
}

type AnswerKind = { kind: "soa" } | { kind: "incremental"; changesets: Changeset[] } | { kind: "whole zone" };

/** What answers the query: RFC 1995 for IXFR, the whole zone for AXFR. */
function answerKind(query: TransferQuery, snapshot: ZoneSnapshot, signing: TransferSigning | null): AnswerKind {
  if (query.question.type !== QTYPE.IXFR || query.ixfrSerial === undefined) return { kind: "whole zone" };
  // RFC 1995 2: a client as new as we are (or newer: RFC 1982) gets the SOA alone.
  if (!serialGreater(snapshot.serial, query.ixfrSerial)) return { kind: "soa" };
  // A signed zone's changes move NSEC links and signatures the journal does not hold: a
  // secondary that is behind gets the whole signed zone (RFC 1995 4 allows it).
  const changesets = signing ? null : snapshot.changesetsSince(query.ixfrSerial);
  // Not in the journal: the whole zone, as an AXFR would carry it (RFC 1995 4).
  return changesets === null ? { kind: "whole zone" } : { kind: "incremental", changesets };
}

/** The records of the answer, in order. */
function* transferRecords(
  answer: AnswerKind,
  snapshot: ZoneSnapshot,
  zone: DnsSettings,
  signing: TransferSigning | null,
): Generator<ResourceRecord | PlainGatewayRow> {
  const soa = soaRecord(zone, snapshot.serial);
  if (answer.kind === "soa") {
    yield soa;
    return;
  }
  if (answer.kind === "incremental") {
    yield soa;
    for (const changeset of answer.changesets) {
      const { removed, added } = differences(changeset, zone);
      yield soaRecord(zone, changeset.from);
      yield* removed;
      yield soaRecord(zone, changeset.to);
      yield* added;
    }
    yield soa;
    return;
  }
  if (signing) yield* signedZoneRecords(zone, snapshot.serial, snapshot.gateways(undefined, "canonical"), signing.signer, signing.nowSeconds);
  else yield* zoneItems(zone, snapshot.serial, snapshot.gateways(), true);
  yield soa;
}

/** The query an image is encoded for: ID 0, the zone's name in lower case, AXFR, no EDNS. */
function imageQuery(zone: DnsSettings): TransferQuery {
  return { id: 0, question: { name: withoutDot(absoluteName(zone.domain)), type: QTYPE.AXFR, class: 1 }, edns: null };
}

/** The unsigned whole zone in messages, as imageQuery asks it; the snapshot is closed when all is read. */
function wholeZoneMessages(snapshot: ZoneSnapshot, zone: DnsSettings): Generator<Buffer> {
  return transferMessages(imageQuery(zone), snapshot, zone);
}

/**
 * An image's message as this query's answer: its ID; in the first message its question (the
 * same name, as the query spelled it, and type: an IXFR answered with the whole zone carries
 * the IXFR question); an OPT last when the query had one (MessageWriter.toBuffer's).
 */
function forQuery(message: Buffer, first: boolean, query: TransferQuery): Buffer {
  const out = Buffer.allocUnsafe(message.length + (query.edns ? OPT_OCTETS : 0));
  message.copy(out);
  out.writeUInt16BE(query.id, 0);
  if (first) {
    const name = uncompressedName(query.question.name);
    name.copy(out, 12);
    out.writeUInt16BE(query.question.type, 12 + name.length);
  }
  if (query.edns) {
    writeOpt(out, message.length, RCODE.NOERROR, query.edns.dnssecOk);
    out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  }
  return out;
}

interface Image {
  zone: DnsSettings;
  serial: number;
  /** messages[i] is message number base + i */
  messages: Buffer[];
  base: number;
  /** octets encoded so far, and the part of them `messages` holds */
  octets: number;
  kept: number;
  /** the encoder, until it has given the last message */
  source: Generator<Buffer> | null;
  /** what the encoder reads (closed by it at its end, and by release: an encoder never started has no `finally` to run) */
  snapshot: ZoneSnapshot;
  /**
   * false once it outgrew dns.transfer_image_mb or was replaced: nobody new reads it, and it keeps
   * new messages for the readers behind only while it holds at most dns.transfer_image_mb; past
   * that it drops them all, and a reader behind its encoder goes on from its own rows
   */
  shared: boolean;
  readers: number;
}

/**
 * The whole zone's transfer messages at one serial, encoded once and read by every whole-zone
 * transfer at that serial (NSD serves transfers from its compiled zone the same way): after a
 * restart or a change, the secondaries that come for the zone share one encoding, read as fast
 * as they take it. The first reader drives the encoder; readers that come while it runs read
 * what is there, then drive it on. A new serial or new settings start a new image.
 */
export class ZoneImages {
  private image: Image | null = null;
  /** the zone and serial whose image outgrew dns.transfer_image_mb: transfers at it encode from the rows */
  private oversize: { zone: DnsSettings; serial: number } | null = null;
  private closed = false;

  /** `open`: a snapshot of the zone for an image to read (one at a time, besides the transfers' own). */
  constructor(private readonly open: () => ZoneSnapshot) {}

  /**
   * The messages of the zone at `serial`, as imageQuery asks it (do not modify them), or null
   * when the zone has moved on from `serial` or dns.transfer_image_mb is 0 (the caller encodes
   * from its own snapshot). 100,000 names take about 6.5 MB.
   */
  read(serial: number, zone: DnsSettings, own?: () => Generator<Buffer>): Generator<Buffer> | null {
    if (this.closed || !zone.transferImageMb || (this.oversize?.zone === zone && this.oversize.serial === serial)) return null;
    let image = this.image;
    if (!(image?.shared && image.zone === zone && image.serial === serial)) {
      let snapshot: ZoneSnapshot;
      try {
        snapshot = this.open();
      } catch {
        return null; // the caller's own snapshot still serves (and says what is wrong if it is the file)
      }
      if (snapshot.serial !== serial) {
        snapshot.close();
        return null;
      }
      if (image) this.release(image, true);
      image = { zone, serial, messages: [], base: 0, octets: 0, kept: 0, source: wholeZoneMessages(snapshot, zone), snapshot, shared: true, readers: 0 };
      this.image = image;
    }
    return this.readFrom(image, own);
  }

  /** octets of encoded messages the current image holds (at most dns.transfer_image_mb) */
  keptOctets(): number {
    return this.image?.kept ?? 0;
  }

  /**
   * An image's messages from the first. A reader that falls behind what the image keeps (it is
   * no longer shared) takes the rest from `own` (the same messages from its own snapshot, at
   * the same serial), skipping what it has given; without `own` it stops there.
   */
  private *readFrom(image: Image, own?: () => Generator<Buffer>): Generator<Buffer> {
    image.readers++;
    let i = 0;
    try {
      for (; ; i++) {
        if (i < image.base) break; // dropped (the image is no longer shared): the rest from own rows
        if (i < image.base + image.messages.length) {
          yield image.messages[i - image.base];
          continue;
        }
        if (!image.source) return;
        let next: IteratorResult<Buffer, void>;
        try {
          next = image.source.next();
        } catch (e) {
          // A dead encoder would look complete to the other readers: they go on from their own rows.
          this.abandon(image);
          throw e;
        }
        if (next.done) {
          image.source = null;
          return;
        }
        const bound = (image.zone.transferImageMb ?? 0) * 2 ** 20;
        image.octets += next.value.length;
        if (image.shared && image.octets > bound) {
          image.shared = false;
          this.oversize = { zone: image.zone, serial: image.serial };
        }
        if (image.shared || (image.readers > 1 && image.kept + next.value.length <= bound)) {
          image.messages.push(next.value);
          image.kept += next.value.length;
        } else {
          // too large to keep, or nobody behind: nothing kept, readers behind this one read their own rows
          image.base = i + 1;
          image.messages = [];
          image.kept = 0;
        }
        yield next.value;
      }
    } finally {
      image.readers--;
      this.release(image, false);
    }
    if (!own) return;
    const rest = own();
    try {
      for (let skipped = 0; skipped < i; skipped++) if (rest.next().done) return;
      yield* rest;
    } finally {
      rest.return(undefined);
    }
  }

  /** Reads the zone into an image now, a few messages per event-loop turn (after a start: secondaries come at once). */
  prepare(zone: DnsSettings): void {
    if (!zone.transferImageMb) {
      this.forget();
      return;
    }
    let reader: Generator<Buffer> | null;
    try {
      const snapshot = this.open();
      const serial = snapshot.serial;
      snapshot.close();
      reader = this.read(serial, zone);
    } catch {
      return; // a transfer will say what is wrong
    }
    if (!reader) return;
    const image = this.image;
    const turn = () => {
      try {
        // outgrew the bound, or a newer serial replaced it: not worth reading ahead
        if (this.image !== image || !image?.shared) return void reader.return(undefined);
        // as a transfer's turn in server.ts: 8 messages or 5 ms, then other sockets
        const started = performance.now();
        for (let n = 0; n < 8 && (n === 0 || performance.now() - started < 5); n++) if (reader.next().done) return;
        setImmediate(turn);
      } catch {
        reader.return(undefined);
      }
    };
    setImmediate(turn);
  }

  /** The server closes: no image any more; reading ahead stops, transfers under way go on from their own rows. */
  close(): void {
    this.closed = true;
    this.forget();
  }

  /** Settings that keep no image (or no transfers): the one made before is let go. */
  forget(): void {
    const image = this.image;
    this.image = null;
    if (image) this.release(image, true);
  }

  /** An image that failed: nobody new reads it, it keeps nothing, and every reader of it reads its own rows. */
  private abandon(image: Image): void {
    image.source = null;
    image.shared = false;
    image.base = Number.MAX_SAFE_INTEGER;
    image.messages = [];
    image.kept = 0;
    if (this.image === image) this.image = null;
  }

  /** An image nobody reads any more stops its encoder (and its snapshot) unless it is the current one, complete. */
  private release(image: Image, replaced: boolean): void {
    if (image.readers > 0) {
      if (replaced) image.shared = false;
      return;
    }
    if (replaced || image.source || !image.shared) {
      image.source?.return(undefined);
      image.snapshot.close();
      image.source = null;
      image.messages = [];
      if (this.image === image) this.image = null;
    }
  }
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
    this.apex = shape.apex;
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
