// DNS messages on the wire: a strict parser for queries (bounds-checked, never throws) and
// the response encoder (dns2's Packet, with its gaps filled: AA, EDNS OPT, TC, TXT splitting,
// canonical IPv6 text for its AAAA writer).
// dns2's packet module alone (tsconfig.json "paths"; dns2 exports only its index): the index
// also loads its DoH server and clients, so node:http, https, http2 and tls, in each thread.
import Packet from "dns2/packet";
import { isIP } from "node:net";
import { ipv6Groups } from "../addresses.ts";
import { asciiLowerCase } from "../names.ts";
import { ByteWriter } from "./byte-writer.ts";
import { CLASS_ANY, CLASS_IN, QTYPE, RCODE, TYPE, type Question, type ResourceRecord } from "./zone.ts";

export interface Edns {
  /** the requestor's UDP payload size */
  payload: number;
  version: number;
  dnssecOk: boolean;
}

export interface Query {
  id: number;
  opcode: number;
  rd: boolean;
  cd: boolean;
  question: Question;
  edns: Edns | null;
  /** IXFR (qtype 251): the serial of the SOA the client sent in the authority section */
  ixfrSerial?: number;
  /** the TSIG record that ended the message, to be verified (tsig.ts) */
  tsig?: TsigRecord;
}

/** A TSIG record (RFC 8945 4.2) as read from a message. */
export interface TsigRecord {
  /** the key name: ASCII lower case, with its trailing dot */
  name: string;
  /** the algorithm name, e.g. "hmac-sha256.": ASCII lower case, with its trailing dot */
  algorithm: string;
  /** the record's TTL (0 from every signer; the digest covers it) */
  ttl: number;
  /** seconds since the epoch (48 bits) */
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  otherData: Buffer;
  /** byte offset of the TSIG record in the message: the digest covers the bytes before it */
  start: number;
}

/** What to do with a received message. */
export type Parsed =
  | { kind: "query"; query: Query }
  /** answer with this rcode (question and edns echoed when they could be read) */
  | { kind: "error"; rcode: number; id: number; opcode: number; rd: boolean; cd: boolean; question?: Question; edns: Edns | null }
  /** not a query we can answer at all (too short to hold a header, or itself a response) */
  | { kind: "drop" };

export const OPCODE_QUERY = 0;
export const RCODE_BADVERS = 16;
const TYPE_OPT = QTYPE.OPT;
const TYPE_SOA = 6;
const TYPE_TSIG = 250;
const TYPE_IXFR = 251;
const HEADER_BYTES = 12;
const MAX_NAME_OCTETS = 255;

