// TSIG (RFC 8945) byte for byte: messages are written by dns-packet (an independent codec) and
// every MAC is recomputed here with node:crypto from the RFC's digest layout (4.3), spelled out
// field by field; then real dig (BIND's verifier) checks our signed answers and a signed
// three-message AXFR, and reads our BADKEY, BADSIG and BADTIME replies.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as dnsPacket from "dns-packet";
import { createHmac } from "node:crypto";
import { createSocket } from "node:dgram";
import { createServer, type AddressInfo, type Server } from "node:net";
import type { TsigKey } from "../../src/config.ts";
import { RCODE_NOTAUTH, signRequest, TSIG_ERROR, tsigErrorReply, tsigLength, TsigSigner, verifyRequest, verifyResponse } from "../../src/dns/tsig.ts";
import { encodeResponse, findTsig, parseQuery, TCP_LIMIT, type Query, type TsigRecord } from "../../src/dns/wire.ts";
import type { ResourceRecord } from "../../src/dns/zone.ts";
import { haveTools } from "../support/tools.ts";
import { createResponder } from "../../src/dns/responder.ts";
import { seededStore, testZone } from "./client.ts";

const SECRET = Buffer.alloc(32, 0xab).toString("base64");
const KEY: TsigKey = { name: "xfr-key.", algorithm: "hmac-sha256", secret: SECRET };
const KEY_512: TsigKey = { name: "big.key.", algorithm: "hmac-sha512", secret: Buffer.alloc(64, 0x5a).toString("base64") };
const KEYS = [KEY, KEY_512];
const NOW = 1_795_000_000;

// ---- the RFC's layout, written out independently of src/dns/tsig.ts ----
const wireName = (name: string) =>
  Buffer.concat([
    ...name
      .split(".")
      .filter(Boolean)
      .map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label.toLowerCase())])),
    Buffer.from([0]),
  ]);
const uint = (value: number, octets: number) => {
  const out = Buffer.alloc(octets);
  out.writeUIntBE(value, 0, octets);
  return out;
};
/** RFC 8945 4.3.3: NAME, CLASS (ANY), TTL (0), Algorithm Name, Time Signed, Fudge, Error, Other Len, Other Data */
const tsigVariables = (key: TsigKey, time: number, error = 0, other = Buffer.alloc(0), fudge = 300) =>
  Buffer.concat([
    wireName(key.name),
    uint(255, 2),
    uint(0, 4),
    wireName(key.algorithm),
    uint(time, 6),
    uint(fudge, 2),
    uint(error, 2),
    uint(other.length, 2),
    other,
  ]);
const hmacOf = (key: TsigKey, ...parts: Buffer[]) =>
  createHmac(key.algorithm.replace("hmac-", ""), Buffer.from(key.secret, "base64")).update(Buffer.concat(parts)).digest();
const withLength = (mac: Buffer) => Buffer.concat([uint(mac.length, 2), mac]);
/** A TSIG record's RDATA (RFC 8945 4.2). */
const tsigRdata = (key: TsigKey, f: { time: number; mac: Buffer; id: number; error?: number; other?: Buffer; fudge?: number }) =>
  Buffer.concat([
    wireName(key.algorithm),
    uint(f.time, 6),
    uint(f.fudge ?? 300, 2),
    withLength(f.mac),
    uint(f.id, 2),
    uint(f.error ?? 0, 2),
    uint(f.other?.length ?? 0, 2),
    f.other ?? Buffer.alloc(0),
  ]);
const tsigRr = (name: string, data: Buffer) => ({ name, type: "TSIG", class: "ANY", ttl: 0, data }) as any;

/** A query signed the RFC's way: the MAC covers the unsigned message and the variables; the TSIG goes last. */
function signedQuery(key: TsigKey, time: number, options: { id?: number; originalId?: number; name?: string; secret?: string; macBytes?: number } = {}) {
  const { id = 0x1234, originalId = id, name = "example.test" } = options;
  const packet = (additionals: any[], withId: number) =>
    dnsPacket.encode({
      type: "query",
      id: withId,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ name, type: "SOA", class: "IN" }],
      additionals: [{ type: "OPT", name: ".", udpPayloadSize: 1232, flags: 0 } as any, ...additionals],
    });
  const signingKey = { ...key, secret: options.secret ?? key.secret };
  const mac = hmacOf(signingKey, packet([], originalId), tsigVariables(key, time)).subarray(0, options.macBytes);
  const message = packet([tsigRr(key.name, tsigRdata(key, { time, mac, id: originalId }))], id);
  return { message, mac };
}

