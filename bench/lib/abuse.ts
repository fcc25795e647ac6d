// The attacks of bench/abuse.sh, each printing one JSON line of figures. Loopback only;
// every loop is bounded in count and time.
//   bun abuse.ts amplification DNS_PORT ZONE GATEWAY
//   bun abuse.ts burst DNS_PORT NAME COUNT             identical spoofable queries, one source
//   bun abuse.ts slowloris DNS_PORT CONNECTIONS SECONDS   trickling TCP clients from 127.0.1.x,
//                                                      a fresh client's TCP answer time meanwhile
//   bun abuse.ts http-probe URL TOKENS_FILE SECONDS    sequential /info latencies (4 in flight)
//   bun abuse.ts dns-probe DNS_PORT NAMES_FILE QPS SECONDS   per-query UDP latencies
//   bun abuse.ts hold-lock DB_PATH SECONDS             BEGIN IMMEDIATE, sleep, COMMIT
import { encodeQuestion } from "../../src/dns/wire.ts";
import { Database } from "bun:sqlite";
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";

const TYPES: Record<string, number> = { A: 1, NS: 2, SOA: 6, MX: 15, TXT: 16, AAAA: 28, CAA: 257, ANY: 255 };

/** As resolvers and spoofers send them: RD set; `edns` a payload size (an amplifier's dream is 4096). */
const query = (id: number, name: string, type: number, edns = 0) => encodeQuestion(id, name, type, { flags: 0x0100, ednsPayload: edns });

const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN);
const round2 = (n: number) => Math.round(n * 100) / 100;
const latencyFigures = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  return { p50Ms: round2(percentile(s, 50)), p99Ms: round2(percentile(s, 99)), maxMs: round2(s.at(-1) ?? NaN) };
};

/** One UDP exchange; null when nothing came back within `timeoutMs`. */
async function udpOnce(port: number, message: Buffer, timeoutMs = 1000): Promise<Buffer | null> {
  let done: (b: Buffer | null) => void = () => {};
  const result = new Promise<Buffer | null>((resolve) => (done = resolve));
  const socket = await Bun.udpSocket({ socket: { data: (_s, data) => done(Buffer.from(data)), error() {} } });
  const timer = setTimeout(() => done(null), timeoutMs);
  socket.send(message, port, "127.0.0.1");
  const reply = await result;
  clearTimeout(timer);
  socket.close();
  return reply;
}

async function amplification(port: number, zone: string, gateway: string) {
  const cases: [string, string][] = [
    [zone, "ANY"],
    [zone, "TXT"],
    [zone, "NS"],
    [zone, "SOA"],
    [zone, "MX"],
    [zone, "CAA"],
    [`${gateway}.${zone}`, "ANY"],
    [`${gateway}.${zone}`, "A"],
    [`_acme-challenge.${gateway}.${zone}`, "TXT"],
    [`nx-${Date.now()}.${zone}`, "A"],
  ];
  const out: Record<string, unknown>[] = [];
  let id = 1;
  for (const [name, type] of cases) {
    const q = query(id++, name, TYPES[type], 4096);
    const reply = await udpOnce(port, q);
    out.push({ name, type, requestBytes: q.length, responseBytes: reply?.length ?? 0, factor: round2((reply?.length ?? 0) / q.length) });
    await Bun.sleep(20);
  }
  console.log(JSON.stringify({ name: "amplification", cases: out, worstFactor: Math.max(...out.map((c) => c.factor as number)) }));
}

async function burst(port: number, name: string, count: number) {
  let full = 0;
  let truncated = 0;
  const socket = await Bun.udpSocket({
    socket: {
      data(_s, data) {
        if (data[2] & 0x02) truncated++;
        else full++;
      },
      error() {},
    },
  });
  const q = query(0, name, TYPES.TXT, 4096);
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    q.writeUInt16BE(i & 0xffff, 0);
    socket.send(q, port, "127.0.0.1");
    if (i % 100 === 99) await Bun.sleep(1); // the socket buffer, not the server, would drop the rest
  }
  const sendSeconds = (performance.now() - started) / 1000;
  await Bun.sleep(1500);
  socket.close();
  const dropped = count - full - truncated;
  console.log(
    JSON.stringify({
      name: "burst",
      query: `${name} TXT`,
      sent: count,
      sendSeconds: round2(sendSeconds),
      full,
      truncated,
      dropped,
      fullShare: round2(full / count),
      truncatedShare: round2(truncated / count),
      droppedShare: round2(dropped / count),
    }),
  );
}

/** A TCP DNS exchange from 127.0.0.1; the time until the answer, or null on failure. */
function tcpQuery(port: number, message: Buffer, timeoutMs = 5000): Promise<number | null> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect({ port, host: "127.0.0.1" });
    const timer = setTimeout(() => finish(null), timeoutMs);
    let buffered = Buffer.alloc(0);
    const finish = (v: number | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    socket.on("connect", () => {
      const frame = Buffer.alloc(2 + message.length);
      frame.writeUInt16BE(message.length, 0);
      message.copy(frame, 2);
      socket.write(frame);
    });
    socket.on("data", (d: Buffer) => {
      buffered = Buffer.concat([buffered, d]);
      if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) finish(performance.now() - started);
    });
    socket.on("error", () => finish(null));
    socket.on("close", () => finish(null));
  });
}

