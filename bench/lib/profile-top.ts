// Self and inclusive time per function in a .cpuprofile (Chrome format), heaviest first.
//   bun profile-top.ts FILE.cpuprofile [N]
import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const profile = JSON.parse(readFileSync(process.argv[2], "utf8")) as { nodes: Node[]; samples: number[] };
const limit = Number(process.argv[3] ?? 30);
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const key = (n: Node) =>
  `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.replace(/^.*\/(node_modules|src|bench)\//, "$1/")}:${n.callFrame.lineNumber + 1}`;
const self = new Map<string, number>();
const total = new Map<string, number>();
for (const id of profile.samples) {
  const node = byId.get(id)!;
  self.set(key(node), (self.get(key(node)) ?? 0) + 1);
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const k = key(byId.get(at)!);
    if (!seen.has(k)) total.set(k, (total.get(k) ?? 0) + 1);
    seen.add(k);
  }
}
const n = profile.samples.length;
const show = (title: string, m: Map<string, number>) => {
  console.log(`\n${title} (${n} samples)`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, limit)) console.log(`${((100 * v) / n).toFixed(1).padStart(5)}%  ${k}`);
};
show("self time", self);
show("inclusive time", total);
