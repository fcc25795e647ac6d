// AXFR/IXFR through real sockets: access, streaming with backpressure, and a real client (dig).
import { afterAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import type { GatewayRecord } from "../../src/gateway-data.ts";
import type { ZoneSnapshot } from "../../src/dns/transfer.ts";
import type { DnsSettings } from "../../src/config.ts";
import { decode, encodeQuery, seededStore, startTestDns, tcpExchange, tcpFramed, testZone, udpExchange } from "./client.ts";
import { haveTools } from "../support/tools.ts";

const seeded = seededStore();
afterAll(() => seeded.cleanup());
const lookups = { gateway: seeded.store.findGatewayByName };
const SERIAL = 2024010107;

/** Gateway gw<i>; `challenge`: its ACME challenge (a TXT record), for rows that fill socket buffers with few records. */
const row = (i: number, challenge = ""): [string, GatewayRecord] => [
  `gw${i}.example.test.`,
  { mode: 1, lastIp: "", lastIpv4: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, lastIpv6: "", dnsChallenge: challenge, token: "" },
];
const rows = (count: number, challenge = "") => Array.from({ length: count }, (_, i) => row(i, challenge));

/** Rows made as the server takes them: a big zone costs only what is sent of it. */
function* lazyRows(count: number, challenge = ""): Generator<[string, GatewayRecord]> {
  for (let i = 0; i < count; i++) yield row(i, challenge);
}

/** Opens snapshots over `gateways` (or a new iterable of them per snapshot), counting the ones open now and the rows the server took. */
function snapshots(gateways: Iterable<[string, GatewayRecord]> | (() => Iterable<[string, GatewayRecord]>)) {
  const state = { open: 0, opened: 0, pulled: 0 };
  const open = (): ZoneSnapshot => {
    state.open++;
    state.opened++;
    let closed = false;
    return {
      serial: SERIAL,
      gateways: function* () {
        for (const row of typeof gateways === "function" ? gateways() : gateways) {
          state.pulled++;
          yield row;
        }
      },
      changesetsSince: () => null,
      close() {
        if (!closed) state.open--;
        closed = true;
      },
    };
  };
  return { state, open };
}

/** A challenge that makes each row ~250 bytes on the wire: socket buffers fill with few rows encoded. */
const BIG_CHALLENGE = "c".repeat(200);

/** Resolves once `value()` is positive and has not changed for 250 ms (at most 10 s). */
async function settled(value: () => number): Promise<void> {
  let last = -1;
  let still = 0;
  for (const deadline = Date.now() + 10_000; Date.now() < deadline && still < 5; ) {
    await Bun.sleep(50);
    const now = value();
    still = now > 0 && now === last ? still + 1 : 0;
    last = now;
  }
}

const zoneWith = (acl: DnsSettings["transferAcl"]) => testZone({ transferAcl: acl });

/** Reads a whole transfer over TCP: messages until the second SOA. */
function axfr(port: number, query = encodeQuery("example.test", "AXFR"), timeoutMs = 20_000): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const messages: Buffer[] = [];
    let pending = Buffer.alloc(0);
    let soas = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`transfer incomplete after ${messages.length} messages`));
    }, timeoutMs);
    socket.on("error", reject);
    socket.on("close", () => {
      clearTimeout(timer);
      reject(new Error(`connection closed after ${messages.length} messages`)); // a no-op once resolved
    });
    socket.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const message = pending.subarray(2, 2 + pending.readUInt16BE(0));
        pending = pending.subarray(2 + message.length);
        messages.push(message);
        const decoded = decode(message);
        soas += (decoded.answers ?? []).filter((a) => a.type === "SOA").length;
        if (soas >= 2 || decoded.rcode !== "NOERROR") {
          clearTimeout(timer);
          socket.destroy();
          resolve(messages);
        }
      }
    });
    socket.write(tcpFramed(query));
  });
}

