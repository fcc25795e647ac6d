// Slow (npm run test:slow): waits out real per-message deadlines.
// DNS over TCP cannot be starved by one client (docs/operations.md, "DNS over TCP"): a deadline
// for each whole message that trickled bytes do not extend, a cap per client and in total, and
// past a cap the oldest idle connection makes room. Real sockets from several loopback
// addresses (127.0.0.x), against startDnsServer with small caps.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { decode, encodeQuery, seededStore, startTestDns, tcpFramed, testZone } from "../dns/client.ts";

const seeded = seededStore();
afterAll(() => seeded.cleanup());
const lookups = { gateway: seeded.store.findGatewayByName };

/** A client connection that records the replies it gets and whether the server closed it. */
interface Client {
  socket: Socket;
  replies: Buffer[];
  closed: boolean;
  whenClosed: Promise<void>;
  /** resolves with the reply count once it reaches `n`, or rejects when the connection closes first */
  whenReplies(n: number, timeoutMs?: number): Promise<number>;
}

function open(port: number, from: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1", localAddress: from });
    let pending = Buffer.alloc(0);
    const waiters: (() => void)[] = [];
    const client: Client = {
      socket,
      replies: [],
      closed: false,
      whenClosed: new Promise((done) => socket.once("close", () => done())),
      whenReplies(n, timeoutMs = 3000) {
        return new Promise((ok, fail) => {
          const timer = setTimeout(() => fail(new Error(`${client.replies.length} of ${n} replies`)), timeoutMs);
          const check = () => {
            if (client.replies.length >= n) ok(client.replies.length);
            else if (client.closed) fail(new Error(`closed after ${client.replies.length} of ${n} replies`));
            else return waiters.push(check);
            clearTimeout(timer);
          };
          check();
        });
      },
    };
    const wake = () => {
      for (const w of waiters.splice(0)) w();
    };
    socket.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        client.replies.push(pending.subarray(2, 2 + pending.readUInt16BE(0)));
        pending = pending.subarray(2 + pending.readUInt16BE(0));
      }
      wake();
    });
    socket.on("error", () => {}); // a reset from the server is what some tests expect
    socket.on("close", () => {
      client.closed = true;
      wake();
    });
    socket.once("connect", () => resolve(client));
    socket.once("error", reject);
  });
}

const QUERY = tcpFramed(encodeQuery("home.example.test", "A", { id: 7 }));

/** A connection that asked and got its answer: idle. */
async function idleClient(port: number, from: string): Promise<Client> {
  const client = await open(port, from);
  client.socket.write(QUERY);
  await client.whenReplies(1);
  return client;
}

/** A connection with a message under way: one whole query (answered, so the server has read it all) and the first byte of the next. */
async function busyClient(port: number, from: string): Promise<Client> {
  const client = await open(port, from);
  client.socket.write(Buffer.concat([QUERY, QUERY.subarray(0, 1)]));
  await client.whenReplies(1);
  return client;
}

/** Opens a connection and asks one query: the answer, or null when the server closed it unanswered. */
async function ask(port: number, from: string): Promise<string | null> {
  const client = await open(port, from);
  client.socket.write(QUERY);
  try {
    await client.whenReplies(1);
  } catch {
    return null;
  } finally {
    client.socket.destroy();
  }
  return decode(client.replies[0])
    .answers!.map((a: any) => a.data)
    .join(",");
}

describe("TCP slowloris", () => {
  let dns: Awaited<ReturnType<typeof startTestDns>>;
  beforeAll(async () => {
    dns = await startTestDns(testZone(), lookups, [], { tcp: { maxConnections: 8, maxPerClient: 4, messageTimeoutMs: 1000, idleTimeoutMs: 10_000 } });
  });
  afterAll(() => dns.close());

  test("40 connections from one client trickling a byte every 200 ms are all cut off, and a fresh client is answered meanwhile", async () => {
    const GIVE_UP_MS = 4000;
    const started = Date.now();
    // Each sends a byte every 200 ms until the server closes it, or 4 s have passed: a slowloris, bounded.
    const trickle = async () => {
      const client = await open(dns.port, "127.0.0.2");
      let written = 0;
      while (!client.closed && Date.now() - started < GIVE_UP_MS) {
        client.socket.write(QUERY.subarray(written % QUERY.length, (written % QUERY.length) + 1));
        written++;
        await Bun.sleep(200);
      }
      const cutOff = client.closed;
      client.socket.destroy();
      return { cutOff, written, answered: client.replies.length };
    };
    const attack = Array.from({ length: 40 }, trickle);
    await Bun.sleep(300);
    // The fresh client is answered while the attack goes on, at its first try.
    expect(await ask(dns.port, "127.0.0.1")).toBe("203.0.113.5");
    const outcomes = await Promise.all(attack);
    // Every one was closed by the server before the attacker gave up: 36 at once (4 per client),
    // the 4 let in at their 1 s message deadline although they kept sending.
    expect(outcomes.filter((o) => !o.cutOff)).toEqual([]);
    expect(outcomes.filter((o) => o.written >= 3).length).toBeGreaterThanOrEqual(1); // kept trickling, and was still cut
    expect(outcomes.every((o) => o.answered === 0)).toBe(true);
  }, 15_000);
});

