// A steady UDP query load with per-query latency: sends QPS queries a second from a dnsperf
// query file (in order, looping) for SECONDS, then waits 2 s for stragglers.
//   bun udp-load.ts PORT QPS SECONDS QUERY_FILE OUT_JSON
// OUT_JSON: { sent, received, lost, samples: [[sendEpochMs, latencyMs], ...] }
import { encodeQuestion } from "../../src/dns/wire.ts";
import { readFileSync, writeFileSync } from "node:fs";

const [port, qps, seconds] = process.argv.slice(2, 5).map(Number);
const [queryFile, outFile] = process.argv.slice(5, 7);
const TYPES: Record<string, number> = { A: 1, NS: 2, SOA: 6, TXT: 16, AAAA: 28 };

const encode = (id: number, name: string, type: number) => encodeQuestion(id, name, type);

const questions = readFileSync(queryFile, "utf8")
  .trim()
  .split("\n")
  .map((line) => {
    const [name, type] = line.split(" ");
    return { name, type: TYPES[type] ?? 1 };
  });
const sentAt = new Float64Array(65536).fill(-1);
const samples: [number, number][] = [];
let sent = 0;
let received = 0;
const socket = await Bun.udpSocket({
  socket: {
    data(_s, data) {
      const id = data.readUInt16BE(0);
      const t = sentAt[id];
      if (t < 0) return;
      sentAt[id] = -1;
      received++;
      samples.push([performance.timeOrigin + t, performance.now() - t]);
    },
    error() {}, // "port unreachable" before the server binds: the query counts as lost
  },
});
const start = performance.now();
await new Promise<void>((resolve) => {
  const tick = () => {
    const elapsed = (performance.now() - start) / 1000;
    if (elapsed >= seconds) return resolve();
    const due = Math.floor(elapsed * qps);
    while (sent < due) {
      const id = sent & 0xffff;
      const q = questions[sent % questions.length];
      sentAt[id] = performance.now(); // an ID unanswered for 65536 queries counts as lost
      socket.send(encode(id, q.name, q.type), port, "127.0.0.1");
      sent++;
    }
    setTimeout(tick, 1);
  };
  tick();
});
await Bun.sleep(2000);
socket.close();
writeFileSync(outFile, JSON.stringify({ sent, received, lost: sent - received, samples }));
console.log(JSON.stringify({ sent, received, lost: sent - received }));
