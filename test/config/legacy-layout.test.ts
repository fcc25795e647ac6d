// The Rust server's configuration files come in several versions; each maps onto our keys.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSettings, SettingsError } from "../../src/config.ts";
import { answerQuestion } from "../../src/dns/zone.ts";
import { staticLabels } from "../../src/names.ts";

const dir = mkdtempSync(join(tmpdir(), "legacy-toml-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function load(toml: string) {
  const path = join(dir, `${crypto.randomUUID()}.toml`);
  writeFileSync(path, toml);
  return loadSettings(["--config", path], {}).settings;
}

describe("Rust server TOML versions", () => {
  test("string record lists, singular www_address and the GeoIP default address", () => {
    const s = load(`
[general]
host = "127.0.0.1"
http_port = 4141
domain = "mydomain.org"
db_path = "/tmp/domains.sqlite"

[pdns]
api_ttl = 1
dns_ttl = 86400
tunnel_ttl = 60
socket_path = "/tmp/pdns_tunnel.sock"
caa_records = ["0 issue \\"letsencrypt.org\\""]
mx_records = ["10 inbound-smtp.example.com"]
ns_records = [["ns1.mydomain.org.", "5.6.7.8"], ["ns2.mydomain.org.", "4.5.6.7"]]
txt_records = ["something useful"]
soa_record = "ns1.mydomain.org. dns-admin.mydomain.org. 2018082801 900 900 1209600 60"
www_address = "10.11.12.13"

  [pdns.geoip]
  default = "5.6.7.8"
  database = "./GeoLite2-Country.mmdb"

[email]
server = "mail.example.com"
user = "accounts@mydomain.org"
password = "secret"
sender = "accounts@mydomain.org"
`);
    expect(s.domain).toBe("mydomain.org");
    expect(s.http).toMatchObject({ host: ["127.0.0.1"], port: 4141 });
    expect(s.database.path).toBe("/tmp/domains.sqlite");
    expect(s.dns.ttl).toBe(86400);
    expect(s.dns.gatewayTtl).toBe(60);
    expect(s.dns.caa).toEqual([[0, "issue", "letsencrypt.org"]]);
    expect(s.dns.mx).toEqual([["@", 10, "inbound-smtp.example.com."]]);
    expect(s.dns.txt).toEqual([["@", "something useful"]]);
    expect(s.dns.nameservers).toEqual([
      ["ns1.mydomain.org.", "5.6.7.8"],
      ["ns2.mydomain.org.", "4.5.6.7"],
    ]);
    expect(s.dns.soa).toMatchObject({ mname: "ns1.mydomain.org.", rname: "dns-admin.mydomain.org.", serial: 2018082801, minimum: 60 });
    expect(s.dns.wwwAddresses).toEqual(["10.11.12.13"]);
    expect(s.dns.tunnelAddresses).toEqual(["5.6.7.8"]);
    expect(s.email.from).toBe("accounts@mydomain.org");
  });

  test("singular mx_record / caa_record and psl_record (older versions)", () => {
    const s = load(`
[general]
domain = "old.example"
[pdns]
mx_record = "5 mx.old.example."
caa_record = "0 issue \\"letsencrypt.org\\""
psl_record = "https://github.com/publicsuffix/list/pull/1"
`);
    expect(s.dns.mx).toEqual([["@", 5, "mx.old.example."]]);
    expect(s.dns.caa).toEqual([[0, "issue", "letsencrypt.org"]]);
    expect(s.dns.txt).toEqual([["_psl", "https://github.com/publicsuffix/list/pull/1"]]);
  });

  // The Rust samples name owners by label ("_psl", "@", "*"); a full name must not become a label.
  test("record owners given as full names inside the zone become zone-relative, the apex becomes @", () => {
    const s = load(`
[general]
domain = "example.test"
[pdns]
txt_records = [
  ["_dmarc.example.test.", "v=DMARC1; p=reject"],
  ["_psl.Example.Test", "https://github.com/publicsuffix/list/pull/1"],
  ["example.test.", "at the apex"],
  ["example.test", "also at the apex"],
  ["@", "v=spf1 -all"],
  ["*", "every gateway"],
  ["status", "a plain label"],
]
mx_records = [["example.test.", "10 mx.example.net."], ["mail.example.test", "20 mx.example.net."]]
`);
    expect(s.dns.txt).toEqual([
      ["_dmarc", "v=DMARC1; p=reject"],
      ["_psl", "https://github.com/publicsuffix/list/pull/1"],
      ["@", "at the apex"],
      ["@", "also at the apex"],
      ["@", "v=spf1 -all"],
      ["*", "every gateway"],
      ["status", "a plain label"],
    ]);
    expect(s.dns.mx).toEqual([
      ["@", 10, "mx.example.net."],
      ["mail", 20, "mx.example.net."],
    ]);
    // ...so DNS answers them where they belong, and no stray label ("test") is reserved.
    const txt = (name: string) =>
      answerQuestion({ name, type: 16, class: 1 }, { gateway: () => undefined }, s.dns).answers.map((a) => (a as { text: string }).text);
    expect(txt("_dmarc.example.test")).toEqual(["v=DMARC1; p=reject"]);
    expect(txt("example.test")).toEqual(["at the apex", "also at the apex", "v=spf1 -all"]);
    expect([...staticLabels(s.dns)].sort()).toEqual(["_dmarc", "_psl", "mail", "ns1", "status"]);
  });

  test("a record owner outside the zone is refused, naming the key", () => {
    const refusal = (records: string) => {
      try {
        load(`[general]\ndomain = "example.test"\n[pdns]\n${records}\n`);
      } catch (e) {
        expect(e).toBeInstanceOf(SettingsError);
        return (e as Error).message;
      }
      throw new Error("accepted");
    };
    expect(refusal(`txt_records = [["_dmarc.example.org.", "v=DMARC1; p=reject"]]`)).toMatch(
      /dns\.txt owner "_dmarc\.example\.org\." is outside the zone example\.test/,
    );
    expect(refusal(`mx_records = [["example.org.", "10 mx.example.net."]]`)).toMatch(/dns\.mx owner "example\.org\." is outside the zone example\.test/);
  });
});
