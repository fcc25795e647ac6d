// DNS on UDP and TCP at one port: sockets and framing. Messages are parsed and encoded by
// wire.ts and answered by zone.ts; this file knows nothing about records.
// dns2's own servers are not used: they leave AA off, drop EDNS, truncate to the bare question,
// may hand a handler a message without a question, and their concurrency limit leaks a slot
// when a handler throws. Every message here gets at most one reply, produced synchronously.
import { createServer, type Server, type Socket as TcpSocket } from "node:net";
import { ipv6Prefix } from "../addresses.ts";
import type { DnsSettings } from "../config.ts";
import { AnswerCache } from "./answer-cache.ts";
import { DnsCounters, SLOT } from "./counters.ts";
import { loadSigner, SignatureCache, type SigningKey } from "./dnssec.ts";
import { ResponseRateLimiter, VERDICT } from "./rrl.ts";
import { createResponder, rateLimitedLog, type MessageStream, type RateLimit, type Responder, type TransferSource } from "./responder.ts";
import { ZoneImages, type ZoneSnapshot } from "./transfer.ts";
import { encodeQuestion } from "./wire.ts";
import { pagekiteSubtree, type ZoneLookups } from "./zone.ts";

export interface DnsServerOptions {
  /** one address, or several: each is bound on UDP and TCP at the same port */
  host: string | readonly string[];
  port: number;
  zone: DnsSettings;
  lookups: ZoneLookups;
  /** subscribes to the full names of gateway rows as they change (answers built from them are dropped) */
  watchGateways?: (listener: (name: string) => void) => void;
  /** the answer cache to use, e.g. over counters another thread bumps (AnswerVersions); default a fresh one */
  cache?: AnswerCache;
  /** what /metrics reads (queries, cache hits, RRL); possibly over a buffer the main thread shares */
  counters?: DnsCounters;
  log: (line: string) => void;
  /** TCP bounds (docs/operations.md, "DNS over TCP"); tests set small ones */
  tcp?: Partial<TcpLimits>;
  /** opens a consistent view of the zone for one AXFR/IXFR (store/zone-reader.ts); absent: transfers are refused */
  openSnapshot?: () => ZoneSnapshot;
  /**
   * The zone's signing key (store/dnssec-keys.ts), plain data so it crosses to the DNS thread;
   * answers are signed while the zone's dns.dnssec is on. corruptSignatures: tests only.
   */
  dnssec?: { key: SigningKey; published?: SigningKey[]; corruptSignatures?: boolean };
}

/** Transfers streaming at once; another is refused until one ends (a transfer holds a read transaction and a connection). */
const MAX_TRANSFERS = 8;

function boundedTransfers(open: () => ZoneSnapshot, max: number): TransferSource {
  let active = 0;
  return {
    images: new ZoneImages(open),
    open() {
      if (active >= max) return null;
      const snapshot = open();
      active++;
      let closed = false;
      return {
        serial: snapshot.serial,
        gateways: (pageSize, order) => snapshot.gateways(pageSize, order),
        changesetsSince: (serial) => snapshot.changesetsSince(serial),
        close() {
          if (closed) return;
          closed = true;
          active--;
          snapshot.close();
        },
      };
    },
  };
}

export interface TcpLimits {
  /** connections open at once, all clients together */
  maxConnections: number;
  /** connections open at once from one client (an IPv4 address or an IPv6 /64) */
  maxPerClient: number;
  /** from the first byte of a message until the whole message is in; more bytes do not extend it */
  messageTimeoutMs: number;
  /** RFC 7766 6.2.3: a connection with nothing under way is closed after this long */
  idleTimeoutMs: number;
}

export const DEFAULT_TCP_LIMITS: TcpLimits = { maxConnections: 512, maxPerClient: 16, messageTimeoutMs: 5_000, idleTimeoutMs: 10_000 };

