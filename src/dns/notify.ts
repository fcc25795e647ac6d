// NOTIFY (RFC 1996): on a new serial every dns.notify target hears it at once, from a UDP
// socket of our own (an ephemeral port, so replies never reach the responder), signed with
// the target's key, and again after 1, 2, 4 and 8 s until its reply arrives. A newer serial
// replaces one still being retried: the secondary then transfers the newest zone once.
import type { udp } from "bun";
import { addressBytes, hostPort } from "../addresses.ts";
import type { DnsSettings, TsigKey } from "../config.ts";
import { withoutDot } from "../names.ts";
import { signRequest, TSIG_ERROR_NAMES, verifyResponse } from "./tsig.ts";
import { encodeResponse, TCP_LIMIT } from "./wire.ts";
import { TYPE } from "./zone.ts";

export const OPCODE_NOTIFY = 4;
/** Waits between the 5 tries, and after the last before giving up. */
const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000];
const RCODE_NAMES: Record<number, string> = { 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED", 9: "NOTAUTH" };

/**
 * answered: NOERROR; rejected: another rcode or a TSIG error; unanswered: no reply to any try
 * (replies to a signed NOTIFY count only when their TSIG verifies); superseded: a newer serial
 * went out to the target before any reply (on a zone that changes faster than the tries run
 * out, a secondary that is down shows here, never as unanswered).
 */
export type NotifyResult = "answered" | "rejected" | "unanswered" | "superseded";

export interface NotifierOptions {
  zone: DnsSettings;
  log: (line: string) => void;
  /** seconds since the epoch, for TSIG */
  now?: () => number;
  /** waits between tries (their count + 1 = tries), and after the last; tests shorten them */
  retryDelaysMs?: readonly number[];
  /** each target's outcome for each serial, for metrics ("host:port" as in the settings) */
  onResult?: (target: string, serial: number, result: NotifyResult) => void;
}

export interface Notifier {
  /** NOTIFYs every target of serial `serial`, replacing any still retried */
  notify(serial: number): void;
  /** new settings: targets, keys and the SOA's other fields; pending NOTIFYs to removed targets stop */
  reload(zone: DnsSettings): void;
  close(): void;
}

type Target = DnsSettings["notify"][number];
type UdpSocket = udp.Socket<"buffer">;

interface Pending {
  target: Target;
  key: TsigKey | null;
  serial: number;
  id: number;
  message: Buffer;
  /** the request's MAC, to verify the reply */
  mac: Buffer | null;
  tries: number;
  timer: ReturnType<typeof setTimeout> | null;
  /** a bad reply or a send error was logged for this serial already */
  logged: boolean;
  /** a reply came whose TSIG did not verify */
  ignored: boolean;
}

const targetKey = (t: Target): string => `${t.host} ${t.port} ${t.key}`;
const sameAddress = (a: string, b: string): boolean => {
  const [x, y] = [addressBytes(a), addressBytes(b)];
  return x !== null && y !== null && x.length === y.length && x.every((octet, i) => octet === y[i]);
};

export function createNotifier(options: NotifierOptions): Notifier {
  const delays = options.retryDelaysMs ?? RETRY_DELAYS_MS;
  const now = options.now ?? (() => Date.now() / 1000);
  let zone = options.zone;
  let closed = false;
  const pending = new Map<string, Pending>();
  const sockets = new Map<4 | 6, Promise<UdpSocket | null>>();

  const name = (t: Target) => hostPort(t.host, t.port);
  const finish = (entry: Pending, result: NotifyResult, line?: string) => {
    if (entry.timer) clearTimeout(entry.timer);
    pending.delete(targetKey(entry.target));
    if (line) options.log(line);
    options.onResult?.(name(entry.target), entry.serial, result);
  };
  const logOnce = (entry: Pending, line: string) => {
    if (entry.logged) return;
    entry.logged = true;
    options.log(line);
  };

  function onReply(reply: Buffer, port: number, address: string): void {
    if (reply.length < 12) return;
    const id = reply.readUInt16BE(0);
    const flags = reply.readUInt16BE(2);
    if (!(flags & 0x8000) || ((flags >> 11) & 0xf) !== OPCODE_NOTIFY) return;
    const entry = [...pending.values()].find((p) => p.id === id && p.target.port === port && sameAddress(p.target.host, address));
    if (!entry) return;
    const rcode = flags & 0xf;
    const what = `dns: NOTIFY of serial ${entry.serial} to ${name(entry.target)}`;
    const rcodeName = RCODE_NAMES[rcode] ?? `rcode ${rcode}`;
    let tsigError = "";
    if (entry.key && entry.mac) {
      const check = verifyResponse(reply, entry.key, entry.mac, now());
      // Whatever its rcode, an answer whose TSIG fails may be forged (RFC 8945 5.4): one spoofed
      // REFUSED must not end the tries, so keep trying until the real one comes.
      if (!check.ok) {
        entry.ignored = true;
        logOnce(entry, `${what}: ignoring a ${rcode ? `${rcodeName} ` : ""}reply: ${check.reason}`);
        return;
      }
      if (check.error !== 0) tsigError = ` (${tsigErrorText(check.error, check.peerTime, now())})`;
    }
    if (rcode !== 0 || tsigError) finish(entry, "rejected", `${what} answered ${rcodeName}${tsigError}`);
    else finish(entry, "answered");
  }

  // a target's port unreachable, no IPv6 on this host: worth a line a minute, not one per try
  let lastSocketError = 0;
  function socketError(line: string): void {
    if (Date.now() - lastSocketError < 60_000) return;
    lastSocketError = Date.now();
    options.log(`${line} (more within a minute are not logged)`);
  }

  function socketFor(family: 4 | 6): Promise<UdpSocket | null> {
    let socket = sockets.get(family);
    if (!socket) {
      socket = Bun.udpSocket({
        hostname: family === 4 ? "0.0.0.0" : "::",
        port: 0,
        socket: {
          data: (_socket, data, port, address) => onReply(data, port, address),
          error: (_socket, error) => socketError(`dns: NOTIFY socket error: ${error?.message ?? "unknown"}`),
        },
      }).catch((e: Error) => {
        socketError(`dns: cannot open a UDP socket to send NOTIFYs (IPv${family}): ${e.message}`);
        sockets.delete(family); // the next NOTIFY tries again
        return null;
      });
      sockets.set(family, socket);
    }
    return socket;
  }

  async function send(entry: Pending): Promise<void> {
    const socket = await socketFor(entry.target.host.includes(":") ? 6 : 4);
    if (closed || pending.get(targetKey(entry.target)) !== entry) return;
    entry.tries++;
    // One socket for every target: an ICMP "port unreachable" for one target's datagram (a
    // secondary that is down) is reported by the kernel on the socket's next send, whoever it
    // goes to; that send did not go out, so it is made once more.
    for (let attempt = 1; attempt <= 2; attempt++) {
      try {
        if (socket) socket.send(entry.message, entry.target.port, entry.target.host);
        break;
      } catch (e) {
        if (attempt === 1 && (e as NodeJS.ErrnoException).code === "ECONNREFUSED") continue;
        logOnce(entry, `dns: NOTIFY of serial ${entry.serial} to ${name(entry.target)}: ${(e as Error).message}`);
      }
    }
    const last = entry.tries > delays.length;
    entry.timer = setTimeout(
      () => {
        if (pending.get(targetKey(entry.target)) !== entry) return;
        if (!last) void send(entry);
        else
          finish(
            entry,
            "unanswered",
            `dns: NOTIFY of serial ${entry.serial} to ${name(entry.target)} got no ${entry.ignored ? "verified " : ""}reply after ${entry.tries} tries`,
          );
      },
      delays[Math.min(entry.tries - 1, delays.length - 1)] ?? 0,
    );
  }

  return {
    notify(serial) {
      if (closed) return;
      for (const target of zone.notify) {
        const previous = pending.get(targetKey(target));
        if (previous) {
          if (previous.timer) clearTimeout(previous.timer);
          options.onResult?.(name(target), previous.serial, "superseded");
        }
        const key = target.key ? (zone.tsigKeys.find((k) => k.name === target.key) ?? null) : null;
        const id = crypto.getRandomValues(new Uint16Array(1))[0]; // random: forging an unsigned target's reply blind means guessing it
        const unsigned = notifyMessage(zone, serial, id);
        const signed = key ? signRequest(unsigned, key, now()) : null;
        const entry: Pending = {
          target,
          key,
          serial,
          id,
          message: signed?.message ?? unsigned,
          mac: signed?.mac ?? null,
          tries: 0,
          timer: null,
          logged: false,
          ignored: false,
        };
        pending.set(targetKey(target), entry);
        void send(entry);
      }
    },
    reload(next) {
      zone = next;
      const kept = new Set(next.notify.map(targetKey));
      for (const [k, entry] of pending)
        if (!kept.has(k)) {
          if (entry.timer) clearTimeout(entry.timer);
          pending.delete(k);
        }
    },
    close() {
      closed = true;
      for (const entry of pending.values()) if (entry.timer) clearTimeout(entry.timer);
      pending.clear();
      for (const socket of sockets.values()) void socket.then((s) => s?.close());
      sockets.clear();
    },
  };
}

/** A signed TSIG error for the log: BADTIME says how far the peer's clock is from ours. */
function tsigErrorText(error: number, peerTime: number | null, nowSeconds: number): string {
  const name = TSIG_ERROR_NAMES[error] ?? `TSIG error ${error}`;
  if (peerTime === null) return name;
  const skew = peerTime - Math.floor(nowSeconds);
  return `${name}: the peer's clock is ${Math.abs(skew)} s ${skew > 0 ? "ahead of" : "behind"} ours`;
}

/** A NOTIFY request (RFC 1996 3.7): opcode 4, AA, the zone's SOA as the question and, with the new serial, as the answer. */
export function notifyMessage(zone: DnsSettings, serial: number, id: number): Buffer {
  const { mname, rname, refresh, retry, expire, minimum } = zone.soa;
  const wire = encodeResponse(
    {
      id,
      opcode: OPCODE_NOTIFY,
      rd: false,
      cd: false,
      rcode: 0,
      aa: true,
      question: { name: zone.domain, type: TYPE.SOA, class: 1 },
      edns: null,
      answers: [{ name: zone.domain, ttl: zone.ttl, type: "SOA", mname: withoutDot(mname), rname: withoutDot(rname), serial, refresh, retry, expire, minimum }],
      authority: [],
      additional: [],
    },
    TCP_LIMIT,
  );
  wire[2] &= 0x7f; // a request: QR clear
  return wire;
}
