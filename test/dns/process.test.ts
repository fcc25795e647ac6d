// The whole server as a child process: a change made through the HTTP API is visible in DNS
// on the very next query.
import { describe, expect, test } from "bun:test";
import { get, startServer, useServer } from "../support/server.ts";
import { decode, encodeQuery, tcpExchange, udpExchange } from "./client.ts";

// JOURNAL_STREAM naming another stream: a child that inherited it from a service but writes to a pipe
const running = useServer({ env: { REGISTRATION_HTTP_TRUST_PROXY: "true", JOURNAL_STREAM: "1:1" } });

const udp = async (name: string, type: string) => decode(await udpExchange(running.server.dnsPort, encodeQuery(name, type)));
const tcp = async (name: string, type: string) => decode((await tcpExchange(running.server.dnsPort, [encodeQuery(name, type)]))[0]);

async function subscribe(name: string, mode: number): Promise<string> {
  const res = await get(running.server, `/subscribe?name=${name}&mode=${mode}`);
  expect(res.status).toBe(200);
  return res.json.token;
}

describe("DNS follows the API (whole process)", () => {
  test("/dnsconfig then an immediate TXT query returns the challenge", async () => {
    const token = await subscribe("acme1", 0);
    expect((await udp("_acme-challenge.acme1.example.test", "TXT")).answers).toEqual([]);
    expect((await get(running.server, `/dnsconfig?token=${token}&challenge=first-challenge-value`)).status).toBe(200);
    const reply = await udp("_acme-challenge.acme1.example.test", "TXT");
    expect(reply.flag_aa).toBe(true);
    expect(reply.answers?.map((a: any) => Buffer.concat(a.data).toString())).toEqual(["first-challenge-value"]);
    expect((await get(running.server, `/dnsconfig?token=${token}&challenge=second-value`)).status).toBe(200);
    const overTcp = await tcp("_acme-challenge.acme1.example.test", "TXT");
    expect(overTcp.answers?.map((a: any) => Buffer.concat(a.data).toString())).toEqual(["second-value"]);
  });

  test("/unsubscribe then an immediate A query is NXDOMAIN", async () => {
    const token = await subscribe("gone1", 1);
    expect((await get(running.server, `/ping?token=${token}`)).status).toBe(200);
    expect((await udp("gone1.example.test", "A")).answers?.map((a: any) => a.data)).toEqual(["127.0.0.1"]);
    expect((await get(running.server, `/unsubscribe?token=${token}`)).status).toBe(200);
    const reply = await udp("gone1.example.test", "A");
    expect(reply.rcode).toBe("NXDOMAIN");
    expect(reply.authorities?.map((a: any) => a.type)).toEqual(["SOA"]);
  });

  test("a dynamic-DNS gateway's A follows /ping, and an IPv6 ping adds AAAA while A keeps the IPv4 address", async () => {
    const token = await subscribe("dyn1", 1);
    expect((await get(running.server, `/ping?token=${token}`, { headers: { "X-Real-IP": "203.0.113.77" } })).status).toBe(200);
    const a = await udp("dyn1.example.test", "A");
    expect(a.flag_aa).toBe(true);
    expect(a.answers?.map((r: any) => [r.ttl, r.data])).toEqual([[60, "203.0.113.77"]]);

    expect((await get(running.server, `/ping?token=${token}`, { headers: { "X-Real-IP": "203.0.113.78" } })).status).toBe(200);
    expect((await udp("dyn1.example.test", "A")).answers?.map((r: any) => r.data)).toEqual(["203.0.113.78"]);

    expect((await get(running.server, `/ping?token=${token}`, { headers: { "X-Real-IP": "2001:db8:77::1" } })).status).toBe(200);
    expect((await udp("dyn1.example.test", "AAAA")).answers?.map((r: any) => r.data)).toEqual(["2001:db8:77::1"]);
    // dual stack: each family keeps the last address it pinged from
    expect((await udp("dyn1.example.test", "A")).answers?.map((r: any) => r.data)).toEqual(["203.0.113.78"]);
  });

  test("its text log, with a JOURNAL_STREAM that names another stream, keeps its timestamps", () => {
    expect(running.server.output()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z registration-server .* ready: /m);
  });

  test("subscribe demo in mode 1, ping, A is 127.0.0.1 with aa", async () => {
    const token = await subscribe("demo", 1);
    expect((await get(running.server, `/ping?token=${token}`)).status).toBe(200);
    const reply = await udp("demo.example.test", "A");
    expect(reply.flag_aa).toBe(true);
    expect(reply.answers?.map((r: any) => r.data)).toEqual(["127.0.0.1"]);
  });
});