describe("zone transfers over sockets", () => {
  test("an allowed client gets the whole zone over TCP, SOA first and last, in many messages", async () => {
    // ~700 rows fill a message (16 KB)
    const source = snapshots(rows(5000));
    const dns = await startTestDns(zoneWith([{ cidr: "127.0.0.0/8", key: "" }]), lookups, [], { openSnapshot: source.open });
    try {
      const messages = await axfr(dns.port);
      const answers = messages.flatMap((m) => decode(m).answers ?? []);
      expect(messages.length).toBeGreaterThan(5);
      expect(answers[0].type).toBe("SOA");
      expect(answers.at(-1)!.type).toBe("SOA");
      expect(answers.filter((a) => a.type === "A" && a.name.startsWith("gw")).length).toBe(5000);
      expect(source.state.open).toBe(0);
    } finally {
      await dns.close();
    }
  });

  test.skipIf(!haveTools("dig"))("dig reads the transfer as a complete zone", async () => {
    const source = snapshots(rows(2000));
    const dns = await startTestDns(zoneWith([{ cidr: "127.0.0.1/32", key: "" }]), lookups, [], { openSnapshot: source.open });
    try {
      // not spawnSync: the server answers from this thread
      const dig = Bun.spawn(["dig", "@127.0.0.1", "-p", String(dns.port), "example.test", "AXFR", "+nocmd", "+nostats"], { stdout: "pipe" });
      const out = await new Response(dig.stdout).text();
      expect(out).not.toContain("failed");
      const lines = out.split("\n").filter((l) => l && !l.startsWith(";"));
      expect(lines.filter((l) => /\tSOA\t/.test(l))).toHaveLength(2);
      expect(lines.filter((l) => /^gw\d+\.example\.test\.\s+60\s+IN\s+A\s/.test(l))).toHaveLength(2000);
    } finally {
      await dns.close();
    }
  });

  test("a client outside dns.transfer_acl, or with no ACL at all, is refused", async () => {
    for (const acl of [[], [{ cidr: "192.0.2.0/24", key: "" }], [{ cidr: "127.0.0.0/8", key: "xfr-key." }]]) {
      const source = snapshots(rows(10));
      const dns = await startTestDns(zoneWith(acl), lookups, [], { openSnapshot: source.open });
      try {
        const [reply] = await tcpExchange(dns.port, [encodeQuery("example.test", "AXFR")]);
        expect(decode(reply).rcode).toBe("REFUSED");
        expect(decode(reply).answers).toEqual([]);
        expect(source.state.opened).toBe(0);
      } finally {
        await dns.close();
      }
    }
  });

  test("AXFR over UDP is refused; a transfer of a name that is not the zone's apex too", async () => {
    const source = snapshots(rows(10));
    const dns = await startTestDns(zoneWith([{ cidr: "127.0.0.0/8", key: "" }]), lookups, [], { openSnapshot: source.open });
    try {
      expect(decode(await udpExchange(dns.port, encodeQuery("example.test", "AXFR"))).rcode).toBe("REFUSED");
      const [sub] = await tcpExchange(dns.port, [encodeQuery("home.example.test", "AXFR")]);
      expect(decode(sub).rcode).toBe("REFUSED");
      const [other] = await tcpExchange(dns.port, [encodeQuery("example.org", "AXFR")]);
      expect(decode(other).rcode).toBe("REFUSED");
      expect(source.state.opened).toBe(0);
    } finally {
      await dns.close();
    }
  });

  test("a peer that stops reading holds one socket buffer, not the zone; closing it ends the transfer", async () => {
    // with 200-byte challenges, ~50 MB on the wire: far past what the socket buffers hold
    const total = 200_000;
    const source = snapshots(() => lazyRows(total, BIG_CHALLENGE));
    const dns = await startTestDns(zoneWith([{ cidr: "127.0.0.0/8", key: "" }]), lookups, [], { openSnapshot: source.open });
    try {
      const socket = connect(dns.port, "127.0.0.1");
      let received = 0;
      socket.on("data", (chunk: Buffer) => {
        received += chunk.length;
        socket.pause(); // read one chunk, then stop
      });
      const query = encodeQuery("example.test", "AXFR");
      socket.write(tcpFramed(query));
      // the server sends until the socket buffers are full, then waits for the reader
      await settled(() => source.state.pulled);
      expect(source.state.open).toBe(1);
      expect(received).toBeGreaterThan(0);
      expect(received).toBeLessThan(4 << 20);
      // what the server took of the zone is bounded by the socket buffers, not the zone
      expect(source.state.pulled).toBeLessThan(total / 4);
      socket.destroy();
      for (let i = 0; i < 50 && source.state.open > 0; i++) await Bun.sleep(20);
      expect(source.state.open).toBe(0);
      // and the server still answers
      expect(decode(await udpExchange(dns.port, encodeQuery("home.example.test", "A"))).rcode).toBe("NOERROR");
    } finally {
      await dns.close();
    }
  });

  test("past 8 transfers at once, another is refused; queries on the same connection wait for the transfer", async () => {
    const source = snapshots(() => lazyRows(200_000, BIG_CHALLENGE));
    const dns = await startTestDns(zoneWith([{ cidr: "127.0.0.0/8", key: "" }]), lookups, [], { openSnapshot: source.open });
    const stalled: ReturnType<typeof connect>[] = [];
    try {
      const query = encodeQuery("example.test", "AXFR");
      for (let i = 0; i < 8; i++) {
        const socket = connect(dns.port, "127.0.0.1");
        socket.on("data", () => socket.pause());
        socket.write(tcpFramed(query));
        stalled.push(socket);
      }
      for (let i = 0; i < 100 && source.state.open < 8; i++) await Bun.sleep(20);
      expect(source.state.open).toBe(8);
      const [ninth] = await tcpExchange(dns.port, [query]);
      expect(decode(ninth).rcode).toBe("REFUSED");
      for (const socket of stalled) socket.destroy();
      for (let i = 0; i < 50 && source.state.open > 0; i++) await Bun.sleep(20);
      // a transfer and then a query on one connection: the query's answer follows the last SOA
      const small = snapshots(rows(10));
      await dns.close();
      const again = await startTestDns(zoneWith([{ cidr: "127.0.0.0/8", key: "" }]), lookups, [], { openSnapshot: small.open });
      try {
        const replies = await tcpExchange(again.port, [query, encodeQuery("home.example.test", "A", { id: 4242 })], 2, 5000);
        const last = decode(replies.at(-1)!);
        expect(replies.length).toBe(2);
        expect(decode(replies[0]).answers!.filter((a) => a.type === "SOA")).toHaveLength(2);
        expect(last.id).toBe(4242);
      } finally {
        await again.close();
      }
    } finally {
      for (const socket of stalled) socket.destroy();
      await dns.close().catch(() => {});
    }
  });
});

