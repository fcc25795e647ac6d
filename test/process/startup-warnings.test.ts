// The whole process on a Rust server's settings file with new-layout sections beside it: port 0
// is one port the system picks for DNS over both UDP and TCP, the ready line names the ports
// bound, and each start-up warning is one log line, once.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeToml } from "../support/helpers.ts";
import { freePort, get, startServer, type RunningServer } from "../support/server.ts";
import { decode, encodeQuery, tcpExchange, udpExchange } from "../dns/client.ts";

const dir = mkdtempSync(join(tmpdir(), "regsrv-warnings-"));
let server: RunningServer | undefined;
afterAll(async () => {
  await server?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

test("a Rust file with [dns] beside [general]: port 0 binds one port for UDP and TCP, and four warnings are logged once each", async () => {
  const httpPort = await freePort();
  const config = await writeToml(
    dir,
    `[general]
host = "127.0.0.1"
http_port = ${httpPort}
domain = "mydomain.org"
db_path = "${join(dir, "domains.sqlite")}"

[pdns]
dns_ttl = 86400
tunnel_ttl = 60

[email]
server = "mail.example.com"
user = "accounts@mydomain.org"
password = "secret"
sender = "accounts@mydomain.org"

[dns]
host = "127.0.0.1"
port = 0
`,
  );
  server = await startServer({ defaultFlags: false, args: ["--config", config], dir, httpPort });
  expect(server.httpPort).toBe(httpPort);
  expect(server.dnsPort).toBeGreaterThan(0);
  expect(server.output()).toMatch(new RegExp(`ready: http=http://127\\.0\\.0\\.1:${server.httpPort} dns=127\\.0\\.0\\.1:${server.dnsPort} \\(udp\\+tcp\\)`));
  expect((await get(server, "/connectivity-check")).status).toBe(200);

  // The port the ready line names answers over both transports.
  const query = encodeQuery("mydomain.org", "SOA");
  const overUdp = decode(await udpExchange(server.dnsPort, query));
  const overTcp = decode((await tcpExchange(server.dnsPort, [query]))[0]);
  for (const reply of [overUdp, overTcp]) expect(reply.answers?.map((a) => a.type)).toEqual(["SOA"]);

  await server.waitForOutput(/warning: .*public_url/);
  const warnings = server
    .output()
    .split("\n")
    .filter((line) => line.includes("warning: "));
  const about = (text: string) => warnings.filter((line) => line.includes(text)).length;
  expect({
    nameserver: about("dns.nameservers: ns1.mydomain.org. is inside the zone but has no address"),
    tunnel: about("dns.tunnel_addresses is empty"),
    smtp: about("[email] server, user, password (the Rust server's SMTP) cannot be used"),
    publicUrl: about(`links in emails point at http://api.mydomain.org:${httpPort};`),
  }).toEqual({ nameserver: 1, tunnel: 1, smtp: 1, publicUrl: 1 });
  expect(warnings).toHaveLength(4);
  expect(server.proc.exitCode).toBeNull();
});