export function parseQuery(message: Uint8Array): Parsed {
  const buf = Buffer.isBuffer(message) ? message : Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  if (buf.length < HEADER_BYTES) return { kind: "drop" };
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  if (flags & 0x8000) return { kind: "drop" }; // a response: answering it could start a loop
  const opcode = (flags >> 11) & 0xf;
  const rd = (flags & 0x0100) !== 0;
  const cd = (flags & 0x0010) !== 0;
  const [qdcount, ancount, nscount, arcount] = [4, 6, 8, 10].map((o) => buf.readUInt16BE(o));
  // RFC 6891 7: an error reply carries an OPT too when the query's OPT can be read.
  const fail = (rcode: number, question?: Question, edns = ednsOfRejectedQuery(buf, qdcount, ancount + nscount, arcount)): Parsed => ({
    kind: "error",
    rcode,
    id,
    opcode,
    rd,
    cd,
    question,
    edns,
  });
  if (opcode !== OPCODE_QUERY) {
    // RFC 6891 6.1.3: an EDNS version we do not speak is BADVERS, whatever else the message asks (as in BIND).
    const edns = ednsOfRejectedQuery(buf, qdcount, ancount + nscount, arcount);
    return fail(edns && edns.version > 0 ? RCODE_BADVERS : RCODE.NOTIMP, undefined, edns);
  }
  if (qdcount !== 1) return fail(RCODE.FORMERR);

  const name = readQuestionName(buf, HEADER_BYTES);
  if (!name || name.end + 4 > buf.length) return fail(RCODE.FORMERR);
  const question: Question = { name: name.text, type: buf.readUInt16BE(name.end), class: buf.readUInt16BE(name.end + 2) };
  // A query carries its question, for IXFR the client's SOA in authority (RFC 1995 3), and
  // in additional at most an OPT, then a TSIG as the very last record (RFC 8945 5.2).
  const ixfr = question.type === TYPE_IXFR;
  if (ancount !== 0 || nscount !== (ixfr ? 1 : 0)) return fail(RCODE.FORMERR, question);

  let offset = name.end + 4;
  let ixfrSerial: number | undefined;
  if (ixfr) {
    const soa = readRecordHeader(buf, offset);
    if (!soa || soa.type !== TYPE_SOA) return fail(RCODE.FORMERR, question);
    const rname = skipName(buf, soa.rdata); // past MNAME
    const serialAt = rname < 0 ? -1 : skipName(buf, rname);
    if (serialAt < 0 || serialAt + 20 !== soa.end) return fail(RCODE.FORMERR, question);
    ixfrSerial = buf.readUInt32BE(serialAt);
    offset = soa.end;
  }

  let edns: Edns | null = null;
  let tsig: TsigRecord | undefined;
  for (let i = 0; i < arcount; i++) {
    const start = offset;
    const rr = readRecordHeader(buf, offset);
    if (!rr) return fail(RCODE.FORMERR, question);
    offset = rr.end;
    if (rr.type === TYPE_TSIG) {
      // the last record, and so the only TSIG
      const record = i === arcount - 1 ? readTsig(buf, start, rr) : null;
      if (!record) return fail(RCODE.FORMERR, question);
      tsig = record;
      continue;
    }
    if (rr.type !== TYPE_OPT) continue;
    // RFC 6891 6.1.1: one OPT, owned by the root, with well-formed options.
    if (edns || buf[start] !== 0 || !optionsWellFormed(buf, rr.rdata, rr.end)) return fail(RCODE.FORMERR, question);
    edns = ednsFields(rr.cls, rr.ttl);
  }
  if (edns && edns.version > 0) return fail(RCODE_BADVERS, question, edns);
  const query: Query = { id, opcode, rd, cd, question, edns };
  if (ixfrSerial !== undefined) query.ixfrSerial = ixfrSerial;
  if (tsig) query.tsig = tsig;
  return { kind: "query", query };
}

interface RecordHeader {
  type: number;
  cls: number;
  ttl: number;
  /** offset of the RDATA, and just past it */
  rdata: number;
  end: number;
}

/** The fixed fields of the record at `offset`, or null when it runs past the end of the message. */
function readRecordHeader(buf: Buffer, offset: number): RecordHeader | null {
  const at = skipName(buf, offset);
  if (at < 0 || at + 10 > buf.length) return null;
  const end = at + 10 + buf.readUInt16BE(at + 8);
  if (end > buf.length) return null;
  return { type: buf.readUInt16BE(at), cls: buf.readUInt16BE(at + 2), ttl: buf.readUInt32BE(at + 4), rdata: at + 10, end };
}

/** The MAC length of each algorithm we know (a truncated MAC keeps at least half of it and 10 octets: RFC 8945 5.2.2.1). */
export const TSIG_MAC_BYTES: Record<string, number> = { "hmac-sha256.": 32, "hmac-sha512.": 64 };

/**
 * The TSIG record at `start` (class ANY, RDATA exactly filled), or null when it is malformed:
 * the caller answers FORMERR (RFC 8945 5.2). A MAC longer than its algorithm gives, or shorter
 * than half of it or 10 octets, is malformed too (RFC 8945 5.2.2.1); an unknown algorithm is
 * left to the key check (BADKEY).
 */
function readTsig(buf: Buffer, start: number, rr: RecordHeader): TsigRecord | null {
  if (rr.cls !== CLASS_ANY) return null;
  const name = readName(buf, start);
  const algorithm = readName(buf, rr.rdata);
  if (!name || !algorithm || algorithm.end + 10 > rr.end) return null;
  let o = algorithm.end;
  const timeSigned = buf.readUInt16BE(o) * 2 ** 32 + buf.readUInt32BE(o + 2);
  const fudge = buf.readUInt16BE(o + 6);
  const macSize = buf.readUInt16BE(o + 8);
  o += 10;
  if (o + macSize + 6 > rr.end) return null;
  const mac = Buffer.from(buf.subarray(o, o + macSize));
  o += macSize;
  const originalId = buf.readUInt16BE(o);
  const error = buf.readUInt16BE(o + 2);
  const otherLength = buf.readUInt16BE(o + 4);
  o += 6;
  if (o + otherLength !== rr.end) return null;
  const full = TSIG_MAC_BYTES[algorithm.text];
  if (full !== undefined && macSize > 0 && (macSize > full || macSize < Math.max(10, full / 2))) return null;
  const otherData = Buffer.from(buf.subarray(o, rr.end));
  return { name: name.text, algorithm: algorithm.text, ttl: rr.ttl, timeSigned, fudge, mac, originalId, error, otherData, start };
}

