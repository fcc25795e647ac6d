// A fresh TCP client whose query is still on its way is not pushed out by the connections that
// arrive right after it: with the cap full, a reconnecting flood's newcomers first make room
// from idle connections past their grace, then from the slowest senders; a connection not a
// second old that has sent nothing goes last (docs/operations.md, "DNS over TCP").
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { decode, encodeQuery, seededStore, startTestDns, testZone } from "../dns/client.ts";

const seeded = seededStore();
let dns: Awaited<ReturnType<typeof startTestDns>>;
beforeAll(async () => {
  dns = await startTestDns(testZone(), { gateway: seeded.store.findGatewayByName }, [], {
    tcp: { maxConnections: 8, maxPerClient: 4, messageTimeoutMs: 30_000, idleTimeoutMs: 30_000 },
  });
});
afterAll(async () => {
  await dns.close();
  seeded.cleanup();
});

function opened(from: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port: dns.port, host: "127.0.0.1", localAddress: from });
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

test("a newcomer that has not sent its query yet outlives a flood of connections opened after it", async () => {
  const attackers: Socket[] = [];
  try {
    const fresh = await opened("127.0.0.1");
    let reply = Buffer.alloc(0);
    let closed = false;
    fresh.on("data", (d: Buffer) => {
      reply = Buffer.concat([reply, d]);
    });
    fresh.on("close", () => {
      closed = true;
    });
    // 12 connections from 3 other addresses, each sending the first byte of a message: past the
    // total cap of 8, each newcomer must make room.
    for (let i = 0; i < 12; i++) {
      const s = await opened(`127.0.0.${20 + (i % 3)}`);
      s.on("error", () => {});
      s.write(Buffer.from([0x00]));
      attackers.push(s);
    }
    await Bun.sleep(100);
    expect(closed).toBe(false);
    const q = encodeQuery("home.example.test", "A", { id: 99 });
    const frame = Buffer.alloc(2 + q.length);
    frame.writeUInt16BE(q.length, 0);
    q.copy(frame, 2);
    fresh.write(frame);
    for (let i = 0; i < 40 && reply.length < 2 + (reply.length >= 2 ? reply.readUInt16BE(0) : 12); i++) await Bun.sleep(25);
    const answer = decode(reply.subarray(2));
    expect(answer.id).toBe(99);
    expect(answer.answers?.map((a: any) => a.data)).toEqual(["203.0.113.5"]);
    fresh.destroy();
  } finally {
    for (const s of attackers) s.destroy();
  }
});