describe("a transfer under way at the connection caps", () => {
  test("is never the connection closed to make room, though its output is all flushed between turns", async () => {
    const source = snapshots(() => lazyRows(30_000));
    const tcp = { maxConnections: 2, maxPerClient: 2, idleTimeoutMs: 10_000, messageTimeoutMs: 5_000 };
    const dns = await startTestDns(zoneWith([{ cidr: "127.0.0.0/8", key: "" }]), lookups, [], { openSnapshot: source.open, tcp });
    const held: ReturnType<typeof connect>[] = [];
    try {
      let done = false;
      const transfer = axfr(dns.port).finally(() => (done = true));
      for (let i = 0; i < 100 && source.state.pulled === 0; i++) await Bun.sleep(5);
      // newcomers, each answered and then left open: each one past the cap pushes out an idle one
      let newcomers = 0;
      while (!done && newcomers < 300) {
        const socket = connect(dns.port, "127.0.0.1");
        socket.on("error", () => {});
        const query = encodeQuery("home.example.test", "A", { id: newcomers });
        await new Promise<void>((resolve) => {
          socket.once("data", () => resolve());
          socket.once("close", () => resolve());
          socket.write(tcpFramed(query));
        });
        held.push(socket);
        newcomers++;
      }
      const messages = await transfer;
      expect(newcomers).toBeGreaterThan(1);
      expect(messages.flatMap((m) => decode(m).answers ?? []).filter((a) => a.type === "SOA")).toHaveLength(2);
    } finally {
      for (const socket of held) socket.destroy();
      await dns.close();
    }
  });
});

describe("a query pipelined behind a transfer", () => {
  test("waits for the transfer however long it takes: a whole message waiting is not one arriving past its deadline", async () => {
    const total = 10_000;
    const dns = await startTestDns(zoneWith([{ cidr: "127.0.0.0/8", key: "" }]), lookups, [], {
      openSnapshot: snapshots(() => lazyRows(total, BIG_CHALLENGE)).open,
      tcp: { messageTimeoutMs: 20 }, // far less than the ~2.4 MB transfer takes
    });
    try {
      // every message up to the query's answer, or up to the connection's end
      const replies = await new Promise<ReturnType<typeof decode>[]>((resolve) => {
        const socket = connect(dns.port, "127.0.0.1");
        const messages: ReturnType<typeof decode>[] = [];
        let pending = Buffer.alloc(0);
        const done = () => {
          socket.destroy();
          resolve(messages);
        };
        const timer = setTimeout(done, 30_000);
        socket.on("close", done);
        socket.on("data", (chunk: Buffer) => {
          pending = Buffer.concat([pending, chunk]);
          while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
            messages.push(decode(pending.subarray(2, 2 + pending.readUInt16BE(0))));
            pending = pending.subarray(2 + pending.readUInt16BE(0));
            if (messages.at(-1)!.id === 4242) {
              clearTimeout(timer);
              done();
            }
          }
        });
        const queries = [encodeQuery("example.test", "AXFR"), encodeQuery("home.example.test", "A", { id: 4242 })];
        socket.write(Buffer.concat(queries.map(tcpFramed)));
      });
      const records = replies.slice(0, -1).flatMap((m) => m.answers ?? []);
      expect(records.filter((a) => a.type === "SOA")).toHaveLength(2);
      expect(records.filter((a) => a.type === "A" && a.name.startsWith("gw"))).toHaveLength(total);
      expect(replies.at(-1)!.id).toBe(4242);
    } finally {
      await dns.close();
    }
  }, 40_000);
});