/** The TXT strings of `_acme-challenge.<label>` as answered over UDP. */
async function challengeOver(port: number, label: string): Promise<string[]> {
  const reply = decode(await udpExchange(port, encodeQuery(`_acme-challenge.${label}.example.test`, "TXT")));
  return (reply.answers ?? []).map((a: any) => Buffer.concat(a.data).toString());
}

describe("DNS follows the API across threads (DNS answers from a worker thread)", () => {
  test("200 rounds of /dnsconfig, each followed at once by a UDP TXT query (asked twice, so the second is a cache hit): every answer is the new value", async () => {
    const token = await subscribe("hammer1", 0);
    const seen: string[][] = [];
    for (let i = 0; i < 200; i++) {
      expect((await get(running.server, `/dnsconfig?token=${token}&challenge=round-${i}`)).status).toBe(200);
      seen.push(await challengeOver(running.server.dnsPort, "hammer1"));
      seen.push(await challengeOver(running.server.dnsPort, "hammer1"));
    }
    expect(seen).toEqual(Array.from({ length: 400 }, (_, i) => [`round-${i >> 1}`]));
  });

  test("100 rounds of /ping with a new address, each followed at once by A over UDP: every answer is the new address", async () => {
    const token = await subscribe("hammer2", 1);
    const seen: string[] = [];
    for (let i = 0; i < 100; i++) {
      const ip = `203.0.113.${i + 1}`;
      expect((await get(running.server, `/ping?token=${token}`, { headers: { "X-Real-IP": ip } })).status).toBe(200);
      const reply = decode(await udpExchange(running.server.dnsPort, encodeQuery("hammer2.example.test", "A")));
      seen.push(reply.answers?.map((a: any) => a.data).join(",") ?? "");
    }
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => `203.0.113.${i + 1}`));
  });
});

describe("--db :memory: (DNS stays on the main thread: no other connection can see that database)", () => {
  test("the server answers DNS, /dnsconfig then /unsubscribe are visible on the very next query, and SIGINT stops it with exit 0", async () => {
    const memory = await startServer({ args: ["--db", ":memory:"] });
    try {
      const res = await get(memory, "/subscribe?name=mem1&mode=0");
      expect(res.status).toBe(200);
      const { token } = res.json;
      for (let i = 0; i < 20; i++) {
        expect((await get(memory, `/dnsconfig?token=${token}&challenge=mem-${i}`)).status).toBe(200);
        expect(await challengeOver(memory.dnsPort, "mem1")).toEqual([`mem-${i}`]);
      }
      expect((await get(memory, `/unsubscribe?token=${token}`)).status).toBe(200);
      expect(decode(await udpExchange(memory.dnsPort, encodeQuery("mem1.example.test", "A"))).rcode).toBe("NXDOMAIN");
      // SIGINT as SIGTERM: exit 0, the port closed (test/config/settings.test.ts sends SIGTERM)
      expect(await memory.stop("SIGINT")).toBe(0);
      expect(
        await fetch(`${memory.url}/connectivity-check`).then(
          () => "up",
          () => "down",
        ),
      ).toBe("down");
    } finally {
      await memory.cleanup();
    }
  });
});
