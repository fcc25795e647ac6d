// Bytes in, messages out: one received message becomes one reply, none (not a query), or a
// stream of messages (a zone transfer over TCP). The answer cache, the SERVFAIL fallback,
// transfer access and the point where response-rate limiting judges a UDP reply (before its
// DNSSEC signatures are made) are here; server.ts only moves bytes, zone.ts and transfer.ts
// build answers.
import { addressBytes, inCidr, parseCidr, unmapIPv4 } from "../addresses.ts";
import type { DnsSettings } from "../config.ts";
import { absoluteName } from "../names.ts";
import { SERIAL_NAME, type AnswerCache } from "./answer-cache.ts";
import { DnsCounters, SLOT, transferCell } from "./counters.ts";
import { truncatedReply, VERDICT, type Verdict } from "./rrl.ts";
import { SIGNATURE_BYTES, signingEpoch, type Signer } from "./dnssec.ts";
import { signedAnswer } from "./signed-answer.ts";
import { transferMessages, type ZoneImages, type ZoneSnapshot } from "./transfer.ts";
import { TsigSigner, tsigErrorReply, tsigLength, verifyRequest } from "./tsig.ts";
import { encodeResponse, parseQuery, rrsigSignatureOffsets, TCP_LIMIT, udpLimit, type PacketWriter, type Query, type Response } from "./wire.ts";
import { answerQuestion, delegatedChild, QTYPE, RCODE, soaRecord, type ZoneLookups } from "./zone.ts";

export type Transport = "udp" | "tcp";

/** A zone transfer's messages, produced as the peer reads them; `return()` ends it early, whether or not a message was taken. */
export interface MessageStream {
  next(): IteratorResult<Buffer, void>;
  return(value?: undefined): IteratorResult<Buffer, void>;
}

/**
 * What a received message gets: a reply, a stream of messages (TCP transfers), or nothing. Over
 * UDP, `limit` (response-rate limiting, rrl.ts) has its say on each reply before the reply's
 * DNSSEC signatures are made: an answer it drops costs no signature, and one it slips goes out
 * truncated (header and question, TC) with none made either.
 */
export interface Responder {
  (message: Buffer, transport: "udp", client?: string, limit?: RateLimit): Buffer | null;
  (message: Buffer, transport: Transport, client?: string): Buffer | MessageStream | null;
}

/** The verdict on a UDP reply to `client`, from its header and question (all a signed reply shares with its preview). */
export type RateLimit = (reply: Buffer, client: string) => Verdict;

/** Where transfers read the zone: a consistent snapshot, or null when too many are under way. */
export interface TransferSource {
  open(): ZoneSnapshot | null;
  /** where whole-zone transfers share one encoding per serial (transfer.ts); absent: each encodes its own */
  images?: ZoneImages;
}

export interface ResponderOptions {
  zone: DnsSettings;
  lookups: ZoneLookups;
  log: (line: string) => void;
  cache?: AnswerCache;
  /** tests: encode with another writer */
  newWriter?: () => PacketWriter;
  counters?: DnsCounters;
  /** absent: every AXFR and IXFR is refused */
  transfers?: TransferSource;
  /** dns.dnssec on: signs answers to queries with the DO bit (signed-answer.ts); absent: nothing is signed */
  signer?: Signer;
  /** seconds since the epoch, for signatures; tests move it */
  now?: () => number;
}

/** Messages longer than this are answered but not cached (a plain query is about 50 bytes). */
const CACHEABLE_MESSAGE_BYTES = 512;

/**
 * One reply (or none, for a message that is not a query) per received message; a stream for a
 * transfer. With a cache, a message seen before (bar its ID) gets the bytes it got then, until
 * a gateway row that answer was built from changes.
 */