export interface DnsServer {
  /** the port bound on UDP and TCP (the one asked for, or the system's pick when 0 was asked) */
  port: number;
  /** Answers from `zone` from now on (a settings reload); every cached answer is forgotten. */
  reload(zone: DnsSettings): void | Promise<void>;
  close(): Promise<void>;
}

/** One TCP message is at most 2 + 65535 octets; a peer that sends faster than it reads is cut off. */
const TCP_MAX_PENDING_OUTPUT = 1 << 20;
/** Unanswered input kept per connection while its replies wait for the peer to read (a safety net: reading is paused then). */
const TCP_MAX_PENDING_INPUT = 256 << 10;

/** What the sockets answer with: replaced as a whole when the settings are reloaded. */
interface Live {
  zone: DnsSettings;
  respond: Responder;
  rrl: ResponseRateLimiter | null;
}

type Bound = { udp: Bun.udp.Socket<"buffer">; tcp: { server: Server; connections: Map<TcpSocket, unknown> } };

export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  const cache = options.cache ?? new AnswerCache();
  options.watchGateways?.((name) => cache.invalidate(name));
  const counters = options.counters ?? new DnsCounters();
  const transfers = options.openSnapshot && boundedTransfers(options.openSnapshot, MAX_TRANSFERS);
  // One signature cache for the key, kept across reloads (the DNSKEY's TTL may change).
  const signatures = options.dnssec && new SignatureCache();
  /** whether answers (and transfers) of `zone` are signed: a key, and dns.dnssec on */
  const signs = (zone: DnsSettings) => Boolean(options.dnssec && zone.dnssec);
  const signerFor = (zone: DnsSettings) =>
    options.dnssec && signs(zone)
      ? loadSigner(options.dnssec.key, {
          zone: zone.domain,
          ttl: zone.ttl,
          cache: signatures,
          published: options.dnssec.published,
          corruptSignatures: options.dnssec.corruptSignatures,
        })
      : undefined;
  /** `start`: the first responder warms the answer path; a reload's finds it warm and must not stall answering */
  const responderFor = (zone: DnsSettings, start = false) => {
    const signer = signerFor(zone);
    // The warm-up's made-up questions are counted apart, where nobody reads them.
    if (start && zone.warmUpQueries) warmUp(createResponder({ ...options, zone, cache, counters: new DnsCounters(), signer }), zone.domain, zone.warmUpQueries);
    return createResponder({ ...options, zone, cache, counters, transfers, signer });
  };
  // every name under <domain>.<domain> gets a PageKite answer: one class for RRL, not one per name
  const rrlFor = (zone: DnsSettings) => (zone.rrl && zone.rrl.rate > 0 ? new ResponseRateLimiter(zone.rrl, undefined, pagekiteSubtree(zone)) : null);
  const live: Live = { zone: options.zone, respond: responderFor(options.zone, true), rrl: rrlFor(options.zone) };
  // Secondaries come for the zone as soon as a (re)start NOTIFYs them: its image is made ahead.
  const prepareImage = (zone: DnsSettings) => {
    if (transfers && !signs(zone) && zone.transferAcl.length > 0) transfers.images?.prepare(zone);
    else if (transfers) transfers.images?.forget(); // a reload that ends transfers, or signs them: the old image goes
  };
  const limits = { ...DEFAULT_TCP_LIMITS, ...options.tcp };
  const hosts = [options.host].flat();
  // Port 0: UDP on the first address takes the system's pick; TCP, and both on the other
  // addresses, bind the same number, which another process may hold; then it is all tried again.
  for (let attempt = 1; ; attempt++) {
    const bound: Bound[] = [];
    let port = options.port;
    try {
      for (const host of hosts) {
        const udp = await bindUdp({ ...options, host, port, counters }, live);
        port = udp.port;
        try {
          bound.push({ udp, tcp: await listenTcp({ ...options, host, port }, (message, client) => live.respond(message, "tcp", client), limits) });
        } catch (e) {
          udp.close();
          throw e;
        }
      }
      prepareImage(live.zone);
      return dnsServer(port, bound, transfers, (zone) => {
        const respond = responderFor(zone);
        const rrlChanged = JSON.stringify(zone.rrl) !== JSON.stringify(live.zone.rrl) || zone.domain !== live.zone.domain;
        live.zone = zone;
        live.respond = respond;
        if (rrlChanged) live.rrl = rrlFor(zone);
        cache.shared.forgetAll(); // after the swap, in this thread: nothing of the old zone is cached anew
        prepareImage(zone);
      });
    } catch (e) {
      await closeAll(bound);
      if (options.port !== 0 || attempt >= 20 || (e as NodeJS.ErrnoException).code !== "EADDRINUSE") throw e;
    }
  }
}