/** The TSIG record ending any message (a response too), null when there is none, "malformed" when it cannot be read. */
export function findTsig(message: Buffer): TsigRecord | null | "malformed" {
  if (message.length < HEADER_BYTES) return "malformed";
  const [qdcount, ancount, nscount, arcount] = [4, 6, 8, 10].map((o) => message.readUInt16BE(o));
  let offset = HEADER_BYTES;
  for (let i = 0; i < qdcount; i++) {
    offset = skipName(message, offset);
    if (offset < 0 || offset + 4 > message.length) return "malformed";
    offset += 4;
  }
  const records = ancount + nscount + arcount;
  for (let i = 0; i < records; i++) {
    const start = offset;
    const rr = readRecordHeader(message, offset);
    if (!rr) return "malformed";
    offset = rr.end;
    if (rr.type !== TYPE_TSIG) continue;
    if (i !== records - 1 || arcount === 0) return "malformed";
    return readTsig(message, start, rr) ?? "malformed";
  }
  return null;
}

/** Where the last `bytes` octets of each RRSIG's RDATA (its signature) start in a message we encoded, in the order the records appear. */
export function rrsigSignatureOffsets(message: Buffer, bytes: number): number[] {
  const [qdcount, ancount, nscount, arcount] = [4, 6, 8, 10].map((o) => message.readUInt16BE(o));
  let offset = HEADER_BYTES;
  for (let i = 0; i < qdcount; i++) offset = skipName(message, offset) + 4;
  const offsets: number[] = [];
  for (let i = 0; i < ancount + nscount + arcount; i++) {
    const rr = readRecordHeader(message, offset);
    if (!rr) break;
    if (rr.type === TYPE.RRSIG) offsets.push(rr.end - bytes);
    offset = rr.end;
  }
  return offsets;
}

/**
 * A name anywhere in a message (compression followed, at most 255 octets and as many jumps as
 * labels) as ASCII-lower-case text with its trailing dot, and the offset just past it where it
 * starts. null when malformed, or when a label holds a dot (its text form would be ambiguous).
 */
function readName(buf: Buffer, offset: number): { text: string; end: number } | null {
  const labels: string[] = [];
  let end = -1;
  let octets = 1;
  for (let jumps = 0; offset < buf.length; ) {
    const length = buf[offset];
    if (length === 0) {
      const text = labels.length ? `${labels.join(".")}.` : ".";
      return { text, end: end < 0 ? offset + 1 : end };
    }
    if ((length & 0xc0) === 0xc0) {
      if (offset + 2 > buf.length || ++jumps > 127) return null;
      if (end < 0) end = offset + 2;
      offset = ((length & 0x3f) << 8) | buf[offset + 1];
      continue;
    }
    if (length > 63) return null;
    octets += length + 1;
    if (octets > MAX_NAME_OCTETS || offset + 1 + length > buf.length) return null;
    const label = buf.toString("latin1", offset + 1, offset + 1 + length);
    if (label.includes(".")) return null;
    labels.push(asciiLowerCase(label));
    offset += 1 + length;
  }
  return null;
}

/** An OPT's class is the requestor's payload size; its TTL holds the extended rcode, version and DO bit. */
function ednsFields(cls: number, ttl: number): Edns {
  return { payload: cls, version: (ttl >>> 16) & 0xff, dnssecOk: (ttl & 0x8000) !== 0 };
}

/**
 * The OPT of a query that is answered with an error, found by walking every section without
 * judging its content. null when there is none, or when the query is too broken for its OPT to
 * be read: a section runs past the end, or there is more than one OPT, or one outside the
 * additional section or not owned by the root (BIND leaves the OPT out of those FORMERRs too).
 * Malformed options still count as read: the fields the reply echoes come before them.
 */
function ednsOfRejectedQuery(buf: Buffer, qdcount: number, answerAndAuthority: number, arcount: number): Edns | null {
  let offset = HEADER_BYTES;
  for (let i = 0; i < qdcount; i++) {
    offset = skipName(buf, offset);
    if (offset < 0 || offset + 4 > buf.length) return null;
    offset += 4;
  }
  let edns: Edns | null = null;
  for (let i = 0; i < answerAndAuthority + arcount; i++) {
    const start = offset;
    offset = skipName(buf, offset);
    if (offset < 0 || offset + 10 > buf.length) return null;
    const type = buf.readUInt16BE(offset);
    const cls = buf.readUInt16BE(offset + 2);
    const ttl = buf.readUInt32BE(offset + 4);
    offset += 10 + buf.readUInt16BE(offset + 8);
    if (offset > buf.length) return null;
    if (type !== TYPE_OPT) continue;
    if (edns || i < answerAndAuthority || buf[start] !== 0) return null;
    edns = ednsFields(cls, ttl);
  }
  return edns;
}