describe("TCP connection caps", () => {
  // A fresh server per test; a long message deadline keeps busy connections busy throughout.
  let dns: Awaited<ReturnType<typeof startTestDns>>;
  const opened: Client[] = [];
  beforeEach(async () => {
    dns = await startTestDns(testZone(), lookups, [], { tcp: { maxConnections: 8, maxPerClient: 4, messageTimeoutMs: 30_000, idleTimeoutMs: 30_000 } });
  });
  afterEach(async () => {
    for (const c of opened.splice(0)) c.socket.destroy();
    await dns.close();
  });

  test("past the total cap the oldest idle connection is closed to make room, and the new one is answered", async () => {
    for (let i = 0; i < 8; i++) opened.push(await idleClient(dns.port, `127.0.0.${10 + i}`));
    expect(await ask(dns.port, "127.0.0.30")).toBe("203.0.113.5");
    await opened[0].whenClosed;
    expect(opened.map((c) => c.closed)).toEqual([true, false, false, false, false, false, false, false]);
  });

  test("past the total cap with every connection mid-message, the one whose message has been arriving longest makes room", async () => {
    for (let i = 0; i < 8; i++) opened.push(await busyClient(dns.port, `127.0.0.${10 + i}`));
    expect(await ask(dns.port, "127.0.0.30")).toBe("203.0.113.5");
    await opened[0].whenClosed;
    expect(opened.map((c) => c.closed)).toEqual([true, false, false, false, false, false, false, false]);
  });

  test("a client gets at most 4 connections: its fifth closes its own oldest idle one, not another client's", async () => {
    opened.push(await idleClient(dns.port, "127.0.0.3")); // the oldest of all
    for (let i = 0; i < 4; i++) opened.push(await idleClient(dns.port, "127.0.0.2"));
    expect(await ask(dns.port, "127.0.0.2")).toBe("203.0.113.5");
    await opened[1].whenClosed;
    expect(opened.map((c) => c.closed)).toEqual([false, true, false, false, false]);
  });

  test("a client whose 4 connections are all mid-message: its fifth closes its own slowest, no one else's", async () => {
    opened.push(await busyClient(dns.port, "127.0.0.3")); // busy the longest of all, but another client
    for (let i = 0; i < 4; i++) opened.push(await busyClient(dns.port, "127.0.0.2"));
    expect(await ask(dns.port, "127.0.0.2")).toBe("203.0.113.5");
    await opened[1].whenClosed;
    expect(opened.map((c) => c.closed)).toEqual([false, true, false, false, false]);
    expect(await ask(dns.port, "127.0.0.4")).toBe("203.0.113.5");
  });

  test("pipelined queries on one connection are all answered, in order", async () => {
    const client = await open(dns.port, "127.0.0.5");
    opened.push(client);
    client.socket.write(Buffer.concat(Array.from({ length: 20 }, (_, i) => tcpFramed(encodeQuery("home.example.test", "A", { id: i + 1 })))));
    expect(await client.whenReplies(20)).toBe(20);
    expect(client.replies.map((r) => r.readUInt16BE(0))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });
});

describe("TCP connections kept mid-message for good", () => {
  let dns: Awaited<ReturnType<typeof startTestDns>>;
  beforeAll(async () => {
    dns = await startTestDns(testZone(), lookups, [], { tcp: { maxConnections: 8, maxPerClient: 4, messageTimeoutMs: 1000, idleTimeoutMs: 10_000 } });
  });
  afterAll(() => dns.close());

  test("clients that finish a query and start the next every 400 ms cannot hold the total cap: a fresh client is answered", async () => {
    const GIVE_UP_MS = 4000;
    const started = Date.now();
    // Each completes its message and sends the first byte of the next within the deadline, so
    // every message meets it, yet the connection is never without a message under way.
    const hold = async (from: string) => {
      const client = await open(dns.port, from);
      client.socket.write(QUERY.subarray(0, 1));
      while (!client.closed && Date.now() - started < GIVE_UP_MS) {
        await Bun.sleep(400);
        client.socket.write(Buffer.concat([QUERY.subarray(1), QUERY.subarray(0, 1)]));
      }
      client.socket.destroy();
    };
    const attack = ["127.0.0.2", "127.0.0.3"].flatMap((from) => Array.from({ length: 4 }, () => hold(from)));
    await Bun.sleep(2500); // well past one message deadline
    expect(await ask(dns.port, "127.0.0.9")).toBe("203.0.113.5");
    await Promise.all(attack);
  }, 15_000);
});