function closeAll(bound: Bound[]): Promise<unknown> {
  return Promise.all(
    bound.map(({ udp, tcp }) =>
      Promise.all([
        Promise.resolve(udp.closed || udp.close()),
        new Promise<void>((resolve) => {
          tcp.server.close(() => resolve());
          for (const socket of tcp.connections.keys()) socket.destroy();
        }),
      ]),
    ),
  );
}

function dnsServer(port: number, bound: Bound[], transfers: TransferSource | undefined, reload: (zone: DnsSettings) => void): DnsServer {
  return {
    port,
    reload,
    async close() {
      transfers?.images?.close(); // reading the zone ahead stops with the server
      await closeAll(bound);
    },
  };
}

/**
 * Answers dns.warm_up_queries made-up questions before the sockets open: the first real queries
 * otherwise met an unoptimised answer path and a cold database connection, a stall of about
 * 40 ms in which a 5,000 QPS load lost 30-45 queries (bench/scale.sh, one core). Each question
 * is new (a name that does not exist, at the apex), so nothing false is cached.
 */
function warmUp(respond: Responder, domain: string, queries: number): void {
  const types = [1, 28, 16, 6, 2]; // A, AAAA, TXT, SOA, NS
  for (let i = 0; i < queries; i++) {
    const type = types[i % types.length];
    const query = encodeQuestion(i, type === 6 || type === 2 ? domain : `warm-up-${i.toString(36)}.${domain}`, type);
    try {
      respond(query, i % 4 === 3 ? "tcp" : "udp");
    } catch {
      return; // a broken lookup shows in the first real answer, with its own log line
    }
  }
}

/** Replies are sent in batches of this many (one sendmmsg), or at the end of the event-loop turn. */
const UDP_BATCH = 64;
/** Replies waiting for the socket to drain; past this many a reply is dropped, as the network would. */
const UDP_MAX_BACKLOG = 4096;

/**
 * Bun's own UDP socket: node:dgram looks the peer's address up and defers every send to a
 * later tick, which cost a third of the time per query. Replies go out in batches: Bun reads
 * many datagrams per turn, and one sendmmsg for 32 replies costs little more than one sendto.
 */