/**
 * The question's name as text (octets as latin1, labels joined by dots), or null when it is
 * malformed. Compression cannot point anywhere useful this early in a message, so it is refused,
 * and so is a label holding a dot, which its text form could not tell apart from two labels.
 */
function readQuestionName(buf: Buffer, offset: number): { text: string; end: number } | null {
  const labels: string[] = [];
  let octets = 1;
  while (true) {
    if (offset >= buf.length) return null;
    const length = buf[offset];
    if (length === 0) return { text: labels.join("."), end: offset + 1 };
    if (length > 63) return null;
    octets += length + 1;
    if (octets > MAX_NAME_OCTETS || offset + 1 + length > buf.length) return null;
    const label = buf.toString("latin1", offset + 1, offset + 1 + length);
    if (label.includes(".")) return null;
    labels.push(label);
    offset += 1 + length;
  }
}

/** The offset just past a (possibly compressed) name, or -1. */
function skipName(buf: Buffer, offset: number): number {
  for (let octets = 1; offset < buf.length; ) {
    const length = buf[offset];
    if (length === 0) return offset + 1;
    if ((length & 0xc0) === 0xc0) return offset + 2 <= buf.length ? offset + 2 : -1;
    if (length > 63) return -1;
    octets += length + 1;
    if (octets > MAX_NAME_OCTETS) return -1;
    offset += 1 + length;
  }
  return -1;
}

function optionsWellFormed(buf: Buffer, offset: number, end: number): boolean {
  while (offset < end) {
    if (offset + 4 > end) return false;
    offset += 4 + buf.readUInt16BE(offset + 2);
  }
  return offset === end;
}

export interface Response {
  id: number;
  opcode: number;
  rd: boolean;
  cd: boolean;
  rcode: number;
  aa: boolean;
  question?: Question;
  edns: Edns | null;
  answers: ResourceRecord[];
  authority: ResourceRecord[];
  additional: ResourceRecord[];
}

/** Our advertised EDNS payload size (DNS flag day 2020), also the most we send over UDP. */
export const EDNS_PAYLOAD = 1232;

/** An answer's OPT TTL (RFC 6891): the high 8 bits of a 12-bit rcode, and the DO bit echoed. */
export function optTtl(rcode: number, dnssecOk: boolean): number {
  return ((((rcode >> 4) & 0xff) << 24) | (dnssecOk ? 0x8000 : 0)) >>> 0;
}

/**
 * Writes an answer's OPT record (root owner, EDNS_PAYLOAD, optTtl, no options) at `at`;
 * returns the offset after it. The caller counts it in ARCOUNT.
 */
export function writeOpt(buf: Buffer, at: number, rcode: number, dnssecOk: boolean): number {
  buf[at] = 0;
  buf.writeUInt16BE(TYPE_OPT, at + 1);
  buf.writeUInt16BE(EDNS_PAYLOAD, at + 3);
  buf.writeUInt32BE(optTtl(rcode, dnssecOk), at + 5);
  buf.writeUInt16BE(0, at + 9);
  return at + OPT_OCTETS;
}

/** octets of an OPT record without options */
export const OPT_OCTETS = 11;
const PLAIN_UDP_LIMIT = 512;
export const TCP_LIMIT = 65535;

/** The most a UDP response to this query may hold. */
export function udpLimit(edns: Edns | null): number {
  return edns ? Math.max(PLAIN_UDP_LIMIT, Math.min(edns.payload, EDNS_PAYLOAD)) : PLAIN_UDP_LIMIT;
}

/**
 * Encodes a response within `limit` bytes: the additional section goes first, then the
 * answers and authority, with TC set so the client retries over TCP. Throws when a record
 * cannot be encoded (the caller answers SERVFAIL).
 */
export function encodeResponse(response: Response, limit: number, newWriter: () => PacketWriter = () => new ByteWriter()): Buffer {
  let wire = encodePacket(newWriter(), response, response.answers, response.authority, response.additional, false);
  if (wire.length <= limit) return wire;
  wire = encodePacket(newWriter(), response, response.answers, response.authority, [], false);
  if (wire.length <= limit) return wire;
  return encodePacket(newWriter(), response, [], [], [], true);
}

