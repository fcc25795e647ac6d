// A TCP peer that stops reading its answers (pipelined queries, or a zone transfer) and never
// closes is cut off once its output has made no progress for the idle time: Bun's socket
// timeout does not fire while output waits to be written, so without a timer of our own such
// connections stayed open for good, filling the connection caps (every later client refused)
// and holding a transfer's slot and its read transaction. A peer that takes a chunk now and
// then is never idle: past a cap, it makes room for a newcomer instead. See docs/operations.md,
// "DNS over TCP".
import { afterAll, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import type { ZoneSnapshot } from "../../src/dns/transfer.ts";
import type { GatewayRecord } from "../../src/gateway-data.ts";
import { decode, encodeQuery, seededStore, startTestDns, tcpExchange, tcpFramed, testZone } from "../dns/client.ts";

const seeded = seededStore();
afterAll(() => seeded.cleanup());
const lookups = { gateway: seeded.store.findGatewayByName };
// ~10 KB an answer over TCP: 2,000 of them (20 MB) are far past what loopback's socket buffers hold
const txt: [string, string][] = Array.from({ length: 40 }, (_, i) => ["@", String(i % 10).repeat(250)]);
const tcp = { maxConnections: 4, maxPerClient: 4, idleTimeoutMs: 300, messageTimeoutMs: 300 };

/** Connects, sends `payloads` a few milliseconds apart, and neither reads (past one chunk) nor closes. */
async function stalledPeer(port: number, payloads: Buffer[]): Promise<Socket> {
  const socket = connect({ port, host: "127.0.0.1" });
  socket.on("error", () => {});
  socket.on("data", () => socket.pause());
  for (const payload of payloads) {
    socket.write(payload);
    await Bun.sleep(1);
  }
  return socket;
}

/**
 * Sends `queries` in one write (read by the server at once, so no message is ever under way and
 * the message deadline never starts), then takes one chunk of the answers every `everyMs`, less
 * than the idle time: always some progress, never caught up.
 */
async function tricklePeer(port: number, queries: Buffer[], everyMs: number): Promise<Socket> {
  const socket = await stalledPeer(port, [Buffer.concat(queries)]);
  const timer = setInterval(() => socket.resume(), everyMs);
  socket.on("close", () => clearInterval(timer));
  return socket;
}

/** Whether a new client's query over TCP is answered (not refused at the connection caps). */
async function answered(port: number): Promise<boolean> {
  try {
    const [reply] = await tcpExchange(port, [encodeQuery("home.example.test", "A", { id: 7 })], 1, 1000);
    return decode(reply).id === 7 && decode(reply).rcode === "NOERROR";
  } catch {
    return false;
  }
}

async function waitFor(condition: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await Bun.sleep(100)) if (await condition()) return true;
  return condition();
}

test("peers that pipeline queries and never read are cut after the idle time; the connection caps free up for others", async () => {
  const dns = await startTestDns(testZone({ txt }), lookups, [], { tcp });
  const peers: Socket[] = [];
  try {
    // Sent 50 at a time, the queries are answered as they come until the output stalls; the
    // rest wait unread in the kernel (reading is paused then). Each write holds whole messages,
    // so none is under way and the message deadline never starts: the idle time cuts the peer.
    const queries = Array.from({ length: 40 }, (_, chunk) =>
      Buffer.concat(Array.from({ length: 50 }, (_, i) => tcpFramed(encodeQuery("example.test", "TXT", { id: chunk * 50 + i })))),
    );
    peers.push(...(await Promise.all(Array.from({ length: tcp.maxConnections }, () => stalledPeer(dns.port, queries)))));
    // Cut by the server: a peer that reads nothing learns it on its next write (a reset). A
    // newcomer alone would not show it: past the caps, a stalled reader also makes room for one.
    // The probe goes again every 100 ms: one sent before the cut (output that moved restarts the
    // idle time) would meet an open connection, and the paused socket would not see the reset.
    await Bun.sleep(tcp.idleTimeoutMs);
    for (const deadline = Date.now() + 5000; Date.now() < deadline && !peers.every((p) => p.destroyed); await Bun.sleep(100))
      for (const p of peers) if (!p.destroyed) p.write(tcpFramed(encodeQuery("example.test", "A")));
    expect(peers.map((p) => p.destroyed)).toEqual(peers.map(() => true));
    expect(await waitFor(() => answered(dns.port))).toBe(true);
  } finally {
    for (const p of peers) p.destroy();
    await dns.close();
  }
}, 30_000);

test("peers that take their answers a chunk at a time, so never idle, do not keep a newcomer out: the longest-waiting makes room", async () => {
  // ~52 KB an answer: 1,000 queries (33 KB, one read) ask for 52 MB each, far past what the
  // kernel's buffers hold, so each peer has answers waiting for it the whole test
  const big: [string, string][] = Array.from({ length: 200 }, (_, i) => ["@", String(i % 10).repeat(250)]);
  const dns = await startTestDns(testZone({ txt: big }), lookups, [], { tcp: { ...tcp, idleTimeoutMs: 10_000 } });
  const peers: Socket[] = [];
  try {
    const queries = Array.from({ length: 1000 }, (_, i) => tcpFramed(encodeQuery("example.test", "TXT", { id: i })));
    peers.push(...(await Promise.all(Array.from({ length: tcp.maxConnections }, () => tricklePeer(dns.port, queries, 100)))));
    await Bun.sleep(500);
    // each newcomer is answered at once, at the cost of one reader's connection
    for (let i = 0; i < 3; i++) expect(await answered(dns.port)).toBe(true);
  } finally {
    for (const p of peers) p.destroy();
    await dns.close();
  }
}, 30_000);

test("a zone transfer to a peer that never reads ends after the idle time: its snapshot is closed and its slot free", async () => {
  let open = 0;
  const row = (i: number): [string, GatewayRecord] => [
    `gw${i}.example.test.`,
    { mode: 1, lastIp: "", lastIpv4: `10.0.${(i >> 8) & 255}.${i & 255}`, lastIpv6: "", dnsChallenge: "c".repeat(200), token: "" },
  ];
  const openSnapshot = (): ZoneSnapshot => {
    open++;
    let closed = false;
    return {
      serial: 1,
      gateways: function* () {
        for (let i = 0; i < 200_000; i++) yield row(i);
      },
      changesetsSince: () => null,
      close() {
        if (!closed) open--;
        closed = true;
      },
    };
  };
  const dns = await startTestDns(testZone({ transferAcl: [{ cidr: "127.0.0.0/8", key: "" }] }), lookups, [], { tcp, openSnapshot });
  const peer = await stalledPeer(dns.port, [tcpFramed(encodeQuery("example.test", "AXFR"))]);
  try {
    expect(await waitFor(() => open === 1)).toBe(true);
    expect(await waitFor(() => open === 0)).toBe(true);
    expect(await answered(dns.port)).toBe(true);
  } finally {
    peer.destroy();
    await dns.close();
  }
}, 30_000);
