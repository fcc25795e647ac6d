// Response-rate limiting for UDP answers (docs/operations.md), in the manner of NSD's and Knot's RRL:
// a spoofed source can borrow the server to flood a third party, so answers to one client prefix
// (IPv4 /24, IPv6 /56) of one answer class are capped at `rate` a second; past that, every
// `slip`-th answer goes out truncated (TC: a real resolver retries over TCP, which cannot be
// spoofed) and the others are dropped. TCP is never limited.
//
// Answer classes, as NSD classifies them: a positive answer per question name and type (ANY
// apart), NXDOMAIN, NODATA and errors each per zone (this server has one zone, so per prefix).
// Positive answers that exist for any name, as a wildcard's do (NSD counts those per wildcard),
// are one class each, whatever the name: PageKite's under `synthesizedUnder`, and answers to
// NSEC and RRSIG questions (with DNSSEC, compact denial gives every name an NSEC). Else a flood
// of made-up names, each a new key, would never be limited.
// The class is read from the encoded reply, so answers from the answer cache count the same.
//
// Memory is a fixed table of token buckets found by a seeded hash of prefix and class (as NSD's
// is): a bucket taken by another key starts afresh, which only ever lets an answer through.
// The hot path is one hash over the prefix and the question name and a few typed-array accesses.
import { ipv6GroupsInto } from "../addresses.ts";
import type { RrlSettings } from "../config.ts";

export const VERDICT = { send: 0, truncate: 1, drop: 2 } as const;
export type Verdict = (typeof VERDICT)[keyof typeof VERDICT];

const TABLE_BITS = 16; // 65,536 buckets, 1.5 MB
const RCODE_NXDOMAIN = 3;
const TYPE_ANY = 255;
const TYPE_RRSIG = 46;
const TYPE_NSEC = 47;
const HEADER_BYTES = 12;
const CLASS = { nxdomain: 1, error: 2, nodata: 3, positive: 4, any: 5, synthesized: 6, dnssec: 7 } as const;

export class ResponseRateLimiter {
  private readonly mask: number;
  /** per bucket: the key's hash (0 = empty), tokens left, when they were counted, answers limited */
  private readonly keys: Uint32Array;
  private readonly tokens: Float64Array;
  private readonly stamps: Float64Array;
  private readonly limited: Uint32Array;
  private readonly groups = new Uint16Array(8);
  /** a per-process seed, so nobody can aim a flood of keys at one bucket */
  private readonly seed = (Math.random() * 0x100000000) >>> 0;

  /** the names below which answers are made up per name, in wire form, lower case, without the root label */
  private readonly synthesized: Uint8Array;

  constructor(
    private readonly settings: RrlSettings,
    tableBits = TABLE_BITS,
    /** a name (dotted) whose every subdomain gets a positive answer: PageKite's `<domain>.<domain>` */
    synthesizedUnder = "",
  ) {
    const labels = synthesizedUnder.toLowerCase().split(".").filter(Boolean);
    this.synthesized = Buffer.concat(labels.map((label) => Buffer.concat([Uint8Array.of(label.length), Buffer.from(label, "latin1")])));
    const size = 1 << tableBits;
    this.mask = size - 1;
    this.keys = new Uint32Array(size);
    this.tokens = new Float64Array(size);
    this.stamps = new Float64Array(size);
    this.limited = new Uint32Array(size);
  }

  /** What to do with this UDP reply to this client address at `nowMs`. */
  verdict(reply: Uint8Array, address: string, nowMs: number): Verdict {
    const { rate, slip } = this.settings;
    if (rate <= 0 || reply.length < HEADER_BYTES) return VERDICT.send;
    const key = this.keyOf(reply, address) || 1;
    const b = key & this.mask;
    if (this.keys[b] !== key) {
      this.keys[b] = key;
      this.tokens[b] = rate - 1;
      this.stamps[b] = nowMs;
      this.limited[b] = 0;
      return VERDICT.send;
    }
    // Token bucket: `rate` a second, holding at most one second's worth.
    const elapsed = nowMs - this.stamps[b];
    this.stamps[b] = nowMs;
    const tokens = elapsed > 0 ? Math.min(rate, this.tokens[b] + (elapsed * rate) / 1000) : this.tokens[b];
    if (tokens >= 1) {
      this.tokens[b] = tokens - 1;
      return VERDICT.send;
    }
    this.tokens[b] = tokens;
    this.limited[b] = (this.limited[b] + 1) >>> 0;
    const n = this.limited[b];
    return slip > 0 && n % slip === 0 ? VERDICT.truncate : VERDICT.drop;
  }