async function slowloris(port: number, connections: number, seconds: number) {
  const sockets: Socket[] = [];
  let closedByServer = 0;
  let opened = 0;
  const open = (i: number) => {
    // From 127.0.1.1 upwards, 16 connections an address: as many sources as an attacker with a botnet.
    const local = `127.0.1.${1 + Math.floor(i / 16)}`;
    const s = connect({ port, host: "127.0.0.1", localAddress: local });
    s.on("connect", () => {
      opened++;
      s.write(Buffer.from([0x00])); // the first byte of a length prefix, and then a byte every 4 s
    });
    s.on("error", () => {});
    s.on("close", () => {
      closedByServer++;
      if (!stopping) setTimeout(() => open(i), 100); // and reopen, as the attack did
    });
    sockets[i] = s;
  };
  let stopping = false;
  for (let i = 0; i < connections; i++) open(i);
  const trickle = setInterval(() => {
    for (const s of sockets) if (!s.destroyed) s.write(Buffer.from([0x20]));
  }, 4000);
  await Bun.sleep(1000);
  const times: number[] = [];
  let failed = 0;
  const end = performance.now() + seconds * 1000;
  let id = 1;
  while (performance.now() < end) {
    const t = await tcpQuery(port, query(id++, "bench.test", TYPES.SOA));
    if (t === null) failed++;
    else times.push(t);
    await Bun.sleep(200);
  }
  stopping = true;
  clearInterval(trickle);
  for (const s of sockets) s.destroy();
  console.log(
    JSON.stringify({
      name: "slowloris",
      connections,
      opened,
      closedByServer,
      freshQueries: times.length + failed,
      freshFailed: failed,
      ...latencyFigures(times),
    }),
  );
}

async function httpProbe(url: string, tokensFile: string, seconds: number) {
  const tokens = readFileSync(tokensFile, "utf8").trim().split("\n");
  const times: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const worker = async (w: number) => {
    for (let i = w; performance.now() < end; i += 4) {
      const started = performance.now();
      try {
        const res = await fetch(`${url}/info?token=${tokens[i % tokens.length]}`);
        await res.arrayBuffer();
        if (res.status !== 200) errors++;
        times.push(performance.now() - started);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all([0, 1, 2, 3].map(worker));
  console.log(JSON.stringify({ name: "http-probe", requests: times.length, errors, ...latencyFigures(times) }));
}

async function dnsProbe(port: number, namesFile: string, qps: number, seconds: number) {
  const names = readFileSync(namesFile, "utf8")
    .trim()
    .split("\n")
    .map((l) => l.split(" ")[0]);
  const sentAt = new Float64Array(65536).fill(-1);
  const times: number[] = [];
  let sent = 0;
  const socket = await Bun.udpSocket({
    socket: {
      data(_s, data) {
        const id = data.readUInt16BE(0);
        if (sentAt[id] < 0) return;
        times.push(performance.now() - sentAt[id]);
        sentAt[id] = -1;
      },
      error() {},
    },
  });
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    const due = Math.floor(((performance.now() - start) / 1000) * qps);
    while (sent < due) {
      const id = sent & 0xffff;
      sentAt[id] = performance.now();
      socket.send(query(id, names[sent % names.length], TYPES.A), port, "127.0.0.1");
      sent++;
    }
    await Bun.sleep(1);
  }
  await Bun.sleep(1000);
  socket.close();
  console.log(JSON.stringify({ name: "dns-probe", sent, answered: times.length, lost: sent - times.length, ...latencyFigures(times) }));
}

function holdLock(path: string, seconds: number) {
  const db = new Database(path);
  db.run("PRAGMA busy_timeout = 10000");
  db.run("BEGIN IMMEDIATE");
  db.run("UPDATE domains SET description = description WHERE id = (SELECT min(id) FROM domains)");
  console.error(`hold-lock: holding the write lock on ${path} for ${seconds} s`);
  Bun.sleepSync(seconds * 1000);
  db.run("COMMIT");
  db.close();
}

const [command, ...args] = process.argv.slice(2);
switch (command) {
  case "amplification":
    await amplification(Number(args[0]), args[1], args[2]);
    break;
  case "burst":
    await burst(Number(args[0]), args[1], Number(args[2]));
    break;
  case "slowloris":
    await slowloris(Number(args[0]), Number(args[1]), Number(args[2]));
    break;
  case "http-probe":
    await httpProbe(args[0], args[1], Number(args[2]));
    break;
  case "dns-probe":
    await dnsProbe(Number(args[0]), args[1], Number(args[2]), Number(args[3]));
    break;
  case "hold-lock":
    holdLock(args[0], Number(args[1]));
    break;
  default:
    console.error("usage: see the head of bench/lib/abuse.ts");
    process.exit(2);
}
process.exit(0);
