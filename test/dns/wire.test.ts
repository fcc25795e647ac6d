// The query parser and the response encoder, without sockets. dns-packet (an independent codec)
// writes the queries and reads the replies.
import { describe, expect, test } from "bun:test";
import * as dnsPacket from "dns-packet";
import { encodeQuestion, encodeResponse, parseQuery, RCODE_BADVERS, TCP_LIMIT, udpLimit, type Response } from "../../src/dns/wire.ts";
import { RCODE, TYPE } from "../../src/dns/zone.ts";

const query = (name: string, type: string, extra: Partial<dnsPacket.Packet> = {}) =>
  dnsPacket.encode({ type: "query", id: 77, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as any, class: "IN" }], ...extra });
const opt = (options: Partial<{ udpPayloadSize: number; flags: number; ednsVersion: number }> = {}) =>
  ({ type: "OPT", name: ".", udpPayloadSize: 1232, flags: 0, ...options }) as any;

/** A header of our choosing in front of a question. */
function header(flags: number, counts: [number, number, number, number], body: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(0x0102, 0);
  h.writeUInt16BE(flags, 2);
  for (const [i, n] of counts.entries()) h.writeUInt16BE(n, 4 + 2 * i);
  return Buffer.concat([h, body]);
}
const QUESTION = query("gw.example.test", "A").subarray(12);

describe("parseQuery", () => {
  test("a plain query: id, RD, the question as asked (case kept), no EDNS", () => {
    const parsed = parseQuery(query("Gw.Example.TEST", "AAAA"));
    expect(parsed).toEqual({
      kind: "query",
      query: { id: 77, opcode: 0, rd: true, cd: false, question: { name: "Gw.Example.TEST", type: TYPE.AAAA, class: 1 }, edns: null },
    });
  });

  test("EDNS: payload size, version and the DO bit are read from the OPT", () => {
    const parsed = parseQuery(query("gw.example.test", "A", { additionals: [opt({ udpPayloadSize: 4096, flags: dnsPacket.DNSSEC_OK })] }));
    expect(parsed.kind === "query" && parsed.query.edns).toEqual({ payload: 4096, version: 0, dnssecOk: true });
  });

  test("shorter than a header, or a response: dropped, never answered", () => {
    expect(parseQuery(Buffer.alloc(11))).toEqual({ kind: "drop" });
    expect(parseQuery(header(0x8000, [1, 0, 0, 0], QUESTION))).toEqual({ kind: "drop" });
  });

  test("no question or two questions: FORMERR", () => {
    for (const qd of [0, 2]) {
      const parsed = parseQuery(header(0, [qd, 0, 0, 0], Buffer.concat([QUESTION, QUESTION])));
      expect(parsed.kind === "error" && parsed.rcode).toBe(RCODE.FORMERR);
    }
  });

  test("a question name that runs past the end, uses compression or has a 64-octet label: FORMERR", () => {
    const bodies = [
      QUESTION.subarray(0, 5),
      Buffer.from([0xc0, 0x0c, 0, 1, 0, 1]),
      Buffer.concat([Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from([0, 0, 1, 0, 1])]),
    ];
    for (const body of bodies) {
      const parsed = parseQuery(header(0, [1, 0, 0, 0], body));
      expect(parsed.kind === "error" && parsed.rcode).toBe(RCODE.FORMERR);
    }
  });

  test("another opcode is NOTIMP; an EDNS version above 0 is BADVERS, whatever the opcode", () => {
    const notify = parseQuery(header(4 << 11, [1, 0, 0, 0], QUESTION));
    expect(notify.kind === "error" && notify.rcode).toBe(RCODE.NOTIMP);
    const v1 = query("gw.example.test", "A", { additionals: [opt({ ednsVersion: 1 })] });
    expect((parseQuery(v1) as any).rcode).toBe(RCODE_BADVERS);
    const v1Notify = Buffer.from(v1);
    v1Notify.writeUInt16BE(4 << 11, 2);
    expect((parseQuery(v1Notify) as any).rcode).toBe(RCODE_BADVERS);
  });

  test("two OPT records, or an OPT not owned by the root: FORMERR", () => {
    const two = query("gw.example.test", "A", { additionals: [opt(), opt()] });
    expect((parseQuery(two) as any).rcode).toBe(RCODE.FORMERR);
    const namedOpt = Buffer.from([1, 0x78, 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]); // owner "x", payload 1232
    expect((parseQuery(header(0, [1, 0, 0, 1], Buffer.concat([QUESTION, namedOpt]))) as any).rcode).toBe(RCODE.FORMERR);
  });
});

