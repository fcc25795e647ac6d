// Slow (npm run test:slow): holds the lock past the 2 s an HTTP write waits for it.
// Another connection holding the SQLite write lock (another process, a long checkpoint) must
// delay no DNS answer, and an HTTP write that cannot get the lock within 2 s answers 501 and
// changes nothing (docs/operations.md, "The database file"); an earlier version waited for it,
// busy, for 5 s on the loop that answered DNS.
import { expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { get, useServer } from "../support/server.ts";
import { decode, encodeQuery, tcpExchange, udpExchange } from "../dns/client.ts";

const running = useServer({ env: { REGISTRATION_HTTP_TRUST_PROXY: "true" } });

/** "steady" in the case pattern of i's bits: each a distinct message, so a cache miss that reads the database. */
const variant = (i: number) => [..."steady"].map((c, bit) => ((i >> bit) & 1 ? c.toUpperCase() : c)).join("");

const addresses = (reply: Buffer) =>
  decode(reply)
    .answers?.map((a: any) => a.data)
    .join(",") ?? "";

test("while another connection holds the write lock for 4 s: every DNS query is answered, reads answer, a /subscribe answers 501 and leaves no row; writes work after", async () => {
  const subscribed = await get(running.server, "/subscribe?name=steady&mode=1");
  expect(subscribed.status).toBe(200);
  const { token } = subscribed.json;
  expect((await get(running.server, `/ping?token=${token}`, { headers: { "X-Real-IP": "203.0.113.40" } })).status).toBe(200);

  const holder = new Database(running.server.dbPath);
  holder.run("BEGIN IMMEDIATE");
  let held = true;
  const released = Bun.sleep(4000).then(() => {
    held = false;
    holder.run("ROLLBACK");
  });
  try {
    // The write goes first: on a single event loop its busy wait would hold up everything below.
    const write = get(running.server, "/subscribe?name=lockedout").then((res) => ({ ...res, whileHeld: held }));
    await Bun.sleep(200);
    const read = get(running.server, "/connectivity-check");
    const info = get(running.server, `/info?token=${token}`);
    // one UDP query every 100 ms for 3 s (bounded: 30), and one TCP query, each given 3 s
    const udp: Promise<string>[] = [];
    for (let i = 0; i < 30; i++) {
      udp.push(udpExchange(running.server.dnsPort, encodeQuery(`${variant(i)}.example.test`, "A"), 3000).then(addresses, () => "no answer"));
      await Bun.sleep(100);
    }
    const tcp = tcpExchange(running.server.dnsPort, [encodeQuery(`${variant(31)}.example.test`, "A")], 1, 3000).then(
      ([r]) => addresses(r),
      () => "no answer",
    );
    expect(await Promise.all(udp)).toEqual(udp.map(() => "203.0.113.40"));
    expect(await tcp).toBe("203.0.113.40");
    expect((await read).status).toBe(200);
    expect((await info).status).toBe(200);

    const refused = await write;
    expect({ status: refused.status, body: refused.json, whileHeld: refused.whileHeld }).toEqual({
      status: 501,
      body: { error: "InternalError" },
      whileHeld: true,
    });
  } finally {
    await released;
    holder.close();
  }

  // nothing was written, and writes work again
  const reader = new Database(running.server.dbPath, { readonly: true });
  expect(reader.query("SELECT count(*) AS n FROM domains WHERE name = 'lockedout.example.test.'").get()).toEqual({ n: 0 });
  reader.close();
  expect((await get(running.server, "/subscribe?name=lockedout")).status).toBe(200);

  // the 501 is logged in one line, without a stack trace
  await running.server.waitForOutput(/SQLITE_BUSY/);
  const lines = running.server.output().split("\n");
  expect(lines.filter((l) => /SQLITE_BUSY|database is locked/.test(l))).toHaveLength(1);
  expect(lines.filter((l) => /^\s+at /.test(l))).toEqual([]);
}, 30_000);
