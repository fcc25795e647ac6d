// A transfer message writer: records straight into one buffer, names compressed against every
// name already in the message (RFC 1035 4.1.4). Transfers write hundreds of thousands of
// records; dns2's Packet, which answers single queries (wire.ts), builds an object per record
// and field and took 2.2 s for the 200,000 records of a 100,000-name zone, this ~0.2 s. Checked
// against dns2's encoding record by record (test/dns/message-writer.test.ts).
import { dottedQuadInto, ipv6Groups } from "../addresses.ts";
import { characterStrings, dnssecRdata, writeOpt, type Edns } from "./wire.ts";
import { CLASS_IN, TYPE, type Question, type ResourceRecord } from "./zone.ts";

const MAX_POINTER = 0x3fff;

export interface MessageHeader {
  id: number;
  aa: boolean;
  rcode: number;
  /** the first message of a transfer carries the question, later ones none (RFC 5936 2.2.1) */
  question?: Question;
  /** an OPT record goes last when the query had one */
  edns: Edns | null;
}

/** Writes one message; `toBuffer()` gives its bytes. At most 65,535 bytes: the caller keeps well below. */
export class MessageWriter {
  private readonly buf = Buffer.allocUnsafe(65_535);
  private offset = 12;
  private answers = 0;
  /** lower-case name (suffix) -> where it was written */
  private readonly names = new Map<string, number>();
  /** where ownerName wrote a name that no record owns yet: the next record's owner */
  private unowned = -1;
  /** an A record's octets, read from its text */
  private readonly octets = new Uint8Array(4);

  constructor(private readonly header: MessageHeader) {
    if (header.question) {
      this.name(header.question.name);
      this.u16(header.question.type);
      this.u16(header.question.class);
    }
  }

  get length(): number {
    return this.offset;
  }

  /** Appends an answer record; throws on data it cannot write (an address that is not one). */
  record(rr: ResourceRecord): void {
    this.name(rr.name);
    this.rest(rr);
  }

  /** An answer record owned by the name written at `owner` (ownerName); `rr.name` is not read. */
  recordOwnedAt(owner: number, rr: ResourceRecord): void {
    this.owner(owner);
    this.rest(rr);
  }

  /** The name at `owner`: right here when ownerName just wrote it, else a pointer to it. */
  private owner(at: number): void {
    if (at === this.unowned) this.unowned = -1;
    else this.u16(0xc000 | at);
  }

  private typeClassTtl(type: number, ttl: number): void {
    this.u16(type);
    this.u16(CLASS_IN);
    this.u32(ttl);
  }

  /** Type, class, TTL, data length and data. */
  private rest(rr: ResourceRecord): void {
    this.typeClassTtl(TYPE[rr.type], rr.ttl);
    const lengthAt = this.offset;
    this.offset += 2;
    switch (rr.type) {
      case "A":
        if (!dottedQuadInto(rr.address, this.octets)) throw new Error(`not an IPv4 address: ${rr.address}`);
        this.bytes(this.octets);
        break;
      case "AAAA":
        for (const group of ipv6Groups(rr.address)) this.u16(group);
        break;
      case "NS":
      case "CNAME":
        this.name(rr.target);
        break;
      case "SOA":
        this.name(rr.mname);
        this.name(rr.rname);
        for (const value of [rr.serial, rr.refresh, rr.retry, rr.expire, rr.minimum]) this.u32(value);
        break;
      case "MX":
        this.u16(rr.priority);
        this.name(rr.exchange);
        break;
      case "TXT": {
        // mostly one <character-string> (a challenge: 43 octets), written in place
        const written = this.buf.write(rr.text, this.offset + 1, "utf8");
        if (written <= 255 && written === Buffer.byteLength(rr.text)) {
          this.buf[this.offset] = written;
          this.offset += 1 + written;
        } else for (const part of characterStrings(rr.text)) this.characterString(part);
        break;
      }
      case "CAA":
        this.buf[this.offset++] = rr.flags;
        this.characterString(Buffer.from(rr.tag));
        this.bytes(Buffer.from(rr.value));
        break;
      case "HINFO":
        this.characterString(Buffer.from(rr.cpu));
        this.characterString(Buffer.from(rr.os));
        break;
      case "DNSKEY":
      case "RRSIG":
      case "NSEC":
      case "DS":
        this.bytes(dnssecRdata(rr));
        break;
    }
    this.buf.writeUInt16BE(this.offset - lengthAt - 2, lengthAt);
    this.answers++;
  }

  /** answer records written so far */
  get records(): number {
    return this.answers;
  }

