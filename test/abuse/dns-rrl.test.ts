// The server cannot be borrowed to flood a third party (docs/operations.md, "Response-rate limiting"):
// UDP answers are rate-limited per client prefix and answer class (dns.rrl_rate, dns.rrl_slip),
// ANY gets one RRset, TCP is never limited. Bursts from loopback, bounded by count.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import { loadSettings, SettingsError } from "../../src/config.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import { decode, encodeQuery, seededStore, startTestDns, tcpExchange, testZone, udpExchange } from "../dns/client.ts";

interface BurstOutcome {
  full: number;
  truncated: number;
  other: number;
  seconds: number;
}

/** Queries of other answer classes than any burst's (a positive answer, an error, NODATA or positive), one after each window. */
const SENTINELS: [string, string][] = [
  ["example.test", "NS"],
  ["example.org", "A"],
  ["example.test", "A"],
];
/** Their IDs: above any burst's. */
const SENTINEL_ID = 0xf000;
/** Queries sent before waiting for the server: far fewer than fill its socket's receive buffer. */
const WINDOW = 150;

/**
 * Sends `count` copies of a query (IDs 1..count) from one socket and sorts the replies. After each
 * window of them, a query of another answer class: the server reads a socket's datagrams in order,
 * so its answer means the window was answered, truncated or dropped, none left in a buffer to be
 * lost on a busy machine. Each sentinel class is asked at most 7 times: within its rate's budget.
 */
async function burst(port: number, name: string, type: string, count: number): Promise<BurstOutcome> {
  const socket = createSocket("udp4");
  const outcome: BurstOutcome = { full: 0, truncated: 0, other: 0, seconds: 0 };
  let sentinel: { id: number; answered: () => void } | null = null;
  socket.on("message", (m) => {
    if (m.readUInt16BE(0) >= SENTINEL_ID) {
      if (m.readUInt16BE(0) === sentinel?.id) sentinel.answered();
      return;
    }
    const reply = decode(m);
    if (reply.flag_tc && reply.answers!.length === 0) outcome.truncated++;
    else if (!reply.flag_tc && reply.answers!.length > 0) outcome.full++;
    else outcome.other++;
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  const query = encodeQuery(name, type);
  const started = performance.now();
  for (let sent = 0, k = 0; sent < count; k++) {
    const end = Math.min(count, sent + WINDOW);
    for (let id = sent + 1; id <= end; id++) {
      query.writeUInt16BE(id, 0);
      socket.send(Buffer.from(query), port, "127.0.0.1");
    }
    sent = end;
    const [sentinelName, sentinelType] = SENTINELS[k % SENTINELS.length];
    // a bound, not a measurement: a lost sentinel only ends the wait
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      sentinel = {
        id: SENTINEL_ID + k,
        answered: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      socket.send(encodeQuery(sentinelName, sentinelType, { id: SENTINEL_ID + k }), port, "127.0.0.1");
    });
  }
  outcome.seconds = (performance.now() - started) / 1000;
  socket.close();
  return outcome;
}

describe("response-rate limiting in the running server (dns.rrl_rate = 10)", () => {
  const RATE = 10;
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ env: { REGISTRATION_DNS_RRL_RATE: String(RATE) } });
  });
  afterAll(async () => {
    await server?.cleanup();
  });

  let outcome: BurstOutcome;
  test("3,000 identical queries get about rate x seconds full answers; of the rest every 2nd is truncated, the others dropped", async () => {
    // Identical questions: all but the first are served from the answer cache, which is limited too.
    outcome = await burst(server.dnsPort, "example.test", "SOA", 3000);
    expect(outcome.other).toBe(0);
    expect(outcome.full).toBeGreaterThanOrEqual(RATE);
    expect(outcome.full).toBeLessThanOrEqual(Math.ceil(RATE * outcome.seconds) + RATE);
    const limited = 3000 - outcome.full;
    expect(outcome.truncated).toBeLessThanOrEqual(Math.ceil(limited / 2));
    expect(outcome.truncated).toBeGreaterThanOrEqual(Math.floor((limited / 2) * 0.9)); // room for a datagram lost on a busy machine
    await server.waitForOutput(/response-rate limit \(dns\.rrl_rate = 10\/s\) truncated or dropped/);
  }, 20_000);

  test("another answer class is not limited by that burst", async () => {
    const reply = decode(await udpExchange(server.dnsPort, encodeQuery("nobody.example.test", "A", { id: 5 })));
    expect([reply.rcode, reply.flag_tc, reply.authorities!.length]).toEqual(["NXDOMAIN", false, 1]);
  });

  test("made-up PageKite names, each a new question, share one budget: 100 of them get about `rate` full answers", async () => {
    const socket = createSocket("udp4");
    let full = 0;
    let done: () => void = () => {};
    const sentinelAnswered = new Promise<void>((resolve) => {
      done = resolve;
    });
    socket.on("message", (m) => {
      if (m.readUInt16BE(0) === SENTINEL_ID) return done();
      const reply = decode(m);
      if (!reply.flag_tc && reply.answers!.length > 0) full++;
    });
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
    const started = performance.now();
    for (let i = 1; i <= 100; i++)
      socket.send(encodeQuery(`r${i}.q.sig.https-443.kite${i}.example.test.example.test`, "A", { id: i }), server.dnsPort, "127.0.0.1");
    // answered after the 100 (one socket, read in order): a bound, not a measurement
    socket.send(encodeQuery("example.test", "MX", { id: SENTINEL_ID }), server.dnsPort, "127.0.0.1");
    await Promise.race([sentinelAnswered, Bun.sleep(5000)]);
    const seconds = (performance.now() - started) / 1000;
    socket.close();
    expect(full).toBeGreaterThanOrEqual(RATE);
    expect(full).toBeLessThanOrEqual(Math.ceil(RATE * seconds) + RATE);
  });

  test("TCP is never limited: 300 pipelined copies of the limited query are all answered in full", async () => {
    const replies = await tcpExchange(
      server.dnsPort,
      Array.from({ length: 300 }, (_, i) => encodeQuery("example.test", "SOA", { id: i + 1 })),
      300,
      10_000,
    );
    expect(replies.map(decode).filter((r) => r.answers!.length === 1 && !r.flag_tc).length).toBe(300);
  });
});

