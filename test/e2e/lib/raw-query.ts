// One DNS query sent by hand (dns-packet encodes it, TSIG is appended here, RFC 8945 4.3.3),
// over UDP or TCP, for what dig will not send: an AXFR over UDP, a transfer from a chosen
// source address whose rcode dig does not print.
import { createSocket } from "node:dgram";
import { createHmac } from "node:crypto";
import { connect } from "node:net";
import * as packet from "dns-packet";
import type { TsigKey } from "./secondaries.ts";

/** A name in uncompressed wire form, lower case (the canonical form TSIG digests use). */
function wireName(name: string): Buffer {
  const labels = name.replace(/\.$/, "").toLowerCase().split(".").filter(Boolean);
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, "ascii")])), Buffer.from([0])]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u48(n: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(n, 0, 6);
  return b;
}

/** The message with a TSIG record appended as its last additional record (ARCOUNT + 1). */
export function signQuery(message: Buffer, key: TsigKey, nowSeconds = Math.floor(Date.now() / 1000)): Buffer {
  const fudge = 300;
  const keyName = wireName(key.name);
  const algorithm = wireName(`${key.algorithm}.`);
  const variables = Buffer.concat([keyName, u16(255), Buffer.alloc(4), algorithm, u48(nowSeconds), u16(fudge), u16(0), u16(0)]);
  const mac = createHmac(key.algorithm.replace("hmac-", ""), Buffer.from(key.secret, "base64"))
    .update(Buffer.concat([message, variables]))
    .digest();
  const rdata = Buffer.concat([algorithm, u48(nowSeconds), u16(fudge), u16(mac.length), mac, message.subarray(0, 2), u16(0), u16(0)]);
  const record = Buffer.concat([keyName, u16(250), u16(255), Buffer.alloc(4), u16(rdata.length), rdata]);
  const signed = Buffer.concat([message, record]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return signed;
}

export interface RawReply {
  rcode: string;
  /** RCODE of the header as a number (0 NOERROR, 5 REFUSED, 9 NOTAUTH...) */
  code: number;
  answers: number;
  tc: boolean;
  bytes: number;
}

const RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"];

function describe(reply: Buffer): RawReply {
  if (reply.length < 12) throw new Error(`short reply of ${reply.length} bytes`);
  const code = reply[3] & 0x0f;
  return { rcode: RCODES[code] ?? String(code), code, answers: reply.readUInt16BE(6), tc: (reply[2] & 0x02) !== 0, bytes: reply.length };
}

export interface RawQuery {
  name: string;
  type: string;
  key?: TsigKey;
  /** source address to bind (e.g. 127.0.0.2: a client outside a transfer ACL) */
  from?: string;
  timeoutMs?: number;
}

function encode(q: RawQuery): Buffer {
  const message = packet.encode({
    id: Math.floor(Math.random() * 65536),
    type: "query",
    flags: 0,
    questions: [{ name: q.name, type: q.type as packet.RecordType, class: "IN" }],
  });
  return q.key ? signQuery(message, q.key) : message;
}

/** One query over UDP; the first reply's header. */
export function udpQuery(host: string, port: number, q: RawQuery): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = createSocket("udp4");
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no UDP reply to ${q.type} ${q.name} from ${host}:${port} within ${q.timeoutMs ?? 5000} ms`));
    }, q.timeoutMs ?? 5000);
    socket.on("error", (e) => {
      clearTimeout(timer);
      socket.close();
      reject(e);
    });
    socket.on("message", (msg) => {
      clearTimeout(timer);
      socket.close();
      resolve(describe(msg));
    });
    socket.bind(0, q.from ?? "127.0.0.1", () => socket.send(encode(q), port, host));
  });
}

/** One query over TCP; the first reply message's header (the connection is closed after it). */
export function tcpQuery(host: string, port: number, q: RawQuery): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, localAddress: q.from });
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no TCP reply to ${q.type} ${q.name} from ${host}:${port} within ${q.timeoutMs ?? 5000} ms`));
    }, q.timeoutMs ?? 5000);
    socket.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on("connect", () => {
      const message = encode(q);
      socket.write(Buffer.concat([u16(message.length), message]));
    });
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(describe(buffered.subarray(2, 2 + buffered.readUInt16BE(0))));
      }
    });
    socket.on("close", () => {
      clearTimeout(timer);
      reject(new Error(`${host}:${port} closed the TCP connection without a reply to ${q.type} ${q.name}`));
    });
  });
}