  /**
   * Writes the owner name `<label>.<suffix>` of the next record, for the records after it to
   * point at (recordAt, addressAt, recordOwnedAt; the next one must follow): the label,
   * then a pointer to `suffix` (lower-case, no trailing dot) when the message holds it, else
   * the suffix in full; a number is where this message holds the suffix (an earlier
   * ownerName). Returns where the name starts, or -1 (nothing written) when a pointer could
   * not reach it or the label is not one: the caller writes those records with record().
   */
  ownerName(label: string, suffix: string | number): number {
    const at = this.offset;
    if (at > MAX_POINTER || label.length === 0 || label.length > 63) return -1;
    for (let i = 0; i < label.length; i++) if (label.charCodeAt(i) > 0xff || label.charCodeAt(i) === 0x2e) return -1;
    this.buf[this.offset] = label.length;
    this.buf.write(label, this.offset + 1, "latin1");
    this.offset += 1 + label.length;
    const suffixAt = typeof suffix === "number" ? suffix : this.names.get(suffix);
    if (suffixAt !== undefined) this.u16(0xc000 | suffixAt);
    else this.name(suffix as string);
    this.unowned = at;
    return at;
  }

  /** A record owned by the name written at `owner` (ownerName): a pointer to it, then `tail` (recordTail). */
  recordAt(owner: number, tail: Uint8Array): void {
    this.owner(owner);
    this.bytes(tail);
    this.answers++;
  }

  /** An A (4 octets) or AAAA (16) record owned by the name at `owner`. */
  addressAt(owner: number, ttl: number, address: Uint8Array): void {
    this.owner(owner);
    this.typeClassTtl(address.length === 4 ? TYPE.A : TYPE.AAAA, ttl);
    this.u16(address.length);
    this.bytes(address);
    this.answers++;
  }

  /**
   * A record's octets after its owner name (type, class, TTL, data length, data), with the
   * names in its data written in full: copied after a pointer by recordAt.
   */
  static recordTail(rr: ResourceRecord): Buffer {
    const writer = new MessageWriter({ id: 0, aa: false, rcode: 0, edns: null });
    writer.record({ ...rr, name: "" }); // the root: one zero octet after the header
    return Buffer.from(writer.buf.subarray(13, writer.offset));
  }

  toBuffer(): Buffer {
    const { header } = this;
    let additional = 0;
    if (header.edns) {
      this.offset = writeOpt(this.buf, this.offset, header.rcode, header.edns.dnssecOk);
      additional = 1;
    }
    const b = this.buf;
    b.writeUInt16BE(header.id, 0);
    b[2] = 0x80 | (header.aa ? 0x04 : 0); // QR, opcode QUERY, AA
    b[3] = header.rcode & 0x0f;
    b.writeUInt16BE(header.question ? 1 : 0, 4);
    b.writeUInt16BE(this.answers, 6);
    b.writeUInt16BE(0, 8);
    b.writeUInt16BE(additional, 10);
    return Buffer.from(b.subarray(0, this.offset));
  }

  /** A name (dotted text, no trailing dot; "" the root), pointing at its longest suffix written before. */
  private name(text: string): void {
    const { buf } = this;
    const lower = text.toLowerCase();
    for (let start = 0; start < text.length; ) {
      const key = start === 0 ? lower : lower.slice(start);
      const at = this.names.get(key);
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.offset <= MAX_POINTER) this.names.set(key, this.offset);
      let end = text.indexOf(".", start);
      if (end < 0) end = text.length;
      const length = end - start;
      if (length === 0 || length > 63) throw new Error(`not a DNS label: ${JSON.stringify(text.slice(start, end))}`);
      buf[this.offset] = length;
      // labels are octets written as latin1 text (wire.ts reads them so)
      for (let i = 0; i < length; i++) {
        const octet = text.charCodeAt(start + i);
        if (octet > 0xff) throw new Error(`not a DNS label: ${JSON.stringify(text.slice(start, end))}`);
        buf[this.offset + 1 + i] = octet;
      }
      this.offset += 1 + length;
      start = end + 1;
    }
    buf[this.offset++] = 0;
  }

  private characterString(bytes: Uint8Array): void {
    this.buf[this.offset++] = bytes.length;
    this.bytes(bytes);
  }

  private bytes(bytes: Uint8Array): void {
    this.buf.set(bytes, this.offset);
    this.offset += bytes.length;
  }

  private u16(value: number): void {
    this.buf.writeUInt16BE(value, this.offset);
    this.offset += 2;
  }

  private u32(value: number): void {
    this.buf.writeUInt32BE(value >>> 0, this.offset);
    this.offset += 4;
  }
}
