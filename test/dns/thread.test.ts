// DNS in its own thread (src/dns/threaded.ts + worker.ts), started in this process on a real
// SQLite file: the thread reads the rows this thread writes, sees invalidations through the
// shared counters at once, closes its sockets on close(), and is replaced if it dies.
import { afterAll, describe, expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import { join } from "node:path";
import { AnswerVersions } from "../../src/dns/answer-cache.ts";
import { startDnsThread } from "../../src/dns/threaded.ts";
import { decode, encodeQuery, GATEWAYS, seededStore, tcpExchange, testZone, udpExchange } from "./client.ts";

const WORKER = new URL("../../src/dns/worker.ts", import.meta.url);
const CRASHING_WORKER = new URL("../support/dns-worker-crashing-once.ts", import.meta.url);
const seeded = seededStore();
const dbPath = join(seeded.dir, "registration.sqlite");
afterAll(() => seeded.cleanup());

/** warmUp: the thread runs its 3,000-query warm-up as serve.ts's does with the default settings (the first test) */
async function start(workerUrl = WORKER, warmUp = true) {
  const log: string[] = [];
  const versions = new AnswerVersions();
  seeded.store.onGatewayChange((name) => versions.invalidate(name));
  const dns = await startDnsThread(
    {
      host: "127.0.0.1",
      port: 0,
      zone: { ...testZone(), warmUpQueries: warmUp ? 3000 : 0 },
      dbPath,
      versions,
      lookups: { gateway: seeded.store.findGatewayByName },
      log: (line) => log.push(line),
    },
    workerUrl,
  );
  return { port: dns.port, log, dns };
}

const challenge = async (port: number) =>
  (decode(await udpExchange(port, encodeQuery("_acme-challenge.home.example.test", "TXT"))).answers ?? []).map((a: any) => Buffer.concat(a.data).toString());

const bindable = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createSocket("udp4");
    socket.once("error", () => resolve(false));
    socket.bind(port, "127.0.0.1", () => socket.close(() => resolve(true)));
  });

describe("DNS thread", () => {
  test("answers from the file over UDP and TCP, follows writes made here on the very next query, and close() frees its port", async () => {
    const { port, dns, log } = await start();
    const home = GATEWAYS.find((g) => g.label === "home")!;
    expect(await challenge(port)).toEqual(["chal-123"]);
    for (let i = 0; i < 50; i++) {
      seeded.store.setDnsChallenge(home.token, `thread-${i}`);
      expect(await challenge(port)).toEqual([`thread-${i}`]);
      expect(await challenge(port)).toEqual([`thread-${i}`]);
    }
    const [overTcp] = await tcpExchange(port, [encodeQuery("home.example.test", "A")]);
    expect(decode(overTcp).answers?.map((a: any) => a.data)).toEqual(["203.0.113.5"]);
    expect(await bindable(port)).toBe(false);
    await dns.close();
    expect(await bindable(port)).toBe(true);
    expect(log).toEqual([]);
  });

  test("a port already taken: start-up rejects with the bind error", async () => {
    const holder = createSocket("udp4");
    await new Promise<void>((resolve) => holder.bind(0, "127.0.0.1", () => resolve()));
    const { port } = holder.address();
    try {
      const versions = new AnswerVersions();
      const started = startDnsThread(
        { host: "127.0.0.1", port, zone: testZone(), dbPath, versions, lookups: { gateway: () => undefined }, log: () => {} },
        WORKER,
      );
      await expect(started).rejects.toThrow();
    } finally {
      holder.close();
    }
  });

  test("a thread that dies is replaced: DNS answers again on the same port (the one the first thread got for port 0), and the death is logged in one line", async () => {
    const { port, dns, log } = await start(CRASHING_WORKER, false);
    try {
      expect(await challenge(port)).not.toEqual([]);
      const deadline = Date.now() + 10_000;
      while (!log.some((l) => l.includes("a new DNS thread is answering")) && Date.now() < deadline) await Bun.sleep(100);
      expect(log.some((l) => /dns: DNS thread error: .*injected crash/.test(l))).toBe(true);
      expect(log.filter((l) => l.includes("\n"))).toEqual([]);
      expect(log.some((l) => l.includes("a new DNS thread is answering"))).toBe(true);
      expect(await challenge(port)).not.toEqual([]);
    } finally {
      await dns.close();
    }
    expect(await bindable(port)).toBe(true);
  }, 20_000);
});
