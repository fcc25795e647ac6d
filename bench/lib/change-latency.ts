// Change-to-secondary-answer latency: `rate` times a second, /ping one dynamic-DNS gateway from
// an address it never had (X-Real-IP); latency = the API's 200 to the secondary answering the
// new address for that name.
// One poller asks the secondary over UDP, every POLL_MS, about the oldest change not seen yet.
// Changes reach the secondary in the order they were committed (one serial per batch, each
// IXFR applied whole), so once the oldest is answered the next ones are asked at once, one
// after another, until one is not there yet. Asking about every pending change every few ms
// instead (as this script first did) sent thousands of queries a second to the secondary, on
// the CPU it shares with this script: a slow refresh meant more pending changes, more queries
// and a slower secondary, and the p99 measured that feedback, not the secondary.
//   bun bench/lib/change-latency.ts --api URL --dns HOST:PORT --names FILE --tokens FILE [--rate 100] [--seconds 10]
// Prints one JSON line: changes, answered, lost (no answer within 10 s), p50/p90/p99/max in ms,
// and the queries the poller sent.
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
const POLL_MS = 2;
/** how long one question waits for the secondary's reply */
const ASK_TIMEOUT_MS = 5;
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
    }, ASK_TIMEOUT_MS);
    waiting.set(id, {
      address,
      done: () => {
        clearTimeout(timer);
        resolve(true);
      },
    });
    queries++;
    socket.send(packet.encode({ id, type: "query", flags: 0, questions: [{ name, type: "A", class: "IN" }] }), Number(dnsPort), dnsHost);
  });
}

const latencies: number[] = [];
const apiMs: number[] = [];
let lost = 0;
let apiErrors = 0;
let queries = 0;

/** changes the API committed, oldest first, not yet answered by the secondary */
const pending: { i: number; address: string; committed: number }[] = [];
let sending = true;

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
  pending.push({ i, address, committed });
}

/** Asks about the oldest pending change; when it is there, the next at once. */
async function poll(): Promise<void> {
  while (sending || pending.length > 0) {
    const tick = performance.now();
    while (pending.length > 0) {
      const head = pending[0];
      if (await ask(names[head.i], head.address)) {
        latencies.push(performance.now() - head.committed);
        if (process.env.LATENCY_TRACE)
          console.error(`trace ${head.i} ${(head.committed - started).toFixed(0)} ${(performance.now() - head.committed).toFixed(0)}`);
        pending.shift();
      } else if (performance.now() - head.committed > GIVE_UP_MS) {
        lost++;
        pending.shift();
      } else break;
    }
    const wait = tick + POLL_MS - performance.now();
    if (wait > 0) await Bun.sleep(wait);
  }
}

const polling = poll();
const started = performance.now();
const running: Promise<void>[] = [];
for (let i = 0; i < total; i++) {
  const due = started + (i * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 0) await Bun.sleep(wait);
  running.push(change(i));
}
await Promise.all(running);
sending = false;
await polling;
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
    queries,
  }),
);
