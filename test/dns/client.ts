// An independent DNS client for the tests: dns-packet's codec over node:dgram / node:net,
// so an encoding bug in the server cannot hide behind the same bug in the client.
import * as packet from "dns-packet";
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import type { DnsSettings } from "../../src/config.ts";
import { AnswerCache, type AnswerVersions } from "../../src/dns/answer-cache.ts";
import { startDnsServer, type DnsServerOptions } from "../../src/dns/server.ts";
import type { ZoneLookups } from "../../src/dns/zone.ts";
import { openDatabase } from "../../src/store/db.ts";
import { createStore, type Store } from "../../src/store/domains.ts";

export { packet };

export interface QueryOptions {
  id?: number;
  edns?: { udpPayloadSize?: number; ednsVersion?: number; flags?: number } | false;
  flags?: number;
}

/** A query message encoded by dns-packet. */
export function encodeQuery(name: string, type: string, options: QueryOptions = {}): Buffer {
  const edns = options.edns === undefined ? false : options.edns;
  return packet.encode({
    type: "query",
    id: options.id ?? Math.floor(Math.random() * 65536),
    flags: options.flags ?? 0,
    questions: [{ name, type: type as any, class: "IN" }],
    additionals: edns
      ? [{ type: "OPT", name: ".", udpPayloadSize: edns.udpPayloadSize ?? 4096, ednsVersion: edns.ednsVersion ?? 0, flags: edns.flags ?? 0 } as any]
      : [],
  });
}

/** Sends one datagram and waits for one reply (rejects after `timeoutMs`). */
export function udpExchange(port: number, message: Buffer, timeoutMs = 2000, host = "127.0.0.1"): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error("no UDP reply"));
    }, timeoutMs);
    socket.once("message", (reply) => {
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    });
    socket.send(message, port, host);
  });
}

/** The SOA serial the server on `port` answers for `zone`, over UDP. */
export async function soaSerial(port: number, zone = "example.test"): Promise<number> {
  const soa = decode(await udpExchange(port, encodeQuery(zone, "SOA"))).answers?.find((a) => a.type === "SOA");
  if (!soa) throw new Error(`no SOA for ${zone} from 127.0.0.1:${port}`);
  return (soa as { data: { serial: number } }).data.serial;
}

/** A DNS message as it goes over TCP: its length in two octets, then the message (RFC 1035 4.2.2). */
export const tcpFramed = (message: Buffer): Buffer => Buffer.concat([Buffer.from([message.length >> 8, message.length & 0xff]), message]);

/** Sends messages on one TCP connection (each length-prefixed) and collects `expected` replies. */
export function tcpExchange(port: number, messages: Buffer[], expected = messages.length, timeoutMs = 3000, host = "127.0.0.1"): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    const replies: Buffer[] = [];
    let pending: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`got ${replies.length} of ${expected} TCP replies`));
    }, timeoutMs);
    socket.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        replies.push(pending.subarray(2, 2 + pending.readUInt16BE(0)));
        pending = pending.subarray(2 + pending.readUInt16BE(0));
      }
      if (replies.length >= expected) {
        clearTimeout(timer);
        socket.destroy();
        resolve(replies);
      }
    });
    socket.write(Buffer.concat(messages.map(tcpFramed)));
  });
}

/** What `ask` tells of an answer: dig's view of it, for tests where the client is not what is tested. */
export interface Asked {
  status: string;
  /** the header flags set, as dig names them: qr aa tc rd ra ad cd */
  flags: string[];
  answers: packet.Answer[];
  /** the answer section, one record a line, for failure messages */
  text: string;
}

/**
 * One question to `address` ("host:port"), with EDNS (4096) and the DO bit when `dnssec`, over
 * UDP and again over TCP when the reply is truncated: what `dig +dnssec` does, at a fraction of a
 * dig process's start (~45 ms of CPU each), for tests whose subject is the server or the resolver.
 */
export async function ask(address: string, name: string, type: string, options: { dnssec?: boolean; recurse?: boolean } = {}): Promise<Asked> {
  const separator = address.lastIndexOf(":");
  const host = address.slice(0, separator);
  const port = Number(address.slice(separator + 1));
  const query = encodeQuery(name, type, {
    flags: options.recurse === false ? 0 : packet.RECURSION_DESIRED,
    edns: { udpPayloadSize: 4096, flags: options.dnssec ? packet.DNSSEC_OK : 0 },
  });
  let reply = decode(await udpExchange(port, query, 5000, host));
  if (reply.flag_tc) reply = decode((await tcpExchange(port, [query], 1, 5000, host))[0]);
  const names = ["qr", "aa", "tc", "rd", "ra", "ad", "cd"] as const;
  const answers = reply.answers ?? [];
  return {
    status: reply.rcode,
    flags: names.filter((flag) => reply[`flag_${flag}`]),
    answers,
    text: answers.map((a) => `${a.name} ${a.type} ${JSON.stringify((a as { data?: unknown }).data)}`).join("\n"),
  };
}