describe("a slow transfer shares the thread", () => {
  test("messages that take long to make (a presigned zone's) go out one per turn: a query waits for at most about two", async () => {
    // Each row costs 0.2 ms of CPU, and a message holds ~60 of these rows (A + a long TXT), so
    // each message takes over 10 ms, as signing ~100 RRsets does.
    const gateways = rows(2000, BIG_CHALLENGE);
    let pulled = 0;
    const slow: ZoneSnapshot = {
      serial: SERIAL,
      *gateways() {
        for (const row of gateways) {
          const until = performance.now() + 0.2;
          while (performance.now() < until) {}
          pulled++;
          yield row;
        }
      },
      changesetsSince: () => null,
      close() {},
    };
    const dns = await startTestDns(zoneWith([{ cidr: "127.0.0.0/8", key: "" }]), lookups, [], { openSnapshot: () => slow });
    try {
      const transfer = axfr(dns.port);
      for (let i = 0; i < 100 && pulled === 0; i++) await Bun.sleep(10);
      const waits: number[] = [];
      for (let i = 0; i < 5 && pulled < gateways.length * 0.8; i++) {
        const before = pulled;
        expect(decode(await udpExchange(dns.port, encodeQuery("home.example.test", "A"), 5000)).rcode).toBe("NOERROR");
        waits.push(pulled - before);
        await Bun.sleep(20);
      }
      const messages = await transfer;
      const rowsPerMessage = gateways.length / messages.length;
      expect(waits.length).toBeGreaterThan(0);
      // 8 messages a turn would make a query wait for several of them
      expect(Math.max(...waits)).toBeLessThan(3 * rowsPerMessage);
    } finally {
      await dns.close();
    }
  }, 30_000);
});