describe("encodeResponse", () => {
  const base = (answers: Response["answers"], edns: Response["edns"] = null): Response => ({
    id: 9,
    opcode: 0,
    rd: true,
    cd: false,
    rcode: RCODE.NOERROR,
    aa: true,
    question: { name: "Gw.Example.Test", type: TYPE.TXT, class: 1 },
    edns,
    answers,
    authority: [],
    additional: [],
  });
  const txt = (text: string): Response["answers"][number] => ({ name: "gw.example.test", ttl: 60, type: "TXT", text });

  test("AA, RD and the question as asked are written back; the answer decodes", () => {
    const reply = dnsPacket.decode(encodeResponse(base([txt("hello")]), 512));
    expect(reply.id).toBe(9);
    expect(reply.flag_aa).toBe(true);
    expect(reply.flag_rd).toBe(true);
    expect(reply.questions).toEqual([{ name: "Gw.Example.Test", type: "TXT", class: "IN" }]);
    expect(reply.answers?.map((a: any) => Buffer.concat(a.data).toString())).toEqual(["hello"]);
  });

  test("over the UDP limit without EDNS: TC set and the records left out", () => {
    const reply = dnsPacket.decode(encodeResponse(base([txt("x".repeat(250)), txt("y".repeat(250)), txt("z".repeat(250))]), udpLimit(null)));
    expect(reply.flag_tc).toBe(true);
    expect(reply.answers).toEqual([]);
  });

  test("the same answer fits over TCP, and under an EDNS payload of 1232, with an OPT echoed", () => {
    const records = [txt("x".repeat(250)), txt("y".repeat(250)), txt("z".repeat(250))];
    expect(dnsPacket.decode(encodeResponse(base(records), TCP_LIMIT)).answers).toHaveLength(3);
    const edns = { payload: 4096, version: 0, dnssecOk: false };
    const reply = dnsPacket.decode(encodeResponse(base(records, edns), udpLimit(edns)));
    expect(reply.flag_tc).toBe(false);
    expect(reply.answers).toHaveLength(3);
    expect(reply.additionals?.map((r: any) => r.type)).toEqual(["OPT"]);
  });

  test("a TXT longer than 255 octets is split into character-strings that join back", () => {
    const long = "é".repeat(200); // 400 octets
    const reply = dnsPacket.decode(encodeResponse(base([txt(long)]), TCP_LIMIT));
    const parts = (reply.answers![0] as any).data as Buffer[];
    expect(parts.length).toBe(2);
    expect(Buffer.concat(parts).toString("utf8")).toBe(long);
  });
});

describe("encodeQuestion", () => {
  test("writes a query dns-packet reads back: id, RD when asked, the question, an OPT with the payload asked", () => {
    const q = dnsPacket.decode(encodeQuestion(5, "gw.example.test", TYPE.TXT, { flags: 0x0100, ednsPayload: 4096 }));
    expect(q.id).toBe(5);
    expect(q.flag_rd).toBe(true);
    expect(q.questions).toEqual([{ name: "gw.example.test", type: "TXT", class: "IN" }]);
    expect(q.additionals?.map((r: any) => [r.type, r.udpPayloadSize])).toEqual([["OPT", 4096]]);
  });

  test("a trailing dot changes nothing, the id wraps at 16 bits, and our own parser takes it as a query", () => {
    const message = encodeQuestion(0x10005, "example.test.", TYPE.SOA);
    expect(message.equals(encodeQuestion(5, "example.test", TYPE.SOA))).toBe(true);
    expect(parseQuery(message)).toEqual({
      kind: "query",
      query: { id: 5, opcode: 0, rd: false, cd: false, question: { name: "example.test", type: TYPE.SOA, class: 1 }, edns: null },
    });
  });
});