async function bindUdp(options: DnsServerOptions & { host: string; counters: DnsCounters }, live: Live): Promise<Bun.udp.Socket<"buffer">> {
  const reportError = rateLimitedLog(options.log);
  const counts = options.counters.values;
  // Limited answers are counted and reported once a minute, without building a line per answer.
  let limited = 0;
  let limitedReportedAt = 0;
  /** reply, port, address, reply, port, address, ... as sendMany takes them */
  const outbox: (Buffer | number | string)[] = [];
  let flushScheduled = false;
  const flush = (socket: Bun.udp.Socket<"buffer">) => {
    flushScheduled = false;
    if (outbox.length === 0 || socket.closed) return;
    let sent: number;
    try {
      sent = socket.sendMany(outbox);
    } catch {
      sent = sendOneByOne(socket, outbox); // one unreachable peer must not cost the others their replies
    }
    // The rest waits for `drain`.
    outbox.splice(0, sent * 3);
  };
  /** RRL's verdict, which the responder asks before it signs a reply; limited answers are counted and reported here. */
  const limit: RateLimit = (reply, address) => {
    const rrl = live.rrl;
    if (!rrl) return VERDICT.send;
    const now = Date.now();
    const verdict = rrl.verdict(reply, address, now);
    if (verdict === VERDICT.send) return verdict;
    limited++;
    if (now - limitedReportedAt >= 60_000) {
      options.log(
        `dns: response-rate limit (dns.rrl_rate = ${live.zone.rrl?.rate}/s) truncated or dropped ${limited} UDP answers since the last report, the latest to ${address}`,
      );
      limited = 0;
      limitedReportedAt = now;
    }
    counts[verdict === VERDICT.drop ? SLOT.rrlDropped : SLOT.rrlTruncated]++;
    return verdict;
  };
  return Bun.udpSocket({
    hostname: options.host,
    port: options.port,
    socket: {
      data(socket, message, port, address) {
        // No room for a reply: the query is dropped before it is answered, so it costs no work,
        // no response-rate-limit token and no signature.
        if (outbox.length >= UDP_MAX_BACKLOG * 3) return;
        let reply: Buffer | null = null;
        try {
          reply = live.respond(message, "udp", address, live.rrl ? limit : undefined);
        } catch (e) {
          options.log(`dns: unexpected error on a UDP message: ${(e as Error).message}`);
        }
        if (!reply) return;
        outbox.push(reply, port, address);
        if (outbox.length >= UDP_BATCH * 3) flush(socket);
        else if (!flushScheduled) {
          flushScheduled = true;
          setImmediate(flush, socket);
        }
      },
      drain: flush,
      // Bun passes `undefined` for an ICMP error (a reply that met a closed port: a resolver
      // that re-asked from a new port). It is the peer's affair and never ends the process.
      error(_socket, e?: Error) {
        reportError(`dns: UDP socket error: ${e?.message ?? "a reply was refused by its destination (ICMP)"}`);
      },
    },
  });
}

/** How many of the queued replies went out when sent one by one; a failing one is skipped. */
function sendOneByOne(socket: Bun.udp.Socket<"buffer">, outbox: (Buffer | number | string)[]): number {
  for (let i = 0; i < outbox.length; i += 3) {
    try {
      if (!socket.send(outbox[i] as Buffer, outbox[i + 1] as number, outbox[i + 2] as string)) return i / 3;
    } catch {
      // the peer's problem
    }
  }
  return outbox.length / 3;
}

/** What the connection limits need to know of an open connection. */
interface Connection {
  client: string;
  /** a message partly received (its deadline is running) */
  partial: boolean;
  /** since when the connection has had a message under way without a break (0: not now) */
  busySince: number;
  /** when it was accepted: a newcomer is not "idle" before its first message could arrive */
  acceptedAt: number;
  /** it has had an answer: idle now means between messages */
  answered: boolean;
  /** since when output has waited for the peer to take it (0: none waits) */
  outputSince: number;
  /** the zone transfer under way, its next message taken when the peer has read the last one; never closed to make room (at most MAX_TRANSFERS are) */
  stream: MessageStream | null;
}

/** A connection this new, with nothing received yet, is on its way to a query, not idle. */
const NEWCOMER_GRACE_MS = 1000;

/** The listening server and its open connections, oldest first (closed at shutdown, idle or not). */
type TcpResponder = (message: Buffer, client: string) => Buffer | MessageStream | null;

