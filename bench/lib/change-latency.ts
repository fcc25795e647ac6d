// Change-to-secondary-answer latency: `rate` times a second, /ping one dynamic-DNS gateway from
// an address it never had (X-Real-IP), then ask the secondary for that name's A over UDP every
// POLL_MS until it answers the new address. Latency = the API's 200 to the secondary's answer.
//   bun bench/lib/change-latency.ts --api URL --dns HOST:PORT --names FILE --tokens FILE [--rate 100] [--seconds 10]
// Prints one JSON line: changes, answered, lost (no answer within 10 s), p50/p90/p99/max in ms.
import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import * as packet from "dns-packet";

const { values: args } = parseArgs({
  options: {
    api: { type: "string" },
    dns: { type: "string" },
    names: { type: "string" },
    tokens: { type: "string" },
    rate: { type: "string", default: "100" },
    seconds: { type: "string", default: "10" },
  },
});
const POLL_MS = 5;
const GIVE_UP_MS = 10_000;
const rate = Number(args.rate);
const total = Math.round(rate * Number(args.seconds));
const names = readFileSync(args.names!, "utf8").trim().split("\n");
const tokens = readFileSync(args.tokens!, "utf8").trim().split("\n");
if (total > 65_536 || total > names.length) throw new Error(`at most ${Math.min(65_536, names.length)} changes (one address and one gateway each)`);
const [dnsHost, dnsPort] = args.dns!.split(":");

const socket = createSocket("udp4");
await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
/** query id -> the change waiting for it */
const waiting = new Map<number, { address: string; done: (at: number) => void }>();
let nextId = 1;
socket.on("message", (msg) => {
  let reply: packet.Packet;
  try {
    reply = packet.decode(msg);
  } catch {
    return;
  }
  const entry = waiting.get(reply.id ?? -1);
  if (!entry) return;
  waiting.delete(reply.id!);
  if (reply.answers?.some((a) => a.type === "A" && a.data === entry.address)) entry.done(performance.now());
});

function ask(name: string, address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const id = nextId;
    nextId = (nextId % 65_535) + 1;
    const timer = setTimeout(() => {
      waiting.delete(id);
      resolve(false);
    }, POLL_MS);
    waiting.set(id, {
      address,
      done: () => {
        clearTimeout(timer);
        resolve(true);
      },
    });
    socket.send(packet.encode({ id, type: "query", flags: 0, questions: [{ name, type: "A", class: "IN" }] }), Number(dnsPort), dnsHost);
  });
}

const latencies: number[] = [];
const apiMs: number[] = [];
let lost = 0;
let apiErrors = 0;

async function change(i: number): Promise<void> {
  const address = `10.200.${(i >> 8) & 255}.${i & 255}`;
  const url = new URL("/ping", args.api);
  url.searchParams.set("token", tokens[i]);
  const sent = performance.now();
  const res = await fetch(url, { headers: { "X-Real-IP": address }, signal: AbortSignal.timeout(10_000) }).catch(() => null);
  const committed = performance.now();
  if (res?.status !== 200) {
    apiErrors++;
    return;
  }
  await res.arrayBuffer();
  apiMs.push(committed - sent);
  while (performance.now() - committed < GIVE_UP_MS) {
    if (await ask(names[i], address)) {
      latencies.push(performance.now() - committed);
      return;
    }
  }
  lost++;
}

const started = performance.now();
const running: Promise<void>[] = [];
for (let i = 0; i < total; i++) {
  const due = started + (i * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 0) await Bun.sleep(wait);
  running.push(change(i));
}
await Promise.all(running);
socket.close();

const pct = (list: number[], p: number) => {
  if (list.length === 0) return null;
  const sorted = list.toSorted((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] * 10) / 10;
};
console.log(
  JSON.stringify({
    changes: total,
    rate,
    answered: latencies.length,
    lost,
    apiErrors,
    p50Ms: pct(latencies, 50),
    p90Ms: pct(latencies, 90),
    p99Ms: pct(latencies, 99),
    maxMs: pct(latencies, 100),
    apiP99Ms: pct(apiMs, 99),
    pollMs: POLL_MS,
  }),
);