describe("parseQuery: IXFR's authority SOA and a closing TSIG", () => {
  const soa = (serial: number) => ({ name: "example.test", type: "SOA", data: { mname: "ns1.example.test", rname: "h.example.test", serial } }) as any;
  const ixfr = (authorities: any[], additionals: any[] = []) =>
    dnsPacket.encode({ type: "query", id: 9, questions: [{ name: "example.test", type: "IXFR" as any, class: "IN" }], authorities, additionals });
  /** A TSIG record's RDATA (RFC 8945 4.2), fields as given. */
  function tsigRdata(fields: { algorithm?: string; time?: number; fudge?: number; mac?: Buffer; id?: number; error?: number; other?: Buffer } = {}): Buffer {
    const { algorithm = "hmac-sha256", time = 1_700_000_000, fudge = 300, mac = Buffer.alloc(32, 7), id = 9, error = 0, other = Buffer.alloc(0) } = fields;
    const name = Buffer.concat([...algorithm.split(".").map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(Math.floor(time / 2 ** 32), 0);
    fixed.writeUInt32BE(time % 2 ** 32, 2);
    fixed.writeUInt16BE(fudge, 6);
    fixed.writeUInt16BE(mac.length, 8);
    const tail = Buffer.alloc(6);
    tail.writeUInt16BE(id, 0);
    tail.writeUInt16BE(error, 2);
    tail.writeUInt16BE(other.length, 4);
    return Buffer.concat([name, fixed, mac, tail, other]);
  }
  const tsigRr = (data = tsigRdata(), name = "Xfr-Key") => ({ name, type: "TSIG", class: "ANY", ttl: 0, data }) as any;
  const rcode = (message: Buffer) => {
    const parsed = parseQuery(message);
    return parsed.kind === "error" ? parsed.rcode : parsed.kind;
  };

  test("an IXFR query gives the serial of the client's SOA in the authority section", () => {
    const parsed = parseQuery(ixfr([soa(2024010105)]));
    expect(parsed.kind === "query" && parsed.query.ixfrSerial).toBe(2024010105);
    expect(parsed.kind === "query" && parsed.query.question.type).toBe(251);
  });

  test("an IXFR whose SOA is compressed (as dig writes it) is read the same", () => {
    // owner = pointer to the question's name; RDATA names point there too
    const question = dnsPacket.encode({ type: "query", id: 9, questions: [{ name: "example.test", type: "IXFR" as any, class: "IN" }] });
    const rdata = Buffer.concat([Buffer.from([0xc0, 12, 0xc0, 12]), Buffer.from([0, 0, 0, 42, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4])]);
    const rr = Buffer.concat([Buffer.from([0xc0, 12, 0, 6, 0, 1, 0, 0, 0, 0, 0, rdata.length]), rdata]);
    const message = Buffer.concat([question, rr]);
    message.writeUInt16BE(1, 8);
    const parsed = parseQuery(message);
    expect(parsed.kind === "query" && parsed.query.ixfrSerial).toBe(42);
  });

  test("IXFR without its SOA, with two records, or with another type there: FORMERR", () => {
    expect(rcode(ixfr([]))).toBe(RCODE.FORMERR);
    expect(rcode(ixfr([soa(1), soa(2)]))).toBe(RCODE.FORMERR);
    expect(rcode(ixfr([{ name: "example.test", type: "A", data: "192.0.2.1" }]))).toBe(RCODE.FORMERR);
    const cut = ixfr([soa(1)]);
    cut.writeUInt16BE(cut.readUInt16BE(cut.length - 22) + 1, cut.length - 22); // RDLENGTH one more than the RDATA
    expect(rcode(cut)).toBe(RCODE.FORMERR);
  });

  test("any other query with an authority record is still FORMERR, and has no ixfrSerial", () => {
    const aWithSoa = dnsPacket.encode({ type: "query", id: 9, questions: [{ name: "example.test", type: "A", class: "IN" }], authorities: [soa(1)] });
    expect(rcode(aWithSoa)).toBe(RCODE.FORMERR);
    const parsed = parseQuery(query("example.test", "AXFR"));
    expect(parsed.kind === "query" && "ixfrSerial" in parsed.query).toBe(false);
  });

  test("a TSIG as the last record is read: key and algorithm in lower case, every field, and its offset", () => {
    const message = query("gw.example.test", "A", { additionals: [opt(), tsigRr(tsigRdata({ algorithm: "HMAC-SHA256", other: Buffer.from([1, 2]) }))] });
    const parsed = parseQuery(message);
    if (parsed.kind !== "query") throw new Error(parsed.kind);
    const tsig = parsed.query.tsig!;
    expect({ ...tsig, mac: tsig.mac.toString("hex"), otherData: [...tsig.otherData] }).toEqual({
      name: "xfr-key.",
      algorithm: "hmac-sha256.",
      ttl: 0,
      timeSigned: 1_700_000_000,
      fudge: 300,
      mac: "07".repeat(32),
      originalId: 9,
      error: 0,
      otherData: [1, 2],
      start: message.length - (9 + 10 + tsigRdata({ other: Buffer.from([1, 2]) }).length),
    });
    expect(message.subarray(tsig.start, tsig.start + 9).toString("latin1")).toBe("\x07Xfr-Key\x00");
    expect(parsed.query.edns?.payload).toBe(1232);
  });

  test("a 48-bit time signed past 2^32 is read whole", () => {
    const parsed = parseQuery(query("gw.example.test", "A", { additionals: [tsigRr(tsigRdata({ time: 2 ** 32 + 5 }))] }));
    expect(parsed.kind === "query" && parsed.query.tsig?.timeSigned).toBe(2 ** 32 + 5);
  });

  test("a TSIG before another record, two TSIGs, a TSIG of class IN, or one whose RDATA does not add up: FORMERR", () => {
    expect(rcode(query("gw.example.test", "A", { additionals: [tsigRr(), opt()] }))).toBe(RCODE.FORMERR);
    expect(rcode(query("gw.example.test", "A", { additionals: [tsigRr(), tsigRr()] }))).toBe(RCODE.FORMERR);
    expect(rcode(query("gw.example.test", "A", { additionals: [{ ...tsigRr(), class: "IN" }] }))).toBe(RCODE.FORMERR);
    const rdata = tsigRdata();
    expect(rcode(query("gw.example.test", "A", { additionals: [tsigRr(Buffer.concat([rdata, Buffer.from([0])]))] }))).toBe(RCODE.FORMERR);
    expect(rcode(query("gw.example.test", "A", { additionals: [tsigRr(rdata.subarray(0, rdata.length - 1))] }))).toBe(RCODE.FORMERR);
    expect(rcode(query("gw.example.test", "A", { additionals: [tsigRr(rdata.subarray(0, 12))] }))).toBe(RCODE.FORMERR);
  });

  test("a MAC longer than the algorithm gives, or shorter than half of it, is malformed (FORMERR); an unknown algorithm is read", () => {
    for (const mac of [Buffer.alloc(33), Buffer.alloc(15), Buffer.alloc(9)])
      expect(rcode(query("gw.example.test", "A", { additionals: [tsigRr(tsigRdata({ mac }))] }))).toBe(RCODE.FORMERR);
    for (const mac of [Buffer.alloc(0), Buffer.alloc(16), Buffer.alloc(32)])
      expect(rcode(query("gw.example.test", "A", { additionals: [tsigRr(tsigRdata({ mac }))] }))).toBe("query");
    expect(rcode(query("gw.example.test", "A", { additionals: [tsigRr(tsigRdata({ algorithm: "hmac-md5.sig-alg.reg.int", mac: Buffer.alloc(16) }))] }))).toBe(
      "query",
    );
  });

  test("an IXFR signed with TSIG gives both", () => {
    const parsed = parseQuery(ixfr([soa(77)], [tsigRr()]));
    expect(parsed.kind === "query" && [parsed.query.ixfrSerial, parsed.query.tsig?.name]).toEqual([77, "xfr-key."]);
  });
});