export function createResponder(options: ResponderOptions): Responder {
  const { cache } = options;
  const counters = options.counters ?? new DnsCounters();
  const answer = createUncachedResponder(options);
  // Signed answers carry the week's signatures: every cached one is forgotten when the
  // signing week rolls (signingEpoch), well before the signatures in it expire.
  const now = options.now ?? (() => Date.now() / 1000);
  let epoch = options.signer ? signingEpoch(now()) : 0;
  const rollEpoch = () => {
    const current = signingEpoch(now());
    if (current === epoch) return;
    epoch = current;
    cache?.shared.forgetAll();
  };
  /** The reply that goes out, once `limit` had its say (a limited answer is counted, not cached); `keep` caches a complete one. */
  const settle = (message: Buffer, result: Answered | null, transport: Transport, client: string, limit?: RateLimit, keep?: (encoded: Encoded) => void) => {
    if (result === null) return null;
    if ("rest" in result) {
      counters.countAnswer(message, result.first, transport);
      return transferStream(result.first, result.rest, (done) => counters.values[transferCell(result.type, done ? "done" : "cut")]++);
    }
    const shape = "preview" in result ? result.preview : result.reply;
    const verdict = limit ? limit(shape, client) : VERDICT.send;
    if (verdict !== VERDICT.send) {
      counters.countAnswer(message, shape, transport);
      return verdict === VERDICT.drop ? null : truncatedReply(shape); // in place: a limited reply is nobody else's
    }
    const encoded = "preview" in result ? result.complete() : result;
    if (encoded === null) return null;
    counters.countAnswer(message, encoded.reply, transport);
    keep?.(encoded);
    return encoded.reply;
  };
  if (!cache)
    return ((message: Buffer, transport: Transport, client = "", limit?: RateLimit) =>
      settle(message, answer(message, transport, client, options.lookups, limit !== undefined), transport, client, limit)) as Responder;
  return ((message: Buffer, transport: Transport, client = "", limit?: RateLimit) => {
    if (options.signer) rollEpoch();
    const cacheable = message.length <= CACHEABLE_MESSAGE_BYTES;
    if (cacheable) {
      const hit = cache.get(message, transport);
      if (hit) {
        counters.values[SLOT.cacheHits]++;
        return settle(message, { reply: hit, cacheable: false }, transport, client, limit);
      }
      counters.values[SLOT.cacheMisses]++;
    }
    const dependsOn: string[] = [];
    const versionsSeen: number[] = [];
    const recording: ZoneLookups = {
      gateway(name) {
        dependsOn.push(name);
        versionsSeen.push(cache.shared.of(name)); // before the read: a write committed meanwhile makes the entry stale
        return options.lookups.gateway(name);
      },
      // An answer carrying the SOA is forgotten when the serial moves (AnswerVersions.setSerial).
      serial:
        options.lookups.serial &&
        (() => {
          dependsOn.push(SERIAL_NAME);
          versionsSeen.push(cache.shared.of(SERIAL_NAME));
          return options.lookups.serial?.();
        }),
    };
    const result = answer(message, transport, client, recording, limit !== undefined);
    return settle(message, result, transport, client, limit, (encoded) => {
      if (encoded.cacheable && cacheable) cache.set(message, transport, encoded.reply, dependsOn, versionsSeen);
    });
  }) as Responder;
}

/** A reply, and whether it may be cached: not a SERVFAIL standing in for a failed lookup or encoding. */
interface Encoded {
  reply: Buffer;
  cacheable: boolean;
}

/** A transfer: its first message (taken to count the answer) and the rest, still to be taken. */
interface Streamed {
  first: Buffer;
  rest: Generator<Buffer, void, undefined>;
  type: "AXFR" | "IXFR";
}

/** A UDP answer whose DNSSEC signatures are not made yet: `preview` is the reply with zeros for them (its size and header the same), `complete` makes them. */
interface Unsigned {
  preview: Buffer;
  complete: () => Encoded | null;
}

type Answered = Encoded | Streamed | Unsigned;