describe.skipIf(!haveTools("dig"))("TSIG on the server's answers", () => {
  const key = { name: "xfr-key.", algorithm: "hmac-sha256" as const, secret: Buffer.alloc(32, 7).toString("base64") };
  const signedZone = () => testZone({ tsigKeys: [key], transferAcl: [{ cidr: "127.0.0.0/8", key: "xfr-key." }] });
  const dig = async (port: number, ...args: string[]) => {
    const child = Bun.spawn(["dig", "@127.0.0.1", "-p", String(port), "+nocmd", "+tries=1", "+time=3", ...args], { stdout: "pipe", stderr: "pipe" });
    return (await new Response(child.stdout).text()) + (await new Response(child.stderr).text());
  };

  test("dig -y gets a signed, verified transfer when the ACL asks for the key; unsigned is refused", async () => {
    const source = snapshots(rows(3000));
    const dns = await startTestDns(signedZone(), lookups, [], { openSnapshot: source.open });
    try {
      const out = await dig(dns.port, "-y", `hmac-sha256:xfr-key.:${key.secret}`, "example.test", "AXFR");
      expect(out).not.toMatch(/failed|failure|Couldn't verify|BADSIG|BADKEY/i);
      expect(out.split("\n").filter((l) => /\tSOA\t/.test(l))).toHaveLength(2);
      expect(out.split("\n").filter((l) => /^gw\d+\.example\.test\.\s/.test(l) && /\tA\t/.test(l))).toHaveLength(3000);
      const unsigned = await dig(dns.port, "example.test", "AXFR");
      expect(unsigned).toMatch(/Transfer failed|REFUSED/);
    } finally {
      await dns.close();
    }
  });

  test("a signed ordinary query gets a signed answer dig verifies; the same query twice is never served from the cache unsigned", async () => {
    const dns = await startTestDns(signedZone(), lookups);
    try {
      for (let i = 0; i < 2; i++) {
        const out = await dig(dns.port, "-y", `hmac-sha256:xfr-key.:${key.secret}`, "home.example.test", "A");
        expect(out).toContain("status: NOERROR");
        expect(out).toMatch(/xfr-key\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\./);
        expect(out).not.toMatch(/Couldn't verify|failure/i);
      }
    } finally {
      await dns.close();
    }
  });

  test("a query signed with an unknown key or a wrong secret gets NOTAUTH, not an answer", async () => {
    const dns = await startTestDns(signedZone(), lookups);
    try {
      const unknown = await dig(dns.port, "-y", `hmac-sha256:other-key.:${key.secret}`, "home.example.test", "A");
      expect(unknown).toMatch(/NOTAUTH|BADKEY|tsig indicates error/i);
      expect(unknown).not.toMatch(/^home\.example\.test\.\s.*\tA\t/m);
      const wrong = await dig(dns.port, "-y", `hmac-sha256:xfr-key.:${Buffer.alloc(32, 8).toString("base64")}`, "example.test", "AXFR");
      expect(wrong).toMatch(/NOTAUTH|BADSIG|tsig indicates error|Transfer failed/i);
      expect(wrong).not.toMatch(/\tSOA\t/);
    } finally {
      await dns.close();
    }
  });

  test("IXFR over UDP from an allowed client gets the current SOA alone", async () => {
    const source = snapshots(rows(10));
    const dns = await startTestDns(testZone({ transferAcl: [{ cidr: "127.0.0.0/8", key: "" }] }), lookups, [], { openSnapshot: source.open });
    try {
      const out = await dig(dns.port, "+notcp", "example.test", "IXFR=2024010100");
      expect(out).toContain("(UDP)");
      expect(out.split("\n").filter((l) => /\tSOA\t/.test(l) && !l.startsWith(";"))).toHaveLength(1);
      expect(source.state.opened).toBe(0);
    } finally {
      await dns.close();
    }
  });

  test("with dns.transfer_image_mb the zone is read at start-up; signed transfers (AXFR and a whole-zone IXFR) come from that one reading", async () => {
    const source = snapshots(rows(3000));
    const zone = testZone({ tsigKeys: [key], transferAcl: [{ cidr: "127.0.0.0/8", key: "xfr-key." }], transferImageMb: 16 });
    const dns = await startTestDns(zone, lookups, [], { openSnapshot: source.open });
    try {
      // made ahead, before anyone asked: a restart NOTIFYs the secondaries, which come at once
      for (let i = 0; i < 100 && (source.state.pulled < 3000 || source.state.open > 0); i++) await Bun.sleep(20);
      expect(source.state.pulled).toBe(3000);
      expect(source.state.open).toBe(0);
      for (const type of ["AXFR", "IXFR=2024010100"]) {
        const out = await dig(dns.port, "-y", `hmac-sha256:xfr-key.:${key.secret}`, "+dnssec", "EXAMPLE.test", type);
        expect(out).not.toMatch(/failed|failure|Couldn't verify|BADSIG|BADKEY/i);
        expect(out.split("\n").filter((l) => /\tSOA\t/.test(l) && !l.startsWith(";"))).toHaveLength(2);
        expect(out.split("\n").filter((l) => /^gw\d+\.example\.test\.\s/i.test(l) && /\tA\t/.test(l))).toHaveLength(3000);
      }
      expect(source.state.pulled).toBe(3000); // no second reading of the rows
    } finally {
      await dns.close();
    }
  });

  test("a server closed while it makes the zone's image ahead stops reading the zone", async () => {
    const total = 60_000; // ~7 MB: a few hundred ms of reading ahead
    const source = snapshots(() => lazyRows(total));
    const zone = testZone({ transferAcl: [{ cidr: "127.0.0.0/8", key: "" }], transferImageMb: 16 });
    const dns = await startTestDns(zone, lookups, [], { openSnapshot: source.open });
    await dns.close();
    const atClose = source.state.pulled;
    expect(atClose).toBeLessThan(total);
    for (let turn = 0; turn < 20; turn++) await Bun.sleep(10);
    expect(source.state.pulled).toBe(atClose);
    expect(source.state.open).toBe(0);
  });

  test("IXFR over TCP with a serial outside the journal gets the whole zone", async () => {
    const source = snapshots(rows(500));
    const dns = await startTestDns(testZone({ transferAcl: [{ cidr: "127.0.0.0/8", key: "" }] }), lookups, [], { openSnapshot: source.open });
    try {
      const out = await dig(dns.port, "example.test", "IXFR=2024010100");
      expect(out.split("\n").filter((l) => /\tSOA\t/.test(l) && !l.startsWith(";"))).toHaveLength(2);
      expect(out.split("\n").filter((l) => /^gw\d+\.example\.test\.\s/.test(l) && /\tA\t/.test(l))).toHaveLength(500);
    } finally {
      await dns.close();
    }
  });
});
