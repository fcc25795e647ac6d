// Slow (npm run test:slow): waits for Bun's ~12 s timeout on unfinished requests.
// HTTP descriptor exhaustion, a flood of requests never finished: unfinished requests each hold a descriptor,
// the one pool HTTP and DNS/TCP share. Bun lifts the soft RLIMIT_NOFILE to the hard limit and
// the server logs the figure. Bun closes a connection whose request is unfinished after about
// 12 s whatever idleTimeout says, bytes trickled in or not (measured), so a flood that used up
// every descriptor lets go of them. The test sets a small limit (256).
import { afterEach, describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { decode, encodeQuery, tcpExchange } from "../dns/client.ts";
import { get, startServer, type RunningServer } from "../support/server.ts";
import { waitFor } from "../support/helpers.ts";

const LIMIT = 256;
const FLOOD = 300;

const servers: RunningServer[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await s.cleanup();
});

/** The server under a soft and hard limit of LIMIT open files, as `ulimit -n` in a unit file would set. */
async function startLimited(env: Record<string, string> = {}) {
  const server = await startServer({ wrapper: ["sh", "-c", `ulimit -n ${LIMIT} && exec "$@"`, "sh"], env });
  servers.push(server);
  return server;
}

/** Resolves once `n` connections are open, each having sent an unfinished request (no blank line). */
async function holdHalfOpen(port: number, n: number): Promise<void> {
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<void>((resolve) => {
          const socket = connect(port, "127.0.0.1", () => {
            socket.write("GET /info?token=x HTTP/1.1\r\nHost: flood\r\n");
            resolve();
          });
          socket.on("error", () => resolve());
          sockets.push(socket);
        }),
    ),
  );
}

describe("half-open HTTP requests", () => {
  test(`${FLOOD} unfinished requests over a ${LIMIT}-descriptor limit: once Bun closes them, a fresh HTTP request and a DNS/TCP query are answered`, async () => {
    const server = await startLimited();
    await holdHalfOpen(server.httpPort, FLOOD); // held, never finished: more than the process may hold
    const flooded = performance.now();
    await waitFor(
      async () => {
        try {
          return (await get(server, "/connectivity-check", { signal: AbortSignal.timeout(1000) })).status === 200;
        } catch {
          return false;
        }
      },
      "a fresh HTTP request answered",
      25_000,
      250,
    );
    console.log(`fresh HTTP request answered ${((performance.now() - flooded) / 1000).toFixed(1)} s after the flood`);
    const reply = decode((await tcpExchange(server.dnsPort, [encodeQuery("example.test", "SOA")]))[0]);
    expect(reply.rcode).toBe("NOERROR");
    expect(server.proc.exitCode).toBeNull();
  }, 40_000);
});
