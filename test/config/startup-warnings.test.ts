// Settings that work but likely not as meant: loadSettings returns one line for each, which the
// server logs once at start-up and check-config prints (test/process/startup-warnings.test.ts).
import { describe, expect, test } from "bun:test";
import { loadSettings } from "../../src/config.ts";

const warnings = (env: Record<string, string>) => loadSettings(["--domain", "gateways.example.org"], env).warnings;
const about = (lines: string[], key: string) => lines.filter((l) => l.startsWith(key));

describe("a name server inside the zone without an address", () => {
  test("the default ns1.<domain>. has none: NODATA for its A, so the warning says what to set", () => {
    expect(about(warnings({}), "dns.nameservers")).toEqual([
      'dns.nameservers: ns1.gateways.example.org. is inside the zone but has no address, so its A query answers NODATA (registrars and named-checkzone refuse such a delegation): give it one, e.g. [["ns1.gateways.example.org.", "192.0.2.1"]]',
    ]);
  });

  test("one line per such name server; one with an address, or outside the zone, needs none", () => {
    const lines = warnings({
      REGISTRATION_DNS_NAMESERVERS:
        '[["ns1.gateways.example.org.", "203.0.113.53"], ["ns2.gateways.example.org."], ["ns.other.example.net."], ["gateways.example.org."]]',
    });
    expect(about(lines, "dns.nameservers").map((l) => l.split(" ")[1])).toEqual(["ns2.gateways.example.org.", "gateways.example.org."]);
  });
});

describe("tunnel-mode names without dns.tunnel_addresses", () => {
  test("empty tunnel addresses (the default): one line naming what to set", () => {
    expect(about(warnings({}), "dns.tunnel_addresses")).toEqual([
      "dns.tunnel_addresses is empty: a tunnel-mode name (every WebThings gateway's: it never sends mode) has no address until its first ping, and the gateway's PageKite connects to its name before it pings; set dns.tunnel_addresses to the tunnel front end's address",
    ]);
  });

  test("with tunnel addresses and addressed name servers there is nothing to warn about", () => {
    expect(
      warnings({ REGISTRATION_DNS_TUNNEL_ADDRESSES: "203.0.113.80", REGISTRATION_DNS_NAMESERVERS: '[["ns1.gateways.example.org.", "203.0.113.53"]]' }),
    ).toEqual([]);
  });
});