function createUncachedResponder(options: ResponderOptions) {
  const reportFailure = rateLimitedLog(options.log);
  const now = options.now ?? (() => Date.now() / 1000);
  const safeEncode = (reply: Response, limit: number, report: (line: string) => void) => safeEncodeWith(reply, limit, report, options.newWriter);
  // One set of signatures put off at a time: a query is answered start to end before the next.
  const putOff: (() => void)[] = [];
  const later = (sign: () => void) => putOff.push(sign);
  const { signer: dnssecSigner } = options;
  const deferred: Signer | undefined = dnssecSigner && {
    ...dnssecSigner,
    sign: (rrset, nowSeconds, keep) => dnssecSigner.sign(rrset, nowSeconds, keep, later),
  };
  /** `defer` (UDP with a limit): a reply that needs signatures comes as Unsigned, for the limit to judge first */
  return (message: Buffer, transport: Transport, client: string, lookups: ZoneLookups, defer = false): Answered | null => {
    const parsed = parseQuery(message);
    if (parsed.kind === "drop") return null;
    const limitFor = (edns: Response["edns"]) => (transport === "udp" ? udpLimit(edns) : TCP_LIMIT);
    if (parsed.kind === "error") {
      const { rcode, id, opcode, rd, cd, question, edns } = parsed;
      const reply: Response = { id, opcode, rd, cd, rcode, aa: false, question, edns, answers: [], authority: [], additional: [] };
      return safeEncode(reply, limitFor(edns), reportFailure);
    }
    const { query } = parsed;
    const reply: Response = { ...query, rcode: RCODE.SERVFAIL, aa: false, answers: [], authority: [], additional: [] };
    // A signed query is verified whatever it asks (RFC 8945 5.2), and its answer signed, never cached.
    let signer: TsigSigner | null = null;
    if (query.tsig) {
      const keys = options.zone.tsigKeys ?? [];
      const check = verifyRequest(message, query.tsig, keys, Date.now() / 1000);
      if (!check.ok) {
        const notauth = tsigErrorReply({ ...query, tsig: query.tsig }, check.error, keys, Date.now() / 1000);
        // Its TSIG spells out names the query may have compressed: over UDP it may not fit (RFC 1035 4.2.1).
        return { reply: notauth.length <= limitFor(query.edns) ? notauth : truncatedReply(notauth), cacheable: false };
      }
      signer = new TsigSigner(check.key, check.requestMac);
    }
    const finish = (encoded: Encoded | null): Encoded | null =>
      encoded && (signer ? { reply: signer.sign(encoded.reply, Date.now() / 1000), cacheable: false } : encoded);
    const limit = limitFor(query.edns) - (signer ? tsigLength(signer.key) : 0);
    const type = query.question.type;
    if (type === QTYPE.AXFR || type === QTYPE.IXFR) {
      const transfer = answerTransfer(query, transport, client, signer, options, lookups, reportFailure);
      if (transfer && "rest" in transfer) return transfer;
      Object.assign(reply, transfer);
      const encoded = finish(safeEncode(reply, limit, reportFailure));
      return encoded && { reply: encoded.reply, cacheable: false };
    }
    putOff.length = 0;
    try {
      const answered = answerQuestion(query.question, lookups, options.zone);
      const dnssec = defer ? deferred : dnssecSigner;
      Object.assign(
        reply,
        dnssec
          ? signedAnswer(answered, query.question, dnssec, query.edns?.dnssecOk === true, now(), delegatedChild(options.zone), (type) =>
              answerQuestion({ ...query.question, type }, lookups, options.zone),
            )
          : answered,
      );
    } catch (e) {
      reportFailure(`dns: lookup failed, answering SERVFAIL: ${(e as Error).message}`);
      const failed = finish(safeEncode(reply, limit, reportFailure));
      return failed && { reply: failed.reply, cacheable: false };
    }
    if (putOff.length === 0) return finish(safeEncode(reply, limit, reportFailure));
    const preview = safeEncode(reply, limit, reportFailure);
    if (!preview?.cacheable) return preview && finish(preview); // SERVFAIL: nothing in it to sign
    const signatures = putOff.splice(0);
    const wire = preview.reply;
    return {
      preview: wire,
      complete() {
        try {
          for (const sign of signatures) sign();
        } catch (e) {
          reportFailure(`dns: signing failed, answering SERVFAIL: ${(e as Error).message}`);
          const failed = finish(safeEncode({ ...reply, rcode: RCODE.SERVFAIL, aa: false, answers: [], authority: [], additional: [] }, limit, reportFailure));
          return failed && { reply: failed.reply, cacheable: false };
        }
        // The preview becomes the reply: the RRSIGs it holds, in the order written, get their signatures.
        const rrsigs = [...reply.answers, ...reply.authority, ...reply.additional].filter((rr) => rr.type === "RRSIG");
        rrsigSignatureOffsets(wire, SIGNATURE_BYTES).forEach((at, i) => {
          wire.set(rrsigs[i].signature, at);
        });
        return finish(preview);
      },
    };
  };
}

/**
 * AXFR and IXFR of the zone (docs/dns.md, "Zone transfers"): only to clients dns.transfer_acl
 * lets in; a full stream only over TCP. Over UDP an IXFR gets the current SOA alone, which
 * tells a secondary to come back over TCP when it is behind (RFC 1995 2), and AXFR is refused.
 * Returns the stream, or what goes into a single reply.
 */
