// Both address families on one service: --host and --dns-host "127.0.0.1,::1" bind HTTP, and DNS
// on UDP and TCP, on each address at one port, and the ready line names them, IPv6 in brackets.
import { describe, expect, test } from "bun:test";
import { decode, encodeQuery, hasIpv6Loopback, tcpExchange, udpExchange } from "../dns/client.ts";
import { useServer } from "../support/server.ts";

const ipv6 = hasIpv6Loopback();

describe.skipIf(!ipv6)("a service on 127.0.0.1 and ::1", () => {
  const running = useServer({ args: ["--host", "127.0.0.1,::1", "--dns-host", "127.0.0.1,::1"] });

  test("the ready line lists every address, IPv6 in brackets, at one port each for HTTP and DNS", () => {
    const { httpPort, dnsPort } = running.server;
    expect(running.server.output()).toContain(
      `ready: http=http://127.0.0.1:${httpPort},http://[::1]:${httpPort} dns=127.0.0.1:${dnsPort},[::1]:${dnsPort} (udp+tcp)`,
    );
  });

  test("HTTP answers on both, and a gateway that pings over ::1 is published with that address", async () => {
    const { httpPort, dnsPort } = running.server;
    for (const host of ["127.0.0.1", "[::1]"]) expect((await fetch(`http://${host}:${httpPort}/connectivity-check`)).status).toBe(200);
    const subscribed = (await (await fetch(`http://[::1]:${httpPort}/subscribe?name=dualstack&mode=1`)).json()) as { token: string };
    expect((await fetch(`http://[::1]:${httpPort}/ping?token=${subscribed.token}`)).status).toBe(200);
    const reply = decode(await udpExchange(dnsPort, encodeQuery("dualstack.example.test", "AAAA"), 2000, "::1"));
    expect(reply.answers?.map((a) => (a as { data: string }).data)).toEqual(["::1"]);
  });

  test("DNS answers on both, over UDP and TCP", async () => {
    const { dnsPort } = running.server;
    for (const host of ["127.0.0.1", "::1"]) {
      expect(decode(await udpExchange(dnsPort, encodeQuery("example.test", "SOA"), 2000, host)).rcode).toBe("NOERROR");
      expect(decode((await tcpExchange(dnsPort, [encodeQuery("example.test", "SOA")], 1, 3000, host))[0]).rcode).toBe("NOERROR");
    }
  });
});