/** Whether this machine has the IPv6 loopback (::1) to test on; tests that need it skip, saying so, when not. */
export function hasIpv6Loopback(): boolean {
  const found = Object.values(networkInterfaces()).some((list) => list?.some((a) => a.family === "IPv6" && a.address === "::1"));
  if (!found) console.log("skipping the ::1 tests: this machine has no IPv6 loopback (ip -6 addr show lo)");
  return found;
}

/** dns-packet's decoding; its types leave out the rcode and opcode it does return. */
export function decode(reply: Buffer): packet.DecodedPacket & { rcode: string; opcode: string } {
  return packet.decode(reply) as packet.DecodedPacket & { rcode: string; opcode: string };
}

/** The settings every socket test runs with: one of each kind of static record. */
export function testZone(overrides: Partial<DnsSettings> = {}): DnsSettings {
  return {
    domain: "example.test",
    ttl: 86400,
    gatewayTtl: 60,
    soa: { mname: "ns1.example.test.", rname: "hostmaster.example.test.", serial: 2024010100, refresh: 900, retry: 900, expire: 1209600, minimum: 60 },
    nameservers: [
      ["ns1.example.test.", "192.0.2.53"],
      ["ns2.example.test.", "192.0.2.54"],
    ],
    tunnelAddresses: ["192.0.2.10", "2001:db8::10"],
    wwwAddresses: ["192.0.2.80", "2001:db8::80"],
    caa: [[0, "issue", "letsencrypt.org"]],
    mx: [
      ["@", 10, "mail.example.net."],
      ["*", 20, "mx.example.net."],
    ],
    txt: [
      ["@", "v=spf1 -all"],
      ["_psl", "https://github.com/publicsuffix/list/pull/1"],
      ["*", "gateway"],
      ["_dmarc", "v=DMARC1; p=reject"],
    ],
    cname: [["docs.example.test.", "example.github.io."]],
    tsigKeys: [],
    transferAcl: [],
    notify: [],
    journalMaxChanges: 10_000,
    pagekiteAddress: "",
    ...overrides,
  };
}

export interface Gateway {
  label: string;
  mode: number;
  token: string;
  ip?: string;
  challenge?: string;
}

/** The gateways the tests expect; tokens are fixed so signatures can be computed. */
export const GATEWAYS: Gateway[] = [
  { label: "tun", mode: 0, token: "11111111-1111-4111-8111-111111111111", ip: "198.51.100.7" },
  { label: "home", mode: 1, token: "22222222-2222-4222-8222-222222222222", ip: "203.0.113.5", challenge: "chal-123" },
  { label: "six", mode: 1, token: "33333333-3333-4333-8333-333333333333", ip: "2001:db8:1::5" },
  { label: "fresh", mode: 1, token: "44444444-4444-4444-8444-444444444444" },
  { label: "mapped", mode: 1, token: "55555555-5555-4555-8555-555555555555", ip: "::ffff:203.0.113.9" },
];

/** A real SQLite file in a temporary directory, holding GATEWAYS. */
export function seededStore(): { store: Store; dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "regsrv-dns-"));
  const db = openDatabase(join(dir, "registration.sqlite"));
  const store = createStore(db);
  const now = Math.floor(Date.now() / 1000);
  for (const g of GATEWAYS) {
    if (!store.insertDomain({ name: `${g.label}.example.test.`, token: g.token, description: "", mode: g.mode, timestamp: now }))
      throw new Error("seed failed");
    if (g.ip) store.recordPing(g.token, now, g.ip);
    if (g.challenge) store.setDnsChallenge(g.token, g.challenge);
  }
  return {
    store,
    dir,
    cleanup() {
      db.$client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An answer cache with a 1 MiB ring instead of the server's 24 MiB, for DNS servers started in a
 * test process. No test here fills 1 MiB (the ring's own tests pick their sizes), and under
 * MIMALLOC_PURGE_DELAY=-1 (bunfig.toml) a 24 MiB ring is 24 MiB of reused memory zeroed at each
 * start: ~70 starts a run cost ~1.8 s of CPU.
 */
export const testAnswerCache = (versions?: AnswerVersions) => new AnswerCache(1 << 20, versions);

/**
 * startDnsServer in this process on a port it binds itself, with a test-sized answer cache;
 * without the start-up warm-up unless the zone asks for it (dns.warm_up_queries; zones built by
 * testZone have none).
 */
export async function startTestDns(
  zone: DnsSettings,
  lookups: ZoneLookups,
  log: string[] = [],
  options: Pick<DnsServerOptions, "tcp" | "openSnapshot" | "counters"> = {},
) {
  const server = await startDnsServer({ host: "127.0.0.1", port: 0, zone, lookups, cache: testAnswerCache(), log: (line) => log.push(line), ...options });
  return { port: server.port, close: () => server.close(), log };
}
