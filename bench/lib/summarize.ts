// Turns the JSON lines of a benchmark's rounds into a markdown table: the median of each
// figure over the rounds, and each ratio computed inside a round before taking the median.
//   bun summarize.ts RESULTS.jsonl BASELINE_NAME [OTHER_BASELINE...]
import { readFileSync } from "node:fs";

type Row = { round: number; name: string } & Record<string, number>;
const [file, ...baselines] = process.argv.slice(2);
const rows: Row[] = readFileSync(file, "utf8")
  .trim()
  .split("\n")
  .map((l) => JSON.parse(l));
const names = [...new Set(rows.map((r) => r.name))];
const rounds = [...new Set(rows.map((r) => r.round))];
const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const rate = (r: Row) => r.qps ?? r.rps;
const fields = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((k) => k !== "round" && k !== "name");
const fmt = (k: string, x: number) =>
  !Number.isFinite(x)
    ? "–"
    : k.endsWith("Ms")
      ? x.toFixed(2)
      : k === "qps" || k === "rps"
        ? Math.round(x).toLocaleString("en-US")
        : String(Math.round(x * 100) / 100);

const header = [
  "server",
  ...fields.map((f) => (f === "lost" ? "lost (sum)" : `${f} (median)`)),
  ...baselines.map((b) => `vs ${b} (median of per-round ratios)`),
];
console.log(`${rounds.length} round(s)\n`);
console.log(`| ${header.join(" | ")} |`);
console.log(`| ${header.map(() => "---").join(" | ")} |`);
for (const name of names) {
  const mine = rows.filter((r) => r.name === name);
  const cells = fields.map((f) => fmt(f, f === "lost" ? mine.reduce((a, r) => a + (r.lost ?? 0), 0) : median(mine.map((r) => r[f]))));
  const ratios = baselines.map((b) => {
    const per = rounds.map((round) => {
      const x = mine.find((r) => r.round === round);
      const y = rows.find((r) => r.round === round && r.name === b);
      return x && y ? rate(x) / rate(y) : NaN;
    });
    return `${median(per).toFixed(2)} (${per.map((p) => p.toFixed(2)).join(", ")})`;
  });
  console.log(`| ${[name, ...cells, ...ratios].join(" | ")} |`);
}
console.log("\n(lost: summed over all rounds)");
