// A UDP reply that meets a closed port (ICMP port unreachable) must not end the process.
// Bun sets IP_RECVERR and calls the socket's error handler with `undefined` for it; unbound
// does this without any attacker when it re-asks from a new port after ~100 ms.
import { expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import { get, useServer } from "../support/server.ts";
import { decode, encodeQuery, udpExchange } from "../dns/client.ts";

const running = useServer();

/** Sends one query from a fresh socket and closes the socket before the reply can arrive. */
async function askAndVanish(port: number, id: number): Promise<void> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  await new Promise<void>((resolve, reject) =>
    socket.send(encodeQuery(`gone${id}.example.test`, "A", { id }), port, "127.0.0.1", (e) => (e ? reject(e) : resolve())),
  );
  socket.close();
}

test("replies to closed client ports leave HTTP and DNS answering", async () => {
  for (let i = 0; i < 50; i++) await askAndVanish(running.server.dnsPort, i + 1);
  await Bun.sleep(300);
  expect(running.server.proc.exitCode).toBeNull();
  expect((await get(running.server, "/connectivity-check")).text).toBe("OK");
  const reply = decode(await udpExchange(running.server.dnsPort, encodeQuery("nobody.example.test", "A", { id: 7 })));
  expect(reply.rcode).toBe("NXDOMAIN");
  expect(running.server.output()).not.toMatch(/TypeError/);
});
