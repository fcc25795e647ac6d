// TSIG (RFC 8945, hmac-sha256 and hmac-sha512): verifying signed requests, signing the
// responses (every message of a multi-message transfer), the NOTAUTH replies to bad ones, and
// signing our own NOTIFYs and checking their replies. Pure functions of bytes, keys and a clock.
import { createHmac, timingSafeEqual } from "node:crypto";
import type { TsigKey } from "../config.ts";
import { asciiLowerCase } from "../names.ts";
import { encodeResponse, findTsig, TCP_LIMIT, TSIG_MAC_BYTES, type Query, type TsigRecord } from "./wire.ts";
import { CLASS_ANY } from "./zone.ts";

export const TSIG_ERROR = { BADSIG: 16, BADKEY: 17, BADTIME: 18, BADTRUNC: 22 } as const;
export type TsigError = (typeof TSIG_ERROR)[keyof typeof TSIG_ERROR];
export const TSIG_ERROR_NAMES: Record<number, string> = { 16: "BADSIG", 17: "BADKEY", 18: "BADTIME", 22: "BADTRUNC" };
export const RCODE_NOTAUTH = 9;
/** Seconds the time signed may be off either way (RFC 8945 10 recommends 300, as BIND, NSD and Knot use). */
export const TSIG_FUDGE = 300;

const TYPE_TSIG = 250;
const HASH: Record<TsigKey["algorithm"], string> = { "hmac-sha256": "sha256", "hmac-sha512": "sha512" };
const EMPTY = Buffer.alloc(0);

/** A name in canonical wire form (RFC 4034 6.2: uncompressed, ASCII lower case); `text` ends with a dot. */
function nameWire(text: string): Buffer {
  const labels = text.split(".").filter(Boolean);
  const out = Buffer.alloc(labels.reduce((n, l) => n + 1 + Buffer.byteLength(l, "latin1"), 1));
  let o = 0;
  for (const label of labels) {
    out[o++] = Buffer.byteLength(label, "latin1");
    o += out.write(asciiLowerCase(label), o, "latin1");
  }
  return out;
}

const u16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
function u48(n: number): Buffer {
  const out = Buffer.alloc(6);
  out.writeUInt16BE(Math.floor(n / 2 ** 32) & 0xffff, 0);
  out.writeUInt32BE(n % 2 ** 32, 2);
  return out;
}

/** The TSIG variables (RFC 8945 4.3.3): what the first (or only) message's digest covers after the message. */
function variables(name: string, algorithm: string, ttl: number, timeSigned: number, fudge: number, error: number, other: Buffer): Buffer {
  const classTtl = Buffer.alloc(6);
  classTtl.writeUInt16BE(CLASS_ANY, 0);
  classTtl.writeUInt32BE(ttl, 2);
  return Buffer.concat([nameWire(name), classTtl, nameWire(algorithm), u48(timeSigned), u16(fudge), u16(error), u16(other.length), other]);
}

/** The TSIG timers (RFC 8945 4.3.1): all that a later message of a transfer digests of its TSIG. */
const timers = (timeSigned: number, fudge: number): Buffer => Buffer.concat([u48(timeSigned), u16(fudge)]);

/** A MAC as a later digest takes it in: its 2-octet length, then the MAC. */
const macWithLength = (mac: Buffer): Buffer => Buffer.concat([u16(mac.length), mac]);

function hmac(key: TsigKey, parts: Buffer[]): Buffer {
  const h = createHmac(HASH[key.algorithm], Buffer.from(key.secret, "base64"));
  for (const part of parts) h.update(part);
  return h.digest();
}

/** A received message as its signer digested it: its original ID, ARCOUNT less one, without the TSIG (RFC 8945 4.3.2). */
function withoutTsig(message: Buffer, tsig: TsigRecord): Buffer {
  const out = Buffer.from(message.subarray(0, tsig.start));
  out.writeUInt16BE(tsig.originalId, 0);
  out.writeUInt16BE(out.readUInt16BE(10) - 1, 10);
  return out;
}

/** `mac` starts the one we computed (a truncated MAC compares its length: RFC 8945 5.2.2.1). */
function macMatches(mac: Buffer, computed: Buffer): boolean {
  return mac.length > 0 && mac.length <= computed.length && timingSafeEqual(mac, computed.subarray(0, mac.length));
}

interface TsigFields {
  name: string;
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
}

