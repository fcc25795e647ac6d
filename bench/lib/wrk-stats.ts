// Reads `wrk --latency` output into one JSON line: requests/s, mean, p50, p99, errors.
//   bun wrk-stats.ts WRK_OUTPUT
import { readFileSync } from "node:fs";

const text = readFileSync(process.argv[2], "utf8");
const ms = (value: string | undefined) => {
  const m = /^([\d.]+)(us|ms|s)$/.exec(value ?? "");
  if (!m) return NaN;
  return Number(m[1]) * ({ us: 0.001, ms: 1, s: 1000 } as const)[m[2] as "us" | "ms" | "s"];
};
const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
console.log(
  JSON.stringify({
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN),
    meanMs: ms(/Latency\s+(\S+)/.exec(text)?.[1]),
    p50Ms: ms(/^\s+50%\s+(\S+)/m.exec(text)?.[1]),
    p99Ms: ms(/^\s+99%\s+(\S+)/m.exec(text)?.[1]),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0),
    socketErrors: errors ? errors.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  }),
);
