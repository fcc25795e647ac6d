// DNS latency while the expiry sweep ran: reads udp-load.ts's samples and the server log's
// "expiry: removed N domain(s) ... in S s" line (its timestamp is the sweep's end).
//   bun sweep-report.ts LOAD_JSON SERVER_LOG
import { readFileSync } from "node:fs";

const load = JSON.parse(readFileSync(process.argv[2], "utf8")) as { sent: number; received: number; lost: number; samples: [number, number][] };
const logText = readFileSync(process.argv[3], "utf8");
// The line may end with the names it freed ("...s: a.example b.example and 499980 more").
const sweep = [...logText.matchAll(/^(\S+) expiry: removed (\d+) domain\(s\).*? in ([\d.]+)s(?::.*)?$/gm)].find((m) => Number(m[2]) > 0);
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))] : NaN;
};
const all = load.samples.map(([, ms]) => ms);
const out: Record<string, number> = { sent: load.sent, lost: load.lost, p99AllMs: percentile(all, 99), maxAllMs: Math.max(...all) };
if (sweep) {
  const end = Date.parse(sweep[1]);
  const start = end - Number(sweep[3]) * 1000;
  const during = load.samples.filter(([t]) => t >= start && t <= end).map(([, ms]) => ms);
  Object.assign(out, {
    removed: Number(sweep[2]),
    sweepSeconds: Number(sweep[3]),
    queriesDuringSweep: during.length,
    p50SweepMs: percentile(during, 50),
    p99SweepMs: percentile(during, 99),
    maxSweepMs: Math.max(...during),
  });
}
console.log(JSON.stringify(out));