function listenTcp(
  options: DnsServerOptions & { host: string },
  respond: TcpResponder,
  limits: TcpLimits,
): Promise<{ server: Server; connections: Map<TcpSocket, Connection> }> {
  const connections = new Map<TcpSocket, Connection>();
  const perClient = new Map<string, number>();
  const reportRefused = rateLimitedLog(options.log, 60_000);
  const admit = (socket: TcpSocket) => {
    const client = clientOf(socket.remoteAddress ?? "");
    const fromClient = perClient.get(client) ?? 0;
    // Past a cap, the oldest idle connection (of that client, or of anyone: null) makes room.
    const makeRoomAmong = fromClient >= limits.maxPerClient ? client : connections.size >= limits.maxConnections ? null : undefined;
    if (makeRoomAmong !== undefined) {
      // Else the one whose message has been arriving the longest: a newcomer is never refused
      // for slow senders (a slowloris reopening what the deadline closes would keep the cap full
      // for good), while a real client's message arrives in a moment and is answered long before
      // hundreds of newer connections could push it out.
      // Then the one whose answers have waited the longest for the peer to take them: a peer
      // that reads a little now and then is never idle, and would otherwise hold its connection
      // against every newcomer. A newcomer whose query is still on its way goes last: else each
      // connection of a reconnecting flood would push out the fresh client that came just before it.
      const now = Date.now();
      const idle =
        oldestIdle(connections, makeRoomAmong, now - NEWCOMER_GRACE_MS) ??
        longestBusy(connections, makeRoomAmong) ??
        longestUnread(connections, makeRoomAmong) ??
        oldestIdle(connections, makeRoomAmong, Number.POSITIVE_INFINITY);
      if (!idle) {
        const cap = makeRoomAmong === null ? `${limits.maxConnections} connections` : `${limits.maxPerClient} connections from that client`;
        reportRefused(`dns: TCP connection from ${socket.remoteAddress} refused: ${cap} are open and busy`);
        socket.on("error", () => {});
        socket.destroy();
        return;
      }
      idle.destroy();
      forget(idle);
    }
    const connection: Connection = { client, partial: false, busySince: 0, acceptedAt: Date.now(), answered: false, outputSince: 0, stream: null };
    connections.set(socket, connection);
    perClient.set(client, (perClient.get(client) ?? 0) + 1);
    socket.on("close", () => forget(socket));
    serveConnection(socket, connection, respond, options.log, limits);
  };
  const forget = (socket: TcpSocket) => {
    const connection = connections.get(socket);
    if (!connection) return;
    connections.delete(socket);
    const left = (perClient.get(connection.client) ?? 1) - 1;
    if (left > 0) perClient.set(connection.client, left);
    else perClient.delete(connection.client);
  };
  const server = createServer({ allowHalfOpen: true }, admit);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: options.port, host: options.host, exclusive: true }, () => {
      server.off("error", reject);
      server.on("error", (e) => options.log(`dns: TCP server error: ${e.message}`));
      resolve({ server, connections });
    });
  });
}

/** The oldest connection (of one client, or of any when null) with no message under way, nothing left to write and no transfer going. */
function oldestIdle(connections: Map<TcpSocket, Connection>, client: string | null, acceptedBefore: number): TcpSocket | undefined {
  for (const [socket, connection] of connections)
    if (
      (client === null || connection.client === client) &&
      !connection.partial &&
      connection.stream === null &&
      socket.writableLength === 0 &&
      (connection.acceptedAt < acceptedBefore || connection.answered)
    )
      return socket;
  return undefined;
}

/** The connection (of one client, or of any when null) with a message under way without a break the longest. */
function longestBusy(connections: Map<TcpSocket, Connection>, client: string | null): TcpSocket | undefined {
  let found: TcpSocket | undefined;
  let since = Number.POSITIVE_INFINITY;
  for (const [socket, connection] of connections)
    if ((client === null || connection.client === client) && connection.partial && connection.busySince < since) {
      since = connection.busySince;
      found = socket;
    }
  return found;
}

/** The connection (of one client, or of any when null), with no transfer going, whose output has waited for its peer the longest. */
function longestUnread(connections: Map<TcpSocket, Connection>, client: string | null): TcpSocket | undefined {
  let found: TcpSocket | undefined;
  let since = Number.POSITIVE_INFINITY;
  for (const [socket, connection] of connections)
    if (
      (client === null || connection.client === client) &&
      connection.stream === null &&
      socket.writableLength > 0 &&
      connection.outputSince > 0 &&
      connection.outputSince < since
    ) {
      since = connection.outputSince;
      found = socket;
    }
  return found;
}