function parsedQuery(message: Buffer): Query & { tsig: TsigRecord } {
  const parsed = parseQuery(message);
  if (parsed.kind !== "query" || !parsed.query.tsig) throw new Error(`not a signed query: ${JSON.stringify(parsed)}`);
  return parsed.query as Query & { tsig: TsigRecord };
}

const SOA: ResourceRecord = {
  name: "example.test",
  ttl: 60,
  type: "SOA",
  mname: "ns1.example.test",
  rname: "h.example.test",
  serial: 5,
  refresh: 900,
  retry: 900,
  expire: 1209600,
  minimum: 60,
};
const a = (i: number): ResourceRecord => ({ name: `a${i}.example.test`, ttl: 60, type: "A", address: `192.0.2.${i}` });

function response(query: Query, answers: ResourceRecord[], edns = query.edns): Buffer {
  return encodeResponse(
    { id: query.id, opcode: 0, rd: query.rd, cd: query.cd, rcode: 0, aa: true, question: query.question, edns, answers, authority: [], additional: [] },
    TCP_LIMIT,
  );
}

/** `message` with a TSIG record appended by hand: ARCOUNT + 1. */
function appendedTsig(message: Buffer, key: TsigKey, rdata: Buffer): Buffer {
  const rr = Buffer.concat([wireName(key.name), uint(250, 2), uint(255, 2), uint(0, 4), uint(rdata.length, 2), rdata]);
  const out = Buffer.concat([message, rr]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}

describe("verifyRequest", () => {
  test("a request signed per RFC 8945 4.3 verifies, giving its key and MAC", () => {
    const { message, mac } = signedQuery(KEY, NOW);
    const check = verifyRequest(message, parsedQuery(message).tsig, KEYS, NOW);
    expect(check).toEqual({ ok: true, key: KEY, requestMac: mac });
  });

  test("hmac-sha512 verifies too, and the digest uses the original ID, not the (forwarded) message ID", () => {
    const { message } = signedQuery(KEY_512, NOW, { id: 7, originalId: 4242 });
    expect(verifyRequest(message, parsedQuery(message).tsig, KEYS, NOW).ok).toBe(true);
  });

  test("the key and algorithm names are compared in lower case: a key written Xfr-Key verifies", () => {
    const { message } = signedQuery({ ...KEY, name: "Xfr-Key." }, NOW);
    expect(verifyRequest(message, parsedQuery(message).tsig, KEYS, NOW).ok).toBe(true);
  });

  test("an unknown key, or a known key with another algorithm: BADKEY", () => {
    const unknown = signedQuery({ ...KEY, name: "other." }, NOW).message;
    expect(verifyRequest(unknown, parsedQuery(unknown).tsig, KEYS, NOW)).toEqual({ ok: false, error: TSIG_ERROR.BADKEY });
    const otherAlgorithm = signedQuery({ ...KEY, algorithm: "hmac-sha512" }, NOW).message;
    expect(verifyRequest(otherAlgorithm, parsedQuery(otherAlgorithm).tsig, KEYS, NOW)).toEqual({ ok: false, error: TSIG_ERROR.BADKEY });
  });

  test("another secret, a changed octet anywhere before the TSIG, or an empty MAC: BADSIG", () => {
    const wrong = signedQuery(KEY, NOW, { secret: Buffer.alloc(32, 1).toString("base64") }).message;
    expect(verifyRequest(wrong, parsedQuery(wrong).tsig, KEYS, NOW)).toEqual({ ok: false, error: TSIG_ERROR.BADSIG });
    const { message } = signedQuery(KEY, NOW);
    const tsig = parsedQuery(message).tsig;
    for (let i = 2; i < tsig.start; i++) {
      if (i === 10 || i === 11) continue; // ARCOUNT: changing it moves the TSIG
      const changed = Buffer.from(message);
      changed[i] ^= 0x20;
      const parsed = parseQuery(changed);
      if (parsed.kind !== "query" || !parsed.query.tsig) continue; // no longer a signed query at all
      expect([i, verifyRequest(changed, parsed.query.tsig, KEYS, NOW)]).toEqual([i, { ok: false, error: TSIG_ERROR.BADSIG }]);
    }
    const empty = signedQuery(KEY, NOW, { macBytes: 0 }).message;
    expect(verifyRequest(empty, parsedQuery(empty).tsig, KEYS, NOW)).toEqual({ ok: false, error: TSIG_ERROR.BADSIG });
  });

  test("a time signed more than the fudge (300 s) away either way: BADTIME; exactly at the fudge: accepted", () => {
    const { message } = signedQuery(KEY, NOW);
    const tsig = parsedQuery(message).tsig;
    expect(verifyRequest(message, tsig, KEYS, NOW + 301)).toEqual({ ok: false, error: TSIG_ERROR.BADTIME });
    expect(verifyRequest(message, tsig, KEYS, NOW - 301)).toEqual({ ok: false, error: TSIG_ERROR.BADTIME });
    expect(verifyRequest(message, tsig, KEYS, NOW + 300.9).ok).toBe(true);
    expect(verifyRequest(message, tsig, KEYS, NOW - 300).ok).toBe(true);
  });

  test("a truncated MAC that verifies is BADTRUNC (we take only whole MACs); one that does not is BADSIG", () => {
    const { message } = signedQuery(KEY, NOW, { macBytes: 16 });
    expect(verifyRequest(message, parsedQuery(message).tsig, KEYS, NOW)).toEqual({ ok: false, error: TSIG_ERROR.BADTRUNC });
    const wrong = signedQuery(KEY, NOW, { macBytes: 16, secret: Buffer.alloc(32, 1).toString("base64") }).message;
    expect(verifyRequest(wrong, parsedQuery(wrong).tsig, KEYS, NOW)).toEqual({ ok: false, error: TSIG_ERROR.BADSIG });
  });
});

describe("TsigSigner", () => {
  test("the first message covers the request MAC, the message and all variables; later ones the previous MAC, the message and the timers", () => {
    const { message, mac: requestMac } = signedQuery(KEY, NOW);
    const query = parsedQuery(message);
    const signer = new TsigSigner(KEY, requestMac);
    const bodies = [response(query, [SOA, a(1)]), response(query, [a(2), a(3)], null), response(query, [a(4), SOA], null)];
    const signed = bodies.map((body, i) => signer.sign(body, NOW + i + 0.5));

    let previous = requestMac;
    for (const [i, body] of bodies.entries()) {
      const time = NOW + i;
      const tail = i === 0 ? tsigVariables(KEY, time) : Buffer.concat([uint(time, 6), uint(300, 2)]);
      const mac = hmacOf(KEY, withLength(previous), body, tail);
      expect(signed[i].equals(appendedTsig(body, KEY, tsigRdata(KEY, { time, mac, id: query.id })))).toBe(true);
      previous = mac;
    }
    expect(signer.mac.equals(previous)).toBe(true);
    // dns-packet reads them back, with the TSIG last
    for (const wire of signed) expect(dnsPacket.decode(wire).additionals?.at(-1)?.type).toBe("TSIG" as any);
  });

  test("tsigLength is what signing adds, so a UDP answer can leave room for it", () => {
    for (const key of KEYS) {
      const body = response(parsedQuery(signedQuery(key, NOW).message), [SOA]);
      expect(new TsigSigner(key, Buffer.alloc(0)).sign(body, NOW).length - body.length).toBe(tsigLength(key));
    }
  });

  test("verifyResponse follows the same chain: every message verifies, a changed one does not", () => {
    const { message, mac: requestMac } = signedQuery(KEY_512, NOW);
    const query = parsedQuery(message);
    const signer = new TsigSigner(KEY_512, requestMac);
    const signed = [response(query, [SOA]), response(query, [a(1)], null), response(query, [SOA], null)].map((body) => signer.sign(body, NOW));
    const macs: Buffer[] = [requestMac];
    for (const [i, wire] of signed.entries()) {
      const check = verifyResponse(wire, KEY_512, macs[i], NOW, i > 0);
      if (!check.ok) throw new Error(`message ${i}: ${check.reason}`);
      macs.push(check.mac);
    }
    const changed = Buffer.from(signed[1]);
    changed[20] ^= 1;
    expect(verifyResponse(changed, KEY_512, macs[1], NOW, true).ok).toBe(false);
    // out of order: the third message over the first one's MAC
    expect(verifyResponse(signed[2], KEY_512, macs[1], NOW, true).ok).toBe(false);
  });
});

describe("tsigErrorReply", () => {
  const decodeTsig = (wire: Buffer) => {
    const decoded = dnsPacket.decode(wire) as any;
    const tsig = decoded.additionals.at(-1);
    expect(tsig.type).toBe("TSIG");
    const rdata: Buffer = tsig.data;
    const algLength = wireName(KEY.algorithm).length;
    const macSize = rdata.readUInt16BE(algLength + 8);
    const at = algLength + 10 + macSize;
    return {
      decoded,
      owner: tsig.name,
      time: rdata.readUIntBE(algLength, 6),
      mac: rdata.subarray(algLength + 10, at),
      originalId: rdata.readUInt16BE(at),
      error: rdata.readUInt16BE(at + 2),
      other: rdata.subarray(at + 6, at + 6 + rdata.readUInt16BE(at + 4)),
    };
  };

  test("BADKEY and BADSIG: NOTAUTH, question and OPT echoed, a TSIG with the error and an empty MAC (unsigned)", () => {
    for (const [error, signing] of [
      [TSIG_ERROR.BADKEY, { ...KEY, name: "unknown." }],
      [TSIG_ERROR.BADSIG, KEY],
    ] as const) {
      const query = parsedQuery(signedQuery(signing, NOW).message);
      const reply = decodeTsig(tsigErrorReply(query, error, KEYS, NOW + 1));
      expect(reply.decoded.rcode).toBe("NOTAUTH");
      expect(reply.decoded.questions).toEqual([{ name: "example.test", type: "SOA", class: "IN" }]);
      expect(reply.decoded.additionals.map((r: any) => r.type)).toEqual(["OPT", "TSIG"]);
      expect([reply.owner, reply.mac.length, reply.error, reply.originalId, reply.time]).toEqual([signing.name.slice(0, -1), 0, error, 0x1234, NOW + 1]);
    }
  });

  test("BADTIME: signed with the request's key over the request MAC, the request's time signed, our clock in Other Data", () => {
    const { message, mac: requestMac } = signedQuery(KEY, NOW);
    const query = parsedQuery(message);
    const wire = tsigErrorReply(query, TSIG_ERROR.BADTIME, KEYS, NOW + 1000);
    const reply = decodeTsig(wire);
    expect([reply.decoded.rcode, reply.error, reply.time, reply.other.readUIntBE(0, 6)]).toEqual(["NOTAUTH", 18, NOW, NOW + 1000]);
    const unsigned = Buffer.from(wire.subarray(0, parsedQueryStart(wire)));
    unsigned.writeUInt16BE(unsigned.readUInt16BE(10) - 1, 10);
    const expected = hmacOf(KEY, withLength(requestMac), unsigned, tsigVariables(KEY, NOW, 18, uint(NOW + 1000, 6)));
    expect(reply.mac.equals(expected)).toBe(true);
    expect(RCODE_NOTAUTH).toBe(9);
  });

  test("BADTRUNC: signed, with our time", () => {
    const { message } = signedQuery(KEY, NOW, { macBytes: 16 });
    const reply = decodeTsig(tsigErrorReply(parsedQuery(message), TSIG_ERROR.BADTRUNC, KEYS, NOW + 2));
    expect([reply.error, reply.time, reply.mac.length, reply.other.length]).toEqual([22, NOW + 2, 32, 0]);
  });
});

/** Where the TSIG record starts in a reply: its owner is the last name before type 250 class 255. */
function parsedQueryStart(wire: Buffer): number {
  const owner = wireName(KEY.name);
  return wire.lastIndexOf(Buffer.concat([owner, uint(250, 2), uint(255, 2)]));
}

describe("signRequest and verifyResponse (our NOTIFYs)", () => {
  const notify = () =>
    dnsPacket.encode({
      type: "query",
      id: 99,
      opcode: "NOTIFY",
      flags: dnsPacket.AUTHORITATIVE_ANSWER,
      questions: [{ name: "example.test", type: "SOA" }],
    } as any);

  test("a signed request is byte for byte the RFC's, and our own verifier accepts it", () => {
    const unsigned = notify();
    const { message, mac } = signRequest(unsigned, KEY, NOW + 0.7);
    const expectedMac = hmacOf(KEY, unsigned, tsigVariables(KEY, NOW));
    expect(mac.equals(expectedMac)).toBe(true);
    expect(message.equals(appendedTsig(unsigned, KEY, tsigRdata(KEY, { time: NOW, mac: expectedMac, id: 99 })))).toBe(true);
  });

  test("a reply signed by the peer verifies, a signed TSIG error too; unsigned, other key, an unsigned error, a changed octet, or a stale time do not", () => {
    const { mac: requestMac } = signRequest(notify(), KEY, NOW);
    const body = dnsPacket.encode({
      type: "response",
      id: 99,
      opcode: "NOTIFY",
      flags: dnsPacket.AUTHORITATIVE_ANSWER,
      questions: [{ name: "example.test", type: "SOA" }],
    } as any);
    const peerSigned = (key: TsigKey, error = 0, time = NOW, other = Buffer.alloc(0)) =>
      appendedTsig(
        body,
        key,
        tsigRdata(key, { time, id: 99, error, other, mac: hmacOf(key, withLength(requestMac), body, tsigVariables(key, time, error, other)) }),
      );
    expect(verifyResponse(peerSigned(KEY), KEY, requestMac, NOW)).toEqual({
      ok: true,
      mac: hmacOf(KEY, withLength(requestMac), body, tsigVariables(KEY, NOW)),
      error: 0,
      peerTime: null,
    });
    // RFC 8945 5.3.2: BADTIME is signed, our time signed given back, the peer's own in Other Data
    expect(verifyResponse(peerSigned(KEY, 18, NOW, uint(NOW + 1000, 6)), KEY, requestMac, NOW)).toMatchObject({ ok: true, error: 18, peerTime: NOW + 1000 });
    expect(verifyResponse(body, KEY, requestMac, NOW)).toEqual({ ok: false, reason: "the reply is not signed" });
    expect(verifyResponse(peerSigned(KEY_512), KEY, requestMac, NOW)).toMatchObject({ ok: false, reason: expect.stringContaining("another key") });
    // BADKEY and BADSIG come unsigned (MAC size 0): anyone could have sent them
    // and NSD sends BADTIME unsigned too: its reason points at the clocks, not the key
    for (const [error, reason] of [
      [16, "an unsigned BADSIG: the peer may not have this key, or"],
      [17, "an unsigned BADKEY: the peer may not have this key, or"],
      [18, "an unsigned BADTIME: our clock and the peer's may be more than the fudge apart, or"],
    ] as const) {
      const unsigned = appendedTsig(body, KEY, tsigRdata(KEY, { time: NOW, id: 99, error, mac: Buffer.alloc(0) }));
      expect(verifyResponse(unsigned, KEY, requestMac, NOW)).toMatchObject({ ok: false, reason: expect.stringContaining(reason) });
    }
    const changed = peerSigned(KEY);
    changed[3] ^= 0x01;
    expect(verifyResponse(changed, KEY, requestMac, NOW)).toMatchObject({ ok: false, reason: expect.stringContaining("BADSIG") });
    expect(verifyResponse(peerSigned(KEY, 0, NOW - 1000), KEY, requestMac, NOW)).toMatchObject({ ok: false, reason: expect.stringContaining("BADTIME") });
  });
});

// ---- real dig: BIND's own TSIG code verifies what we sign ----
const DIG = "/usr/bin/dig";
describe.skipIf(!haveTools("dig"))("dig -y against a responder built from parseQuery, verifyRequest, TsigSigner and tsigErrorReply", () => {
  let clockSkew = 0;
  function respond(message: Buffer): Buffer[] {
    const parsed = parseQuery(message);
    if (parsed.kind !== "query" || !parsed.query.tsig) return [];
    const query = parsed.query as Query & { tsig: TsigRecord };
    const now = Date.now() / 1000 + clockSkew;
    const check = verifyRequest(message, query.tsig, KEYS, now);
    if (!check.ok) return [tsigErrorReply(query, check.error, KEYS, now)];
    const signer = new TsigSigner(check.key, check.requestMac);
    const groups =
      query.question.type === 252
        ? [
            [SOA, a(1)],
            [a(2), a(3)],
            [a(4), SOA],
          ]
        : [[SOA]];
    return groups.map((answers, i) => signer.sign(response(query, answers, i === 0 ? query.edns : null), now));
  }
  const udp = createSocket("udp4");
  let tcp: Server;
  let port = 0;
  beforeAll(async () => {
    // one port for both: dig's AXFR goes over TCP
    tcp = createServer((socket) => {
      let pending: Buffer = Buffer.alloc(0);
      socket.on("error", () => {});
      socket.on("data", (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        if (pending.length < 2 || pending.length < 2 + pending.readUInt16BE(0)) return;
        for (const out of respond(pending.subarray(2, 2 + pending.readUInt16BE(0)))) socket.write(Buffer.concat([uint(out.length, 2), out]));
        socket.end();
      });
    });
    await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", () => resolve()));
    port = (tcp.address() as AddressInfo).port;
    udp.on("message", (message, from) => {
      for (const out of respond(message)) udp.send(out, from.port, from.address);
    });
    await new Promise<void>((resolve) => udp.bind(port, "127.0.0.1", () => resolve()));
  });
  afterAll(() => {
    udp.close();
    tcp.close();
  });

  async function dig(key: string, type: string): Promise<string> {
    const proc = Bun.spawn([DIG, "+tries=1", "+time=5", "-p", String(port), "@127.0.0.1", "-y", key, "example.test", type], { stdout: "pipe", stderr: "pipe" });
    const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    await proc.exited;
    return out + err;
  }

  test("dig accepts our signed SOA answer (hmac-sha256 and hmac-sha512)", async () => {
    for (const key of KEYS) {
      const out = await dig(`${key.algorithm}:${key.name}:${key.secret}`, "SOA");
      expect(out).toContain("status: NOERROR");
      expect(out).toContain(`${key.name}\t\t0\tANY\tTSIG\t${key.algorithm}.`);
      expect(out).not.toContain("WARNING -- Some TSIG could not be validated");
      expect(out).not.toContain("Couldn't verify");
    }
  });

  test("dig accepts a three-message AXFR with every message signed (the later ones over the previous MAC and the timers)", async () => {
    const out = await dig(`hmac-sha256:${KEY.name}:${KEY.secret}`, "AXFR");
    expect(out).toContain("XFR size: 6 records (messages 3");
    expect(out.match(/\tTSIG\t/g)?.length).toBe(3);
    expect(out).not.toContain("WARNING -- Some TSIG could not be validated");
  });

  test("dig with an unknown key gets NOTAUTH BADKEY, with a wrong secret NOTAUTH BADSIG: unsigned, as it expects", async () => {
    const badKey = await dig(`hmac-sha256:other-key:${KEY.secret}`, "SOA");
    expect(badKey).toContain("status: NOTAUTH");
    expect(badKey).toMatch(/TSIG\thmac-sha256\. \d+ 300 0 \d+ BADKEY 0/);
    const badSig = await dig(`hmac-sha256:${KEY.name}:${Buffer.alloc(32, 1).toString("base64")}`, "SOA");
    expect(badSig).toMatch(/TSIG\thmac-sha256\. \d+ 300 0 \d+ BADSIG 0/);
    expect(badSig).toContain("tsig indicates error");
  });

  test("with our clock 1000 s ahead dig gets BADTIME, verifies its signature and reports the clock skew", async () => {
    clockSkew = 1000;
    try {
      const out = await dig(`hmac-sha256:${KEY.name}:${KEY.secret}`, "SOA");
      expect(out).toMatch(/TSIG\thmac-sha256\. \d+ 300 32 \S+ \d+ BADTIME 6 /);
      // "clocks are unsynchronized" comes after the MAC verified; a bad MAC would read "tsig verify failure"
      expect(out).toContain("Couldn't verify signature: clocks are unsynchronized");
    } finally {
      clockSkew = 0;
    }
  });
});

describe("hostile TSIG records", () => {
  test("a NOTAUTH whose TSIG spells out names the query compressed still fits UDP's 512 octets: truncated, TC set", () => {
    const seeded = seededStore();
    try {
      const respond = createResponder({ zone: testZone({ tsigKeys: KEYS }), lookups: { gateway: seeded.store.findGatewayByName }, log: () => {} });
      // a 255-octet question; the TSIG's owner and algorithm point at it (an unknown key: BADKEY)
      const qname = Buffer.concat([...[63, 63, 63, 61].map((n) => Buffer.concat([Uint8Array.of(n), Buffer.alloc(n, 0x61)])), Uint8Array.of(0)]);
      const header = Buffer.from([0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
      const rdata = Buffer.concat([Buffer.from([0xc0, 12]), uint(NOW, 6), uint(300, 2), uint(0, 2), uint(7, 2), uint(0, 2), uint(0, 2)]);
      const tsig = Buffer.concat([Buffer.from([0xc0, 12]), uint(250, 2), uint(255, 2), uint(0, 4), uint(rdata.length, 2), rdata]);
      const query = Buffer.concat([header, qname, uint(1, 2), uint(1, 2), tsig]);
      expect(query.length).toBeLessThan(320); // its whole NOTAUTH is about 800 octets
      const udp = respond(query, "udp")!;
      expect(udp.length).toBeLessThanOrEqual(512);
      const decoded = dnsPacket.decode(udp) as any;
      expect([decoded.rcode, decoded.flag_tc, decoded.questions.length, decoded.additionals.length]).toEqual(["NOTAUTH", true, 1, 0]);
      // over TCP (where the client retries) the whole NOTAUTH, its TSIG with error BADKEY
      const tcp = respond(query, "tcp") as Buffer;
      expect(tcp.length).toBeGreaterThan(512);
      expect(findTsig(tcp)).toMatchObject({ error: TSIG_ERROR.BADKEY });
    } finally {
      seeded.cleanup();
    }
  });

  test("10,000 mutated signed queries: parseQuery, findTsig, verifyRequest and tsigErrorReply never throw, and no covered change verifies", () => {
    let seed = 20261127;
    const random = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const { message: original } = signedQuery(KEY, NOW);
    const ixfrSigned = (() => {
      const body = dnsPacket.encode({
        type: "query",
        id: 3,
        questions: [{ name: "example.test", type: "IXFR" as any, class: "IN" }],
        authorities: [{ name: "example.test", type: "SOA", data: { mname: "a.", rname: "b.", serial: 1 } } as any],
      });
      const mac = hmacOf(KEY, body, tsigVariables(KEY, NOW));
      return appendedTsig(body, KEY, tsigRdata(KEY, { time: NOW, mac, id: 3 }));
    })();
    let verified = 0;
    for (let i = 0; i < 10_000; i++) {
      const base = i % 2 ? original : ixfrSigned;
      const message = Buffer.from(base);
      for (let k = random(4) + 1; k > 0; k--) message[random(message.length)] = random(256);
      const cut = random(5) === 0 ? message.subarray(0, random(message.length)) : message;
      try {
        findTsig(cut);
        const parsed = parseQuery(cut);
        if (parsed.kind !== "query" || !parsed.query.tsig) continue;
        const query = parsed.query as Query & { tsig: TsigRecord };
        const check = verifyRequest(cut, query.tsig, KEYS, NOW);
        // the header ID is not covered (forwarders change it: the TSIG's original ID is), nor the key name's case
        const ownerEnd = query.tsig.start + wireName(KEY.name).length;
        const covered = (j: number) => j > 1 && !(j >= query.tsig.start && j < ownerEnd && (cut[j] | 0x20) === (base[j] | 0x20));
        if (check.ok && (cut.length !== base.length || [...cut].some((octet, j) => octet !== base[j] && covered(j)))) verified++;
        for (const error of [TSIG_ERROR.BADKEY, TSIG_ERROR.BADTIME]) tsigErrorReply(query, error, KEYS, NOW);
      } catch (e) {
        throw new Error(`threw on ${cut.toString("hex")}: ${(e as Error).stack}`);
      }
    }
    expect(verified).toBe(0);
  });
});
