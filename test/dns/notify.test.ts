// NOTIFY (RFC 1996) over real UDP sockets: a stand-in secondary (node:dgram) reads each NOTIFY
// with dns-packet, checks its TSIG, and answers when and how a test says. Delays are shortened;
// the tests wait for outcomes, never measure time.
import { afterEach, describe, expect, test } from "bun:test";
import * as dnsPacket from "dns-packet";
import { createSocket, type Socket } from "node:dgram";
import type { TsigKey } from "../../src/config.ts";
import { createNotifier, type Notifier, type NotifyResult } from "../../src/dns/notify.ts";
import { TsigSigner, tsigErrorReply, verifyRequest } from "../../src/dns/tsig.ts";
import { findTsig } from "../../src/dns/wire.ts";
import { hasIpv6Loopback, testZone } from "./client.ts";

const KEY: TsigKey = { name: "xfr-key.", algorithm: "hmac-sha256", secret: Buffer.alloc(32, 0x42).toString("base64") };
const WRONG: TsigKey = { ...KEY, secret: Buffer.alloc(32, 0x43).toString("base64") };
const FAST = [40, 80, 120, 160];

interface Received {
  message: Buffer;
  serial: number;
  signed: boolean;
  tsigOk: boolean;
}

/** How a stand-in secondary replies: an rcode, signed with a key or not, or as a secondary keeping `keys` with its clock `skew` s off (RFC 8945 5.3.2's error reply when our TSIG fails there). */
interface Reply {
  rcode?: number;
  signWith?: TsigKey;
  checkWith?: { keys: TsigKey[]; skew: number };
}

