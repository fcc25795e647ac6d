// Reads a dnsperf run: its statistics block and, from a -v run, every answer's latency.
//   bun dnsperf-stats.ts THROUGHPUT_OUTPUT [VERBOSE_OUTPUT]  ->  one JSON line
import { readFileSync } from "node:fs";

const number = (text: string, pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? NaN);

export function summary(text: string) {
  return {
    sent: number(text, /Queries sent:\s+(\d+)/),
    completed: number(text, /Queries completed:\s+(\d+)/),
    lost: number(text, /Queries lost:\s+(\d+)/),
    qps: number(text, /Queries per second:\s+([\d.]+)/),
    meanMs: number(text, /Average Latency \(s\):\s+([\d.]+)/) * 1000,
    maxMs: number(text, /Average Latency \(s\):.*max ([\d.]+)/) * 1000,
  };
}

/** Latencies (ms) of every answered query in a `dnsperf -v` output: "> NOERROR name type 0.000123". */
export function latencies(text: string): Float64Array {
  const out: number[] = [];
  for (const line of text.split("\n")) {
    if (line.charCodeAt(0) !== 62 /* > */) continue;
    const seconds = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (Number.isFinite(seconds)) out.push(seconds * 1000);
  }
  return Float64Array.from(out).sort();
}

export const percentile = (sorted: Float64Array, p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] : NaN;

if (import.meta.main) {
  const [throughputFile, verboseFile] = process.argv.slice(2);
  const throughput = summary(readFileSync(throughputFile, "utf8"));
  const result: Record<string, number> = { qps: throughput.qps, sent: throughput.sent, lost: throughput.lost };
  if (verboseFile) {
    const text = readFileSync(verboseFile, "utf8");
    const verbose = summary(text);
    const sorted = latencies(text);
    result.lost += verbose.lost;
    result.meanMs = sorted.reduce((a, b) => a + b, 0) / sorted.length;
    result.p50Ms = percentile(sorted, 50);
    result.p99Ms = percentile(sorted, 99);
    result.maxMs = sorted[sorted.length - 1];
    result.latencySamples = sorted.length;
  }
  console.log(JSON.stringify(result));
}