  /** FNV-1a over the client prefix, the answer class and, for a positive answer, the question. */
  private keyOf(reply: Uint8Array, address: string): number {
    let h = this.hashPrefix(this.seed ^ 0x811c9dc5, address);
    const rcode = reply[3] & 0x0f;
    const answers = (reply[6] << 8) | reply[7];
    const questions = (reply[4] << 8) | reply[5];
    let cls: number = rcode === RCODE_NXDOMAIN ? CLASS.nxdomain : rcode !== 0 ? CLASS.error : answers === 0 || questions === 0 ? CLASS.nodata : CLASS.positive;
    if (cls === CLASS.positive) {
      // The question as echoed, walked once: labels up to the root, case folded, then its type.
      let named = h;
      let i = HEADER_BYTES;
      while (i < reply.length) {
        const length = reply[i];
        if (length === 0 || length > 63) break;
        named = Math.imul(named ^ length, 0x01000193);
        for (let end = Math.min(i + 1 + length, reply.length), j = i + 1; j < end; j++) {
          const c = reply[j];
          named = Math.imul(named ^ (c >= 65 && c <= 90 ? c + 32 : c), 0x01000193);
        }
        i += 1 + length;
      }
      const type = i + 2 < reply.length ? (reply[i + 1] << 8) | reply[i + 2] : 0;
      // Answers every name gets are one class, whatever the name; the others are keyed by it.
      if (type === TYPE_NSEC || type === TYPE_RRSIG) cls = CLASS.dnssec;
      else if (this.synthesizedName(reply, i)) cls = CLASS.synthesized;
      else {
        if (type === TYPE_ANY) cls = CLASS.any;
        h = Math.imul(named ^ (type >> 8), 0x01000193);
        h = Math.imul(h ^ (type & 0xff), 0x01000193);
      }
    }
    return Math.imul(h ^ cls, 0x01000193) >>> 0;
  }

  /** Whether the question name, ending at `end`, lies below `synthesizedUnder` (case folded, at a label). */
  private synthesizedName(reply: Uint8Array, end: number): boolean {
    const suffix = this.synthesized;
    const at = end - suffix.length;
    if (suffix.length === 0 || at <= HEADER_BYTES || end > reply.length) return false;
    for (let j = 0; j < suffix.length; j++) {
      const c = reply[at + j];
      if ((c >= 65 && c <= 90 ? c + 32 : c) !== suffix[j]) return false;
    }
    let label = HEADER_BYTES; // the suffix must start at a label
    while (label < at) label += 1 + reply[label];
    return label === at;
  }

  /** The hash continued over the client's /24 (IPv4) or /56 (IPv6), from its text form. */
  private hashPrefix(h: number, address: string): number {
    const dotted = address.indexOf(".");
    if (dotted >= 0) {
      // IPv4, or IPv4-mapped IPv6 (::ffff:a.b.c.d): the first three octets.
      let i = address.lastIndexOf(":", dotted) + 1;
      h = Math.imul(h ^ 4, 0x01000193);
      for (let dots = 0; i < address.length; i++) {
        const c = address.charCodeAt(i);
        if (c === 46 && ++dots === 3) break;
        h = Math.imul(h ^ c, 0x01000193);
      }
      return h;
    }
    const g = this.groups;
    ipv6GroupsInto(address, g);
    h = Math.imul(h ^ 6, 0x01000193);
    for (let i = 0; i < 3; i++) {
      h = Math.imul(h ^ (g[i] >> 8), 0x01000193);
      h = Math.imul(h ^ (g[i] & 0xff), 0x01000193);
    }
    return Math.imul(h ^ (g[3] >> 8), 0x01000193);
  }
}

/**
 * The reply cut to its header and question, TC set and the other sections empty (what NSD and
 * Knot send for a "slipped" answer). Changes the reply's bytes in place.
 */
export function truncatedReply(reply: Buffer): Buffer {
  let end = HEADER_BYTES;
  if (((reply[4] << 8) | reply[5]) > 0) {
    while (end < reply.length && reply[end] !== 0) end += 1 + reply[end];
    end = Math.min(end + 5, reply.length); // the root label, type and class
  } else end = Math.min(end, reply.length);
  reply[2] |= 0x02; // TC
  reply.fill(0, 6, 12); // no answer, authority or additional records
  if (((reply[4] << 8) | reply[5]) > 1) reply.writeUInt16BE(1, 4);
  return reply.subarray(0, end);
}
