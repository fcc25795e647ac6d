// The whole server as a child process: a change made through the HTTP API is visible in DNS
// on the very next query.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { get, startServer, type RunningServer } from "../support/server.ts";
import { decode, encodeQuery, tcpExchange, udpExchange } from "./client.ts";

let server: RunningServer;
beforeAll(async () => {
  server = await startServer({ env: { REGISTRATION_HTTP_TRUST_PROXY: "true" } });
});
afterAll(async () => {
  await server?.cleanup();
});

const udp = async (name: string, type: string) => decode(await udpExchange(server.dnsPort, encodeQuery(name, type)));
const tcp = async (name: string, type: string) => decode((await tcpExchange(server.dnsPort, [encodeQuery(name, type)]))[0]);

async function subscribe(name: string, mode: number): Promise<string> {
  const res = await get(server, `/subscribe?name=${name}&mode=${mode}`);
  expect(res.status).toBe(200);
  return res.json.token;
}

describe("DNS follows the API (whole process)", () => {
  test("/dnsconfig then an immediate TXT query returns the challenge", async () => {
    const token = await subscribe("acme1", 0);
    expect((await udp("_acme-challenge.acme1.example.test", "TXT")).answers).toEqual([]);
    expect((await get(server, `/dnsconfig?token=${token}&challenge=first-challenge-value`)).status).toBe(200);
    const reply = await udp("_acme-challenge.acme1.example.test", "TXT");
    expect(reply.flag_aa).toBe(true);
    expect(reply.answers?.map((a: any) => Buffer.concat(a.data).toString())).toEqual(["first-challenge-value"]);
    expect((await get(server, `/dnsconfig?token=${token}&challenge=second-value`)).status).toBe(200);
    const overTcp = await tcp("_acme-challenge.acme1.example.test", "TXT");
    expect(overTcp.answers?.map((a: any) => Buffer.concat(a.data).toString())).toEqual(["second-value"]);
  });

  test("/unsubscribe then an immediate A query is NXDOMAIN", async () => {
    const token = await subscribe("gone1", 1);
    expect((await get(server, `/ping?token=${token}`)).status).toBe(200);
    expect((await udp("gone1.example.test", "A")).answers?.map((a: any) => a.data)).toEqual(["127.0.0.1"]);
    expect((await get(server, `/unsubscribe?token=${token}`)).status).toBe(200);
    const reply = await udp("gone1.example.test", "A");
    expect(reply.rcode).toBe("NXDOMAIN");
    expect(reply.authorities?.map((a: any) => a.type)).toEqual(["SOA"]);
  });

  test("a dynamic-DNS gateway's A follows /ping, and AAAA after an IPv6 ping", async () => {
    const token = await subscribe("dyn1", 1);
    expect((await get(server, `/ping?token=${token}`, { headers: { "X-Real-IP": "203.0.113.77" } })).status).toBe(200);
    const a = await udp("dyn1.example.test", "A");
    expect(a.flag_aa).toBe(true);
    expect(a.answers?.map((r: any) => [r.ttl, r.data])).toEqual([[60, "203.0.113.77"]]);

    expect((await get(server, `/ping?token=${token}`, { headers: { "X-Real-IP": "203.0.113.78" } })).status).toBe(200);
    expect((await udp("dyn1.example.test", "A")).answers?.map((r: any) => r.data)).toEqual(["203.0.113.78"]);

    expect((await get(server, `/ping?token=${token}`, { headers: { "X-Real-IP": "2001:db8:77::1" } })).status).toBe(200);
    expect((await udp("dyn1.example.test", "AAAA")).answers?.map((r: any) => r.data)).toEqual(["2001:db8:77::1"]);
    const noA = await udp("dyn1.example.test", "A");
    expect(noA.rcode).toBe("NOERROR");
    expect(noA.answers).toEqual([]);
  });

  test("the issue's demo: subscribe demo in mode 1, ping, A is 127.0.0.1 with aa", async () => {
    const token = await subscribe("demo", 1);
    expect((await get(server, `/ping?token=${token}`)).status).toBe(200);
    const reply = await udp("demo.example.test", "A");
    expect(reply.flag_aa).toBe(true);
    expect(reply.answers?.map((r: any) => r.data)).toEqual(["127.0.0.1"]);
  });
});