/** What dns2's encoders write to: its own Packet.Writer (the reference, in tests) or a ByteWriter. */
export type PacketWriter = Pick<ByteWriter, "write" | "patch" | "bitLength" | "byteLength" | "toBuffer">;

function encodePacket(
  writer: PacketWriter,
  r: Response,
  answers: ResourceRecord[],
  authority: ResourceRecord[],
  additional: ResourceRecord[],
  tc: boolean,
): Buffer {
  const packet = new Packet();
  packet.header = new Packet.Header({
    id: r.id,
    qr: 1,
    opcode: r.opcode,
    aa: r.aa ? 1 : 0,
    tc: tc ? 1 : 0,
    rd: r.rd ? 1 : 0,
    ra: 0,
    z: 0,
    ad: 0,
    cd: r.cd ? 1 : 0,
    rcode: r.rcode & 0xf,
  } as never);
  packet.questions = r.question ? [{ name: r.question.name, type: r.question.type, class: r.question.class } as never] : [];
  packet.answers = answers.map(toDns2) as never;
  packet.authorities = authority.map(toDns2) as never;
  packet.additionals = additional.map(toDns2) as never;
  if (r.edns) packet.additionals.push({ name: "", type: TYPE_OPT, class: EDNS_PAYLOAD, ttl: optTtl(r.rcode, r.edns.dnssecOk), rdata: [] } as never);
  return (packet as unknown as { toBuffer(writer: PacketWriter): Buffer }).toBuffer(writer);
}

/** dns2's record shape; addresses in the forms its writers handle correctly. */
function toDns2(rr: ResourceRecord): Record<string, unknown> {
  const base = { name: rr.name, type: TYPE[rr.type], class: CLASS_IN, ttl: rr.ttl };
  switch (rr.type) {
    case "A":
      if (isIP(rr.address) !== 4) throw new Error(`not an IPv4 address: ${rr.address}`);
      return { ...base, address: rr.address };
    case "AAAA":
      return {
        ...base,
        address: ipv6Groups(rr.address)
          .map((g) => g.toString(16))
          .join(":"),
      };
    case "NS":
      return { ...base, ns: rr.target };
    case "CNAME":
      return { ...base, domain: rr.target };
    case "SOA":
      return {
        ...base,
        primary: rr.mname,
        admin: rr.rname,
        serial: rr.serial,
        refresh: rr.refresh,
        retry: rr.retry,
        expiration: rr.expire,
        minimum: rr.minimum,
      };
    case "MX":
      return { ...base, priority: rr.priority, exchange: rr.exchange };
    case "TXT":
      return { ...base, data: characterStrings(rr.text) };
    case "CAA":
      return { ...base, flags: rr.flags, tag: rr.tag, value: rr.value };
    case "HINFO":
      // dns2 has no HINFO writer: it writes `data` as the RDATA, two <character-string>s.
      return { ...base, data: Buffer.concat([rr.cpu, rr.os].map((text) => Buffer.concat([Buffer.from([Buffer.byteLength(text)]), Buffer.from(text)]))) };
    case "DNSKEY":
      // dns2's DNSKEY writer takes the key in base64
      return { ...base, flags: rr.flags, protocol: rr.protocol, algorithm: rr.algorithm, key: Buffer.from(rr.key).toString("base64") };
    case "RRSIG":
    case "NSEC":
    case "DS":
      // dns2 has no writer for these: it writes `data` as the RDATA.
      return { ...base, data: dnssecRdata(rr) };
  }
}

/** The pseudo-type compact denial lists in an NSEC for a name that does not exist (RFC 9824). */
export const TYPE_NXNAME = 128;

/**
 * The RDATA of a DNSSEC record (RFC 4034 2-5), names uncompressed as the RFC requires, written
 * as they are (case kept). `lowerSigner`: the RRSIG signer's name lower-cased (the canonical
 * form, RFC 4034 6.2, that a signature covers).
 */
