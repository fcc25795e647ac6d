// A UDP reply that meets a closed port (ICMP port unreachable) must not end the process.
// Bun sets IP_RECVERR and calls the socket's error handler with `undefined` for it; unbound
// does this without any attacker when it re-asks from a new port after ~100 ms. In process: the
// DNS server's socket in this thread, where an error thrown by its handler fails the run.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import { decode, encodeQuery, seededStore, startTestDns, testZone, udpExchange } from "../dns/client.ts";

const seeded = seededStore();
const log: string[] = [];
let dns: Awaited<ReturnType<typeof startTestDns>>;
beforeAll(async () => {
  dns = await startTestDns(testZone(), { gateway: seeded.store.findGatewayByName }, log);
});
afterAll(async () => {
  await dns.close();
  seeded.cleanup();
});

/** Sends one query from a fresh socket and closes the socket before the reply can arrive. */
async function askAndVanish(port: number, id: number): Promise<void> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  await new Promise<void>((resolve, reject) =>
    socket.send(encodeQuery(`gone${id}.example.test`, "A", { id }), port, "127.0.0.1", (e) => (e ? reject(e) : resolve())),
  );
  socket.close();
}

test("replies to closed client ports leave DNS answering, with nothing thrown or logged", async () => {
  for (let i = 0; i < 50; i++) await askAndVanish(dns.port, i + 1);
  await Bun.sleep(300); // the ICMP errors come back meanwhile
  const reply = decode(await udpExchange(dns.port, encodeQuery("nobody.example.test", "A", { id: 7 })));
  expect(reply.rcode).toBe("NXDOMAIN");
  expect(log.join("\n")).not.toMatch(/TypeError/);
});