describe("response-rate limiting settings", () => {
  test("dns.rrl_rate defaults to 100 a second and dns.rrl_slip to 2", () => {
    expect(loadSettings([], {}).settings.dns.rrl).toEqual({ rate: 100, slip: 2 });
    expect(loadSettings([], { REGISTRATION_DNS_RRL_RATE: "0", REGISTRATION_DNS_RRL_SLIP: "1" }).settings.dns.rrl).toEqual({ rate: 0, slip: 1 });
  });

  test("a slip above 100 or a negative rate is refused with the key's name", () => {
    expect(() => loadSettings([], { REGISTRATION_DNS_RRL_SLIP: "101" })).toThrow(
      new SettingsError('environment: dns.rrl_slip must be at most 100 (got "101")'),
    );
    expect(() => loadSettings([], { REGISTRATION_DNS_RRL_RATE: "-1" })).toThrow(SettingsError);
  });
});

describe("limits in startDnsServer", () => {
  const seeded = seededStore();
  const lookups = { gateway: seeded.store.findGatewayByName };
  afterAll(() => seeded.cleanup());

  test("rate 0 turns limiting off: 1,000 identical queries get 1,000 full answers", async () => {
    const dns = await startTestDns(testZone({ rrl: { rate: 0, slip: 2 } }), lookups);
    try {
      const outcome = await burst(dns.port, "home.example.test", "A", 1000);
      expect([outcome.full, outcome.truncated, outcome.other]).toEqual([1000, 0, 0]);
    } finally {
      await dns.close();
    }
  }, 20_000);

  test("slip 1 truncates every limited answer, and a different name's answers keep their own budget", async () => {
    const dns = await startTestDns(testZone({ rrl: { rate: 5, slip: 1 } }), lookups);
    try {
      const outcome = await burst(dns.port, "home.example.test", "A", 500);
      expect(outcome.full).toBeLessThanOrEqual(Math.ceil(5 * outcome.seconds) + 5);
      expect(outcome.full + outcome.truncated).toBeGreaterThanOrEqual(490);
      const other = decode(await udpExchange(dns.port, encodeQuery("six.example.test", "AAAA", { id: 6 })));
      expect([other.flag_tc, other.answers!.map((a: any) => a.data)]).toEqual([false, ["2001:db8:1::5"]]);
    } finally {
      await dns.close();
    }
  }, 20_000);

  describe("ANY amplifies no more than twice (RFC 8482: one RRset)", () => {
    let dns: Awaited<ReturnType<typeof startTestDns>>;
    beforeAll(async () => {
      // The test zone holds every kind of record at the apex, TXT included.
      dns = await startTestDns(
        testZone({
          txt: [
            ["@", "v=spf1 -all"],
            ["@", "x".repeat(400)],
            ["*", "gateway"],
          ],
        }),
        lookups,
      );
    });
    afterAll(() => dns.close());

    for (const name of ["example.test", "home.example.test", "tun.example.test", "_acme-challenge.fresh.example.test"])
      for (const edns of [false, { udpPayloadSize: 4096 }] as const)
        test(`${name} ANY${edns ? " with EDNS" : ""}`, async () => {
          const query = encodeQuery(name, "ANY", { edns });
          const reply = await udpExchange(dns.port, query);
          expect(decode(reply).flag_tc).toBe(false);
          expect(new Set(decode(reply).answers!.map((a) => a.type)).size).toBe(1);
          expect(reply.length).toBeLessThanOrEqual(2 * query.length);
        });
  });
});