export function dnssecRdata(rr: Extract<ResourceRecord, { type: "DNSKEY" | "RRSIG" | "NSEC" | "DS" }>, lowerSigner = false): Buffer {
  switch (rr.type) {
    case "DNSKEY":
      return shortTwoOctetsThen(rr.flags, rr.protocol, rr.algorithm, rr.key);
    case "RRSIG": {
      const signer = uncompressedName(lowerSigner ? asciiLowerCase(rr.signer) : rr.signer);
      const out = Buffer.allocUnsafe(18 + signer.length + rr.signature.length);
      out.writeUInt16BE(rr.covered, 0);
      out[2] = rr.algorithm;
      out[3] = rr.labels;
      out.writeUInt32BE(rr.originalTtl >>> 0, 4);
      out.writeUInt32BE(rr.expiration >>> 0, 8);
      out.writeUInt32BE(rr.inception >>> 0, 12);
      out.writeUInt16BE(rr.keyTag, 16);
      out.set(signer, 18);
      out.set(rr.signature, 18 + signer.length);
      return out;
    }
    case "NSEC":
      return Buffer.concat([uncompressedName(rr.next), typeBitmap(rr.types)]);
    case "DS":
      return shortTwoOctetsThen(rr.keyTag, rr.algorithm, rr.digestType, rr.digest);
  }
}

/** A 16-bit number, two octets, then `rest`: how DNSKEY (flags, protocol, algorithm, key) and DS (key tag, algorithm, digest type, digest) lay out. */
function shortTwoOctetsThen(short: number, first: number, second: number, rest: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + rest.length);
  out.writeUInt16BE(short, 0);
  out[2] = first;
  out[3] = second;
  out.set(rest, 4);
  return out;
}

/** A name in wire form without compression: dotted text (no trailing dot, "" the root), labels as latin1 octets. */
export function uncompressedName(text: string): Buffer {
  const labels = text === "" ? [] : text.split(".");
  const out = Buffer.allocUnsafe(labels.reduce((n, l) => n + l.length + 1, 1));
  let o = 0;
  for (const label of labels) {
    if (label.length === 0 || label.length > 63) throw new Error(`not a DNS label: ${JSON.stringify(label)}`);
    out[o++] = label.length;
    o += out.write(label, o, "latin1");
  }
  out[o++] = 0;
  if (o > MAX_NAME_OCTETS) throw new Error(`name longer than ${MAX_NAME_OCTETS} octets: ${text}`);
  return out;
}

/** The NSEC type bit maps (RFC 4034 4.1.2): per 256-type window in use, its number, length and bits. */
export function typeBitmap(types: readonly number[]): Buffer {
  const windows = new Map<number, Uint8Array>();
  for (const type of types) {
    const window = type >> 8;
    let bits = windows.get(window);
    if (!bits) {
      bits = new Uint8Array(32);
      windows.set(window, bits);
    }
    bits[(type & 0xff) >> 3] |= 0x80 >> (type & 7);
  }
  const parts: Uint8Array[] = [];
  for (const window of [...windows.keys()].sort((a, b) => a - b)) {
    const bits = windows.get(window)!;
    let length = 32;
    while (bits[length - 1] === 0) length--;
    parts.push(Uint8Array.of(window, length), bits.subarray(0, length));
  }
  return Buffer.concat(parts);
}

/** TXT text as <character-string>s of at most 255 octets each (RFC 1035 3.3.14). */
export function characterStrings(text: string): Buffer[] {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length === 0) return [bytes];
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 255) out.push(bytes.subarray(i, i + 255));
  return out;
}

/**
 * A query message for `name` (dotted text, labels as latin1 octets) and a numeric type, class
 * IN: the start-up warm-up and the load generators in bench/ write their questions with it.
 * `flags` is the header's second word (e.g. 0x0100 for RD); `ednsPayload` adds an OPT.
 */
export function encodeQuestion(id: number, name: string, type: number, options: { flags?: number; ednsPayload?: number } = {}): Buffer {
  const qname = uncompressedName(name.split(".").filter(Boolean).join("."));
  const { flags = 0, ednsPayload = 0 } = options;
  const query = Buffer.alloc(HEADER_BYTES + qname.length + 4 + (ednsPayload ? 11 : 0));
  query.writeUInt16BE(id & 0xffff, 0);
  query.writeUInt16BE(flags, 2);
  query.writeUInt16BE(1, 4);
  query.set(qname, HEADER_BYTES);
  let o = HEADER_BYTES + qname.length;
  query.writeUInt16BE(type, o);
  query.writeUInt16BE(1, o + 2);
  if (ednsPayload) {
    query.writeUInt16BE(1, 10); // ARCOUNT
    o += 4;
    query[o] = 0; // root owner
    query.writeUInt16BE(TYPE_OPT, o + 1);
    query.writeUInt16BE(ednsPayload, o + 3);
  }
  return query;
}