/** A secondary on 127.0.0.1: `answer(received, nth)` returns how to reply to the nth NOTIFY (from 1), or null for silence. */
async function secondary(answer: (r: Received, nth: number) => Reply | null, host = "127.0.0.1") {
  const socket: Socket = createSocket(host.includes(":") ? "udp6" : "udp4");
  const received: Received[] = [];
  socket.on("message", (message, from) => {
    const decoded = dnsPacket.decode(message) as any;
    const tsig = findTsig(message);
    const tsigOk = tsig !== null && tsig !== "malformed" && verifyRequest(message, tsig, [KEY], Date.now() / 1000).ok;
    const r: Received = { message, serial: decoded.answers[0].data.serial, signed: tsig !== null, tsigOk };
    received.push(r);
    const how = answer(r, received.length);
    if (!how) return;
    let reply = dnsPacket.encode({
      type: "response",
      id: decoded.id,
      // dns-packet writes opcode and rcode only through flags
      flags: dnsPacket.AUTHORITATIVE_ANSWER | (4 << 11) | (how.rcode ?? 0),
      questions: decoded.questions,
    } as any);
    if (how.signWith && tsig && tsig !== "malformed") reply = new TsigSigner(how.signWith, tsig.mac).sign(reply, Date.now() / 1000);
    if (how.checkWith && tsig && tsig !== "malformed") {
      const clock = Date.now() / 1000 + how.checkWith.skew;
      const check = verifyRequest(message, tsig, how.checkWith.keys, clock);
      if (!check.ok) {
        const query = { id: decoded.id, opcode: 4, rd: false, cd: false, question: { name: "example.test", type: 6, class: 1 }, edns: null, tsig };
        reply = tsigErrorReply(query, check.error, how.checkWith.keys, clock);
      }
    }
    socket.send(reply, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, host, () => resolve()));
  return { port: socket.address().port, received, close: () => socket.close() };
}

const notifiers: Notifier[] = [];
const closers: (() => void)[] = [];
afterEach(() => {
  for (const n of notifiers.splice(0)) n.close();
  for (const c of closers.splice(0)) c();
});

function notifierFor(targets: { port: number; key: string; host?: string }[], log: string[] = []) {
  const results: { target: string; serial: number; result: NotifyResult }[] = [];
  const waiters: (() => void)[] = [];
  const zone = testZone({ tsigKeys: [KEY], notify: targets.map((t) => ({ host: "127.0.0.1", ...t })) });
  const notifier = createNotifier({
    zone,
    log: (line) => log.push(line),
    retryDelaysMs: FAST,
    onResult: (target, serial, result) => {
      results.push({ target, serial, result });
      for (const w of waiters.splice(0)) w();
    },
  });
  notifiers.push(notifier);
  /** resolves once `count` outcomes are in (rejects after 10 s: a bound, not a measurement) */
  const outcomes = (count: number) =>
    new Promise<typeof results>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${results.length} of ${count} outcomes: ${JSON.stringify(results)}`)), 10_000);
      const check = () => {
        if (results.length >= count) {
          clearTimeout(timer);
          resolve(results);
        } else waiters.push(check);
      };
      check();
    });
  return { notifier, results, outcomes, zone };
}

const until = async (condition: () => boolean) => {
  for (let i = 0; i < 500 && !condition(); i++) await Bun.sleep(20);
  expect(condition()).toBe(true);
};

describe("NOTIFY sender", () => {
  test("a secondary that is down costs the others nothing: the ICMP error its NOTIFY draws is not charged to the next target's", async () => {
    const live = await secondary(() => ({ signWith: KEY }));
    closers.push(live.close);
    const gone = createSocket("udp4");
    await new Promise<void>((resolve) => gone.bind(0, "127.0.0.1", () => resolve()));
    const closedPort = gone.address().port;
    gone.close(); // nothing listens there now: each NOTIFY to it comes back as ICMP port unreachable
    const log: string[] = [];
    const zone = testZone({
      tsigKeys: [KEY],
      notify: [
        { host: "127.0.0.1", port: live.port, key: "xfr-key." },
        { host: "127.0.0.1", port: closedPort, key: "" },
      ],
    });
    // no retry within the test: each serial has one try to reach the live secondary
    const notifier = createNotifier({ zone, log: (line) => log.push(line), retryDelaysMs: [60_000] });
    notifiers.push(notifier);
    for (let serial = 1; serial <= 5; serial++) {
      notifier.notify(serial);
      await until(() => live.received.some((r) => r.serial === serial));
      await Bun.sleep(50); // the ICMP error for the closed port comes back meanwhile
    }
    expect(live.received.map((r) => r.serial)).toEqual([1, 2, 3, 4, 5]);
  });

  test("a signed NOTIFY is retried until the secondary answers its 3rd try, then stops: opcode 4, AA, the SOA with the serial, TSIG verified", async () => {
    const peer = await secondary((r, nth) => (nth === 3 && r.tsigOk ? { signWith: KEY } : null));
    closers.push(peer.close);
    const { notifier, outcomes } = notifierFor([{ port: peer.port, key: "xfr-key." }]);
    notifier.notify(2024010107);
    expect(await outcomes(1)).toEqual([{ target: `127.0.0.1:${peer.port}`, serial: 2024010107, result: "answered" }]);
    await Bun.sleep(FAST.reduce((a, b) => a + b)); // the rest of the schedule: nothing more may come
    expect(peer.received.length).toBe(3);
    expect(peer.received.every((r) => r.tsigOk && r.message.equals(peer.received[0].message))).toBe(true);
    const decoded = dnsPacket.decode(peer.received[0].message) as any;
    expect([decoded.type, decoded.opcode, decoded.flag_aa]).toEqual(["query", "NOTIFY", true]);
    expect(decoded.questions).toEqual([{ name: "example.test", type: "SOA", class: "IN" }]);
    expect(decoded.answers.map((a: any) => [a.name, a.type, a.data.serial, a.data.mname])).toEqual([["example.test", "SOA", 2024010107, "ns1.example.test"]]);
  });

  test("a newer serial supersedes a pending one: no try of the old serial after the new one went out, no failure logged for it, its outcome superseded", async () => {
    const peer = await secondary((r) => (r.serial === 2 ? { signWith: KEY } : null));
    closers.push(peer.close);
    const log: string[] = [];
    const { notifier, outcomes } = notifierFor([{ port: peer.port, key: "xfr-key." }], log);
    notifier.notify(1);
    await until(() => peer.received.length >= 2);
    notifier.notify(2);
    // the old serial's outcome: superseded (what /metrics counts for a secondary down on a busy zone)
    expect(await outcomes(2)).toEqual([
      { target: `127.0.0.1:${peer.port}`, serial: 1, result: "superseded" },
      { target: `127.0.0.1:${peer.port}`, serial: 2, result: "answered" },
    ]);
    await Bun.sleep(FAST.reduce((a, b) => a + b));
    const serials = peer.received.map((r) => r.serial);
    expect(serials.slice(serials.indexOf(2))).toEqual([2]);
    expect(serials.filter((s) => s === 1).length).toBeGreaterThanOrEqual(2);
    expect(log).toEqual([]);
  });

  test("a secondary that never answers gets 5 tries, then one log line and an unanswered outcome", async () => {
    const peer = await secondary(() => null);
    closers.push(peer.close);
    const log: string[] = [];
    const { notifier, outcomes } = notifierFor([{ port: peer.port, key: "xfr-key." }], log);
    notifier.notify(9);
    expect((await outcomes(1))[0].result).toBe("unanswered");
    expect(peer.received.length).toBe(5);
    expect(log).toEqual([`dns: NOTIFY of serial 9 to 127.0.0.1:${peer.port} got no reply after 5 tries`]);
  });

  test("every target at once: an unsigned one gets an unsigned NOTIFY; a reply whose TSIG fails is ignored (logged once) and retried", async () => {
    const plain = await secondary((r) => (r.signed ? null : {}));
    const forged = await secondary(() => ({ signWith: WRONG }));
    closers.push(plain.close, forged.close);
    const log: string[] = [];
    const { notifier, outcomes } = notifierFor(
      [
        { port: plain.port, key: "" },
        { port: forged.port, key: "xfr-key." },
      ],
      log,
    );
    notifier.notify(3);
    const results = await outcomes(2);
    expect(results.map((r) => [r.target, r.result])).toEqual([
      [`127.0.0.1:${plain.port}`, "answered"],
      [`127.0.0.1:${forged.port}`, "unanswered"],
    ]);
    expect([plain.received.length, plain.received[0].signed]).toEqual([1, false]);
    expect(forged.received.length).toBe(5);
    expect(log.filter((l) => l.includes("ignoring a reply"))).toEqual([
      `dns: NOTIFY of serial 3 to 127.0.0.1:${forged.port}: ignoring a reply: the reply's TSIG does not verify (BADSIG)`,
    ]);
  });

  test("a signed answer with an error rcode (REFUSED) ends the tries, logged with the rcode", async () => {
    const peer = await secondary(() => ({ rcode: 5, signWith: KEY }));
    closers.push(peer.close);
    const log: string[] = [];
    const { notifier, outcomes } = notifierFor([{ port: peer.port, key: "xfr-key." }], log);
    notifier.notify(4);
    expect((await outcomes(1))[0].result).toBe("rejected");
    expect(peer.received.length).toBe(1);
    expect(log).toEqual([`dns: NOTIFY of serial 4 to 127.0.0.1:${peer.port} answered REFUSED`]);
  });

  test("an unsigned REFUSED to a signed NOTIFY may be forged: it is ignored (logged once) and the tries go on to the signed answer", async () => {
    const peer = await secondary((_r, nth) => (nth < 3 ? { rcode: 5 } : { signWith: KEY }));
    closers.push(peer.close);
    const log: string[] = [];
    const { notifier, outcomes } = notifierFor([{ port: peer.port, key: "xfr-key." }], log);
    notifier.notify(4);
    expect((await outcomes(1))[0].result).toBe("answered");
    expect(peer.received.length).toBe(3);
    expect(log).toEqual([`dns: NOTIFY of serial 4 to 127.0.0.1:${peer.port}: ignoring a REFUSED reply: the reply is not signed`]);
  });

  test("a secondary without our key answers an unsigned NOTAUTH (BADSIG): not believed, tried 5 times, and the log says why", async () => {
    const peer = await secondary(() => ({ checkWith: { keys: [WRONG], skew: 0 } }));
    closers.push(peer.close);
    const log: string[] = [];
    const { notifier, outcomes } = notifierFor([{ port: peer.port, key: "xfr-key." }], log);
    notifier.notify(10);
    expect((await outcomes(1))[0].result).toBe("unanswered");
    expect(peer.received.length).toBe(5);
    expect(log).toEqual([
      `dns: NOTIFY of serial 10 to 127.0.0.1:${peer.port}: ignoring a NOTAUTH reply: the reply is an unsigned BADSIG: the peer may not have this key, or the reply is forged`,
      `dns: NOTIFY of serial 10 to 127.0.0.1:${peer.port} got no verified reply after 5 tries`,
    ]);
  });

  test("a secondary whose clock is off answers a signed NOTAUTH (BADTIME): it verifies and ends the tries, with the skew logged", async () => {
    const peer = await secondary(() => ({ checkWith: { keys: [KEY], skew: 1000 } }));
    closers.push(peer.close);
    const log: string[] = [];
    const { notifier, outcomes } = notifierFor([{ port: peer.port, key: "xfr-key." }], log);
    notifier.notify(11);
    expect((await outcomes(1))[0].result).toBe("rejected");
    expect(peer.received.length).toBe(1);
    expect(log).toHaveLength(1);
    // 999 when a second ticks over between its clock and ours
    expect(log[0]).toMatch(
      new RegExp(`^dns: NOTIFY of serial 11 to 127.0.0.1:${peer.port} answered NOTAUTH \\(BADTIME: the peer's clock is (999|1000) s ahead of ours\\)$`),
    );
  });

  test("reload without a target stops its tries; close stops everything; a dead target beside a live one harms nothing", async () => {
    const silent = await secondary(() => null);
    const live = await secondary(() => ({ signWith: KEY }));
    closers.push(silent.close, live.close);
    const dead = createSocket("udp4"); // bound, then closed: its port has no listener
    await new Promise<void>((resolve) => dead.bind(0, "127.0.0.1", () => resolve()));
    const deadPort = dead.address().port;
    dead.close();
    const { notifier, outcomes, zone } = notifierFor([
      { port: silent.port, key: "xfr-key." },
      { port: live.port, key: "xfr-key." },
      { port: deadPort, key: "" },
    ]);
    notifier.notify(5);
    expect((await outcomes(1))[0]).toMatchObject({ target: `127.0.0.1:${live.port}`, result: "answered" });
    await until(() => silent.received.length >= 1);
    notifier.reload({ ...zone, notify: zone.notify.filter((t) => t.port !== silent.port) });
    const afterReload = silent.received.length;
    await Bun.sleep(FAST.reduce((a, b) => a + b) * 2);
    expect(silent.received.length).toBe(afterReload);
    notifier.notify(6);
    await until(() => live.received.length >= 2);
    notifier.close();
    const afterClose = live.received.length;
    await Bun.sleep(FAST.reduce((a, b) => a + b));
    expect(live.received.length).toBe(afterClose);
  });

  test.skipIf(!hasIpv6Loopback())("an IPv6 target ([::1]) is notified from an IPv6 socket and its reply counts", async () => {
    const peer = await secondary(() => ({ signWith: KEY }), "::1");
    closers.push(peer.close);
    const { notifier, outcomes } = notifierFor([{ host: "::1", port: peer.port, key: "xfr-key." }]);
    notifier.notify(8);
    expect(await outcomes(1)).toEqual([{ target: `[::1]:${peer.port}`, serial: 8, result: "answered" }]);
    expect(peer.received.map((r) => r.tsigOk)).toEqual([true]);
  });
});
