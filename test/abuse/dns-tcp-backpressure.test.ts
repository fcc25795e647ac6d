// A TCP client that pipelines queries faster than it reads the answers is served with
// backpressure: the server stops reading while its replies wait, instead of answering into an
// ever-growing buffer (CPU and memory; 40 such clients held a core and 380 MB) or cutting the
// client off at 1 MiB of unsent output. See docs/operations.md, "DNS over TCP".
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "node:net";
import { DnsCounters, SLOT } from "../../src/dns/counters.ts";
import { encodeQuery, seededStore, startTestDns, testZone } from "../dns/client.ts";

const seeded = seededStore();
let dns: Awaited<ReturnType<typeof startTestDns>>;
const counters = new DnsCounters();
/** Queries the server has answered so far (all but the first from its answer cache). */
const answered = () => counters.values[SLOT.cacheHits] + counters.values[SLOT.cacheMisses];
beforeAll(async () => {
  // ~1.1 KB an answer: the bytes of 100,000 small answers in a quarter of the queries
  const txt: [string, string][] = ["w", "x", "y", "z"].map((c) => ["@", c.repeat(250)]);
  dns = await startTestDns(testZone({ txt }), { gateway: seeded.store.findGatewayByName }, [], { counters });
});
afterAll(async () => {
  await dns.close();
  seeded.cleanup();
});

test("25,000 pipelined queries sent before reading a byte are all answered, in order, once the client reads", async () => {
  const count = 25_000;
  const frames: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const q = encodeQuery("example.test", "TXT", { id: i & 0xffff });
    const frame = Buffer.alloc(2 + q.length);
    frame.writeUInt16BE(q.length, 0);
    q.copy(frame, 2);
    frames.push(frame);
  }
  // About 27 MB of answers in all: far past the 1 MiB the server lets wait unsent.
  const socket = connect({ port: dns.port, host: "127.0.0.1" });
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  socket.pause();
  socket.write(Buffer.concat(frames));
  // the server answers until its socket buffers are full, then waits: its count stops for 250 ms
  for (let last = -1, still = 0, i = 0; still < 5 && i < 200; i++) {
    await Bun.sleep(50);
    still = answered() > 0 && answered() === last ? still + 1 : 0;
    last = answered();
  }
  expect(answered()).toBeLessThan(count);
  let buffered = Buffer.alloc(0);
  const ids: number[] = [];
  let closed = false;
  const done = new Promise<void>((resolve) => {
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        ids.push(buffered.readUInt16BE(2));
        buffered = buffered.subarray(2 + buffered.readUInt16BE(0));
      }
      if (ids.length === count) resolve();
    });
    socket.on("close", () => {
      closed = true;
      resolve();
    });
  });
  socket.resume();
  await done;
  socket.destroy();
  expect(closed).toBe(false);
  expect(ids.length).toBe(count);
  expect(ids.every((id, i) => id === (i & 0xffff))).toBe(true);
}, 30_000);