/** A client for the per-client cap: an IPv4 address, or the /64 of an IPv6 one. */
function clientOf(address: string): string {
  if (!address.includes(":") || address.includes(".")) return address.replace(/^::ffff:/i, "");
  try {
    return ipv6Prefix(address, 64);
  } catch {
    return address;
  }
}

/** A transfer sends this many messages (~16 KB each) per event-loop turn, then lets other sockets in. */
const TRANSFER_MESSAGES_PER_TURN = 8;
/**
 * ...or fewer, once a turn has taken this long (ms): an unsigned message is encoded in well
 * under 1 ms, but a presigned one carries ~100 fresh signatures (3-10 ms), and 8 of them would
 * hold every other query back for tens of milliseconds.
 */
const TRANSFER_TURN_MS = 5;

/** RFC 1035 4.2.2 / RFC 7766: length-prefixed messages, pipelined, answered in order. */
function serveConnection(socket: TcpSocket, connection: Connection, respond: TcpResponder, log: (line: string) => void, limits: TcpLimits): void {
  let pending: Buffer = Buffer.alloc(0);
  let deadline: ReturnType<typeof setTimeout> | undefined;
  const stopDeadline = () => {
    clearTimeout(deadline);
    deadline = undefined;
    connection.partial = false;
    connection.busySince = 0;
  };
  // Trickling a byte at a time does not extend a message's time: the deadline is set once per message.
  const startDeadline = () => {
    clearTimeout(deadline);
    deadline = setTimeout(() => socket.destroy(), limits.messageTimeoutMs);
    connection.partial = true;
    if (connection.busySince === 0) connection.busySince = Date.now();
  };
  socket.setTimeout(limits.idleTimeoutMs);
  socket.on("timeout", () => socket.destroy());
  socket.on("error", () => socket.destroy()); // resets and the like: nothing to tell anyone
  socket.on("close", stopDeadline);
  // Bun's socket timeout does not fire while output waits to be written (Node's does): a peer
  // that stops reading, and never closes, would hold its connection (and a transfer's snapshot)
  // for good. So output that the peer takes none of for the idle time ends the connection. One
  // that takes a little now and then keeps it, but not against a newcomer (longestUnread).
  let stalled: ReturnType<typeof setTimeout> | undefined;
  let flushedBefore = 0;
  const flushed = () => socket.bytesWritten - socket.writableLength;
  const watchOutput = () => {
    if (socket.writableLength === 0) connection.outputSince = 0;
    else if (connection.outputSince === 0) connection.outputSince = Date.now();
    if (stalled !== undefined || socket.writableLength === 0) return;
    flushedBefore = flushed();
    stalled = setTimeout(() => {
      stalled = undefined;
      if (socket.destroyed) return;
      if (socket.writableLength > 0 && flushed() === flushedBefore) socket.destroy();
      else watchOutput();
    }, limits.idleTimeoutMs);
  };
  socket.on("close", () => clearTimeout(stalled));
  // Replies wait while the peer does not read them: input is not read (socket paused) until the
  // kernel has taken the output, so a client that pipelines without reading costs neither CPU
  // nor memory beyond one socket buffer, and is cut by the idle timeout.
  let waitingForDrain = false;
  let ended = false;
  socket.on("close", () => connection.stream?.return(undefined));
  /** Frames messages, written together; false when the connection is gone. */
  const send = (...replies: Buffer[]): boolean => {
    let length = 0;
    for (const reply of replies) length += 2 + reply.length;
    const frames = Buffer.allocUnsafe(length);
    let at = 0;
    for (const reply of replies) {
      frames.writeUInt16BE(reply.length, at);
      reply.copy(frames, at + 2);
      at += 2 + reply.length;
    }
    connection.answered = true;
    if (!socket.write(frames)) {
      waitingForDrain = true;
      socket.pause();
    }
    watchOutput();
    if (socket.writableLength > TCP_MAX_PENDING_OUTPUT) {
      socket.destroy();
      return false;
    }
    return true;
  };
  /**
   * Sends the transfer's next messages, a turn's worth in one write (a socket write is what
   * costs: one per message took a third of a 100,000-name transfer's time); false when the
   * connection is gone.
   */
  const pump = (): boolean => {
    if (!connection.stream || waitingForDrain) return true;
    const turnStarted = performance.now();
    const messages: Buffer[] = [];
    let more = false;
    while (connection.stream) {
      if (messages.length === TRANSFER_MESSAGES_PER_TURN || (messages.length > 0 && performance.now() - turnStarted >= TRANSFER_TURN_MS)) {
        more = true;
        break;
      }
      let next: IteratorResult<Buffer, void>;
      try {
        next = connection.stream.next();
      } catch (e) {
        log(`dns: a zone transfer to ${socket.remoteAddress} failed: ${(e as Error).message}`);
        socket.destroy(); // the peer sees the transfer end without its closing SOA, and retries
        return false;
      }
      if (next.done) connection.stream = null;
      else messages.push(next.value);
    }
    if (messages.length > 0 && !send(...messages)) return false;
    if (more && !waitingForDrain) {
      // Other connections and the UDP socket get their turn; this one goes on in the next
      // (without pausing the socket: pause and resume each turn cost more than the yield).
      waitingForDrain = true;
      setImmediate(resumeTurn);
    }
    return true;
  };
  function resumeTurn() {
    if (!waitingForDrain || socket.destroyed || socket.writableNeedDrain) return; // a real drain wait came meanwhile
    waitingForDrain = false;
    answerPending();
  }
  function resumeSending() {
    watchOutput();
    if (!waitingForDrain || socket.destroyed) return;
    waitingForDrain = false;
    socket.resume();
    answerPending();
  }
  const answerPending = () => {
    let completed = false;
    if (!pump()) return;
    while (!waitingForDrain && !connection.stream && pending.length >= 2) {
      const length = pending.readUInt16BE(0);
      if (pending.length < 2 + length) break;
      const message = pending.subarray(2, 2 + length);
      pending = pending.subarray(2 + length);
      completed = true;
      let reply: Buffer | MessageStream | null = null;
      try {
        reply = respond(message, socket.remoteAddress ?? "");
      } catch (e) {
        log(`dns: unexpected error on a TCP message: ${(e as Error).message}`);
      }
      if (!reply) {
        // Not a DNS query: the stream cannot be trusted to be framed any more.
        socket.destroy();
        return;
      }
      if (Buffer.isBuffer(reply)) {
        if (!send(reply)) return;
        continue;
      }
      connection.stream = reply;
      if (!pump()) return;
    }
    // The deadline is for a message on its way in: whole ones waiting behind a transfer or
    // unread answers are not (a stalled reader is cut by watchOutput, a flood by the input cap).
    const arriving = pending.length > 0 && (pending.length < 2 || pending.length < 2 + pending.readUInt16BE(0));
    if (!arriving) stopDeadline();
    else if (completed || deadline === undefined) startDeadline(); // a new message has begun
    if (ended && !waitingForDrain && !connection.stream) {
      // Half-close from the peer: everything it sent is answered; a partial message never will be.
      if (pending.length > 0) socket.destroy();
      else socket.end();
    }
  };
  socket.on("drain", resumeSending);
  socket.on("end", () => {
    ended = true;
    answerPending();
  });
  socket.on("data", (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    if (waitingForDrain && pending.length > TCP_MAX_PENDING_INPUT) {
      socket.destroy(); // input that kept coming while its answers could not be sent
      return;
    }
    answerPending();
  });
}