function answerTransfer(
  query: Query,
  transport: Transport,
  client: string,
  signer: TsigSigner | null,
  options: ResponderOptions,
  lookups: ZoneLookups,
  report: (line: string) => void,
): Streamed | Partial<Response> | null {
  const refused = { rcode: RCODE.REFUSED, aa: false };
  const { zone } = options;
  if (query.question.class !== 1 || absoluteName(query.question.name) !== absoluteName(zone.domain)) return refused;
  if (!options.transfers || !transferAllowed(zone, client, signer?.key.name ?? null)) return refused;
  if (transport === "udp") {
    if (query.question.type === QTYPE.AXFR) return refused;
    const serial = lookups.serial?.() ?? zone.soa.serial;
    return { rcode: RCODE.NOERROR, aa: true, answers: [soaRecord(zone, serial)] };
  }
  let snapshot: ZoneSnapshot | null;
  try {
    snapshot = options.transfers.open();
  } catch (e) {
    report(`dns: cannot read the zone for a transfer to ${client}, answering SERVFAIL: ${(e as Error).message}`);
    return { rcode: RCODE.SERVFAIL, aa: false };
  }
  if (!snapshot) {
    report(`dns: transfer to ${client} refused: too many transfers under way`);
    return refused;
  }
  // dns.dnssec on: presigned, whatever the query's DO bit (a secondary answers validators too)
  const signing = options.signer ? { signer: options.signer, nowSeconds: (options.now ?? (() => Date.now() / 1000))() } : null;
  const sign = signer ? (message: Buffer) => signer.sign(message, Date.now() / 1000) : undefined;
  const stream = transferMessages(query, snapshot, zone, sign, signing, options.transfers.images ?? null);
  try {
    const first = stream.next();
    if (first.done) return { rcode: RCODE.SERVFAIL, aa: false };
    return { first: first.value, rest: stream, type: query.question.type === QTYPE.AXFR ? "AXFR" : "IXFR" };
  } catch (e) {
    stream.return(undefined);
    report(`dns: transfer to ${client} failed, answering SERVFAIL: ${(e as Error).message}`);
    return { rcode: RCODE.SERVFAIL, aa: false };
  }
}

/**
 * The transfer's messages from its first (taken already, to count the answer). However it ends,
 * `rest` is closed (its snapshot's read transaction and transfer slot with it) and `ended` told
 * once whether every message was taken: a connection closed before the first was taken (its
 * output waiting for the peer) calls return() on a stream never started, which a generator
 * function would skip its `finally` for.
 */
function transferStream(first: Buffer, rest: Generator<Buffer, void, undefined>, ended: (done: boolean) => void): MessageStream {
  let firstTaken = false;
  let over = false;
  const end = (done: boolean) => {
    if (over) return;
    over = true;
    try {
      rest.return(undefined);
    } finally {
      ended(done);
    }
  };
  return {
    next() {
      if (over) return { done: true, value: undefined };
      if (!firstTaken) {
        firstTaken = true;
        return { done: false, value: first };
      }
      let taken: IteratorResult<Buffer, void>;
      try {
        taken = rest.next();
      } catch (e) {
        end(false);
        throw e;
      }
      if (taken.done) end(true);
      return taken;
    },
    return() {
      end(false);
      return { done: true, value: undefined };
    },
  };
}

/** Whether dns.transfer_acl lets this client (signed with `keyName`, or unsigned: null) transfer the zone. */
export function transferAllowed(zone: DnsSettings, client: string, keyName: string | null): boolean {
  const bytes = addressBytes(unmapIPv4(client));
  if (!bytes) return false;
  for (const { cidr, key } of zone.transferAcl ?? []) {
    const network = parseCidr(cidr);
    if (network && inCidr(bytes, network) && (key === "" || key === keyName)) return true;
  }
  return false;
}

/** The encoded reply; SERVFAIL without records when a record cannot be encoded. */
function safeEncodeWith(reply: Response, limit: number, report: (line: string) => void, newWriter?: () => PacketWriter): Encoded | null {
  try {
    return { reply: encodeResponse(reply, limit, newWriter), cacheable: true };
  } catch (e) {
    report(`dns: cannot encode the answer, answering SERVFAIL: ${(e as Error).message}`);
  }
  try {
    return {
      reply: encodeResponse({ ...reply, rcode: RCODE.SERVFAIL, aa: false, answers: [], authority: [], additional: [] }, limit, newWriter),
      cacheable: false,
    };
  } catch {
    return null; // the question itself cannot be written back: nothing sensible to send
  }
}

/** A failing database would otherwise write one line per query. */
export function rateLimitedLog(log: (line: string) => void, intervalMs = 10_000): (line: string) => void {
  let last = 0;
  let suppressed = 0;
  return (line) => {
    const now = Date.now();
    if (now - last < intervalMs) {
      suppressed++;
      return;
    }
    log(suppressed > 0 ? `${line} (and ${suppressed} similar since the last report)` : line);
    last = now;
    suppressed = 0;
  };
}