/** `message` with a TSIG record appended (owner uncompressed, as BIND writes it) and ARCOUNT one more. */
function appendTsig(message: Buffer, f: TsigFields): Buffer {
  const owner = nameWire(f.name);
  const rdata = Buffer.concat([
    nameWire(f.algorithm),
    u48(f.timeSigned),
    u16(f.fudge),
    macWithLength(f.mac),
    u16(f.originalId),
    u16(f.error),
    u16(f.other.length),
    f.other,
  ]);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(TYPE_TSIG, 0);
  fixed.writeUInt16BE(CLASS_ANY, 2);
  fixed.writeUInt32BE(0, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  const out = Buffer.concat([message, owner, fixed, rdata]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}

/** Octets a TSIG record signed with `key` adds to a message: room to leave when a reply must fit a UDP limit. */
export function tsigLength(key: Pick<TsigKey, "name" | "algorithm">, otherLength = 0): number {
  return nameWire(key.name).length + 10 + nameWire(`${key.algorithm}.`).length + 16 + TSIG_MAC_BYTES[`${key.algorithm}.`] + otherLength;
}

export type RequestCheck = { ok: true; key: TsigKey; requestMac: Buffer } | { ok: false; error: TsigError };

/**
 * Checks a request's TSIG in RFC 8945 5.2's order: the key (BADKEY), the MAC (BADSIG), the time
 * (BADTIME), then our truncation policy, which is none: a truncated MAC that verifies is BADTRUNC.
 * `message` is the whole message as received; `tsig` is what parseQuery read from it.
 */
export function verifyRequest(message: Buffer, tsig: TsigRecord, keys: readonly TsigKey[], nowSeconds: number): RequestCheck {
  const key = keys.find((k) => k.name === tsig.name);
  if (!key || `${key.algorithm}.` !== tsig.algorithm) return { ok: false, error: TSIG_ERROR.BADKEY };
  const computed = hmac(key, [
    withoutTsig(message, tsig),
    variables(tsig.name, tsig.algorithm, tsig.ttl, tsig.timeSigned, tsig.fudge, tsig.error, tsig.otherData),
  ]);
  if (!macMatches(tsig.mac, computed)) return { ok: false, error: TSIG_ERROR.BADSIG };
  if (Math.abs(Math.floor(nowSeconds) - tsig.timeSigned) > tsig.fudge) return { ok: false, error: TSIG_ERROR.BADTIME };
  if (tsig.mac.length < computed.length) return { ok: false, error: TSIG_ERROR.BADTRUNC };
  return { ok: true, key, requestMac: tsig.mac };
}

/**
 * Signs the messages of one response (RFC 8945 5.3): the first digests the request's MAC, the
 * message and all TSIG variables; each later one (a transfer's next message over TCP) digests
 * the previous message's MAC, the message and only the timers. Every message is signed.
 */
export class TsigSigner {
  private previousMac: Buffer;
  private first = true;

  constructor(
    readonly key: TsigKey,
    requestMac: Buffer,
    private readonly fudge = TSIG_FUDGE,
  ) {
    this.previousMac = requestMac;
  }

  /** An encoded response (no TSIG yet) with its TSIG appended and ARCOUNT one more. */
  sign(message: Buffer, nowSeconds: number): Buffer {
    const { key, fudge } = this;
    const timeSigned = Math.floor(nowSeconds);
    const algorithm = `${key.algorithm}.`;
    const tail = this.first ? variables(key.name, algorithm, 0, timeSigned, fudge, 0, EMPTY) : timers(timeSigned, fudge);
    const mac = hmac(key, [macWithLength(this.previousMac), message, tail]);
    this.previousMac = mac;
    this.first = false;
    return appendTsig(message, { name: key.name, algorithm, timeSigned, fudge, mac, originalId: message.readUInt16BE(0), error: 0, other: EMPTY });
  }

  /** The MAC of the last message signed. */
  get mac(): Buffer {
    return this.previousMac;
  }
}

/**
 * The NOTAUTH reply to a request whose TSIG failed (RFC 8945 5.3.2), question and OPT echoed:
 * BADKEY and BADSIG carry an unsigned TSIG (empty MAC) with the error; BADTIME and BADTRUNC,
 * whose request MAC verified, are signed with the request's key, and BADTIME gives the request's
 * time signed back with our clock in Other Data, so the client can verify it and see the skew.
 */
export function tsigErrorReply(query: Query & { tsig: TsigRecord }, error: TsigError, keys: readonly TsigKey[], nowSeconds: number): Buffer {
  const { tsig } = query;
  const now = Math.floor(nowSeconds);
  const response = encodeResponse(
    {
      id: query.id,
      opcode: query.opcode,
      rd: query.rd,
      cd: query.cd,
      rcode: RCODE_NOTAUTH,
      aa: false,
      question: query.question,
      edns: query.edns,
      answers: [],
      authority: [],
      additional: [],
    },
    TCP_LIMIT,
  );
  const key = keys.find((k) => k.name === tsig.name && `${k.algorithm}.` === tsig.algorithm);
  const unsigned = { name: tsig.name, algorithm: tsig.algorithm, timeSigned: now, fudge: TSIG_FUDGE, mac: EMPTY, originalId: query.id, error, other: EMPTY };
  if (error === TSIG_ERROR.BADKEY || error === TSIG_ERROR.BADSIG || !key) return appendTsig(response, unsigned);
  const timeSigned = error === TSIG_ERROR.BADTIME ? tsig.timeSigned : now;
  const other = error === TSIG_ERROR.BADTIME ? u48(now) : EMPTY;
  const mac = hmac(key, [macWithLength(tsig.mac), response, variables(key.name, tsig.algorithm, 0, timeSigned, TSIG_FUDGE, error, other)]);
  return appendTsig(response, { ...unsigned, timeSigned, mac, other });
}

/** Signs a request of ours (a NOTIFY): the digest covers the message and all TSIG variables. Keep `mac` to check the reply. */
export function signRequest(message: Buffer, key: TsigKey, nowSeconds: number): { message: Buffer; mac: Buffer } {
  const timeSigned = Math.floor(nowSeconds);
  const algorithm = `${key.algorithm}.`;
  const mac = hmac(key, [message, variables(key.name, algorithm, 0, timeSigned, TSIG_FUDGE, 0, EMPTY)]);
  const signed = appendTsig(message, {
    name: key.name,
    algorithm,
    timeSigned,
    fudge: TSIG_FUDGE,
    mac,
    originalId: message.readUInt16BE(0),
    error: 0,
    other: EMPTY,
  });
  return { message: signed, mac };
}

/** ok: the reply is the peer's, signed with our key; `error` is the TSIG error it signed (0: none), `peerTime` the peer's clock a BADTIME gives. */
export type ResponseCheck = { ok: true; mac: Buffer; error: number; peerTime: number | null } | { ok: false; reason: string };

/**
 * Checks the TSIG of a reply to a request we signed with `key` (`requestMac` its MAC). With
 * `continuation`, `requestMac` is the previous message's MAC and only the timers are digested
 * (a later message of a transfer). A TSIG error counts only when signed: a peer that could not
 * verify our MAC (BADKEY, BADSIG) answers unsigned (RFC 8945 5.3.2), which anyone can forge, so
 * such a reply is not acceptable (5.4) and its reason names the error for the log.
 */
export function verifyResponse(response: Buffer, key: TsigKey, requestMac: Buffer, nowSeconds: number, continuation = false): ResponseCheck {
  const tsig = findTsig(response);
  if (tsig === null) return { ok: false, reason: "the reply is not signed" };
  if (tsig === "malformed") return { ok: false, reason: "the reply's TSIG is malformed" };
  const algorithm = `${key.algorithm}.`;
  if (tsig.name !== key.name || tsig.algorithm !== algorithm) return { ok: false, reason: `the reply is signed with another key (${tsig.name})` };
  const error = TSIG_ERROR_NAMES[tsig.error] ?? `TSIG error ${tsig.error}`;
  if (tsig.error !== 0 && tsig.mac.length === 0) {
    // NSD answers BADTIME unsigned: the clocks, not the key, are what to check
    const cause = tsig.error === TSIG_ERROR.BADTIME ? "our clock and the peer's may be more than the fudge apart" : "the peer may not have this key";
    return { ok: false, reason: `the reply is an unsigned ${error}: ${cause}, or the reply is forged` };
  }
  const tail = continuation
    ? timers(tsig.timeSigned, tsig.fudge)
    : variables(key.name, algorithm, tsig.ttl, tsig.timeSigned, tsig.fudge, tsig.error, tsig.otherData);
  const computed = hmac(key, [macWithLength(requestMac), withoutTsig(response, tsig), tail]);
  if (!macMatches(tsig.mac, computed)) return { ok: false, reason: "the reply's TSIG does not verify (BADSIG)" };
  // a BADTIME reply gives our own time signed back, so this holds for it too
  if (Math.abs(Math.floor(nowSeconds) - tsig.timeSigned) > tsig.fudge) return { ok: false, reason: "the reply's time signed is outside its fudge (BADTIME)" };
  const peerTime = tsig.error === TSIG_ERROR.BADTIME && tsig.otherData.length === 6 ? tsig.otherData.readUIntBE(0, 6) : null;
  return { ok: true, mac: tsig.mac, error: tsig.error, peerTime };
}
