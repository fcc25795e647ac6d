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

function refusal(toml: string): string {
  try {
    load(toml);
  } catch (e) {
    expect(e).toBeInstanceOf(SettingsError);
    expect((e as Error).message).not.toContain("\n");
    return (e as Error).message;
  }
  throw new Error("accepted");
}

function loadWithWarnings(toml: string, env: Record<string, string> = {}) {
  const path = join(dir, `${crypto.randomUUID()}.toml`);
  writeFileSync(path, toml);
  return { path, ...loadSettings(["--config", path], env) };
}

const RUST_FILE = `
[general]
host = "127.0.0.1"
http_port = 4141
domain = "mydomain.org"
db_path = "/tmp/domains.sqlite"

[pdns]
dns_ttl = 86400
tunnel_ttl = 60
ns_records = [["ns1.mydomain.org.", "5.6.7.8"]]
soa_record = "ns1.mydomain.org. dns-admin.mydomain.org. 2018082801 900 900 1209600 60"

  [pdns.geoip]
  default = "5.6.7.8"

[email]
server = "mail.example.com"
user = "accounts@mydomain.org"
password = "secret"
sender = "accounts@mydomain.org"
`;

describe("the Rust layout beside the new one", () => {
  test("new-layout sections ([http], [dns], [limits], [expiry], [admin]) and new [email] keys are taken beside the Rust sections", () => {
    const s = load(`${RUST_FILE}
resend_api_key = "re_from_the_file"

[http]
public_url = "https://api.mydomain.org"
trusted_proxies = ["127.0.0.1/32"]

[dns]
port = 0
caa = ['0 issue "letsencrypt.org"']

[limits]
subscribe_per_hour = 7

[expiry]
inactive_days = 90

[admin]
port = 0
`);
    expect(s.http).toMatchObject({ host: ["127.0.0.1"], port: 4141, publicUrl: "https://api.mydomain.org", trustedProxies: ["127.0.0.1/32"] });
    expect(s.dns).toMatchObject({ port: 0, ttl: 86400, caa: [[0, "issue", "letsencrypt.org"]], tunnelAddresses: ["5.6.7.8"] });
    expect(s.limits.subscribePerHour).toBe(7);
    expect(s.expiry.inactiveDays).toBe(90);
    expect(s.admin.port).toBe(0);
    expect(s.email).toMatchObject({ from: "accounts@mydomain.org", resendApiKey: "re_from_the_file" });
  });

  test("dns.tunnel_addresses in [dns] wins over the GeoIP default", () => {
    expect(load(`${RUST_FILE}\n[dns]\ntunnel_addresses = ["203.0.113.80"]\n`).dns.tunnelAddresses).toEqual(["203.0.113.80"]);
  });

  test("a setting given both the Rust way and the new way is refused, naming both", () => {
    expect(refusal(`${RUST_FILE}\n[http]\nport = 8080\n`)).toMatch(/http\.port is set twice, by \[general\] http_port and by http\.port/);
    expect(refusal(`${RUST_FILE}from = "other@mydomain.org"\n`)).toMatch(/email\.from is set twice, by \[email\] sender/);
  });

  test("typos are refused inside the Rust sections as in the new ones, one line naming the key", () => {
    expect(refusal(`[general]\nhots = "127.0.0.1"\ndomain = "legacy.test"\n`)).toMatch(/unknown key 'hots' in \[general\]/);
    expect(refusal(`[general]\ndomain = "legacy.test"\n[pdns]\ndns_tll = 60\n`)).toMatch(/unknown key 'dns_tll' in \[pdns\]/);
    expect(refusal(`[general]\ndomain = "legacy.test"\n[pdns.geoip]\ndefualt = "5.6.7.8"\n`)).toMatch(/unknown key 'defualt' in \[pdns\.geoip\]/);
    expect(refusal(`[general]\ndomain = "legacy.test"\n[email]\nsendr = "a@legacy.test"\n`)).toMatch(/unknown setting 'email\.sendr'/);
    expect(refusal(`[general]\ndomain = "legacy.test"\n[htp]\nport = 1\n`)).toMatch(/unknown setting 'htp\.port'/);
  });

  test("keys of older Rust versions are known: port, tunnel_ip, data_directory and soa_content map onto ours", () => {
    const s = load(`
[general]
host = "0.0.0.0"
port = 4142
data_directory = "/var/lib/registration/"
domain = "old.example"
tunnel_ip = "203.0.113.9"
eviction_delay = 604800
cert_directory = "/etc/certs"
[pdns]
soa_content = "ns1.old.example. admin.old.example. 1 900 900 1209600 60"
socket_path = "/tmp/pdns.sock"
dns_ttl = 300
mx_record = "10 mx.old.example."
caa_record = "0 issue \\"letsencrypt.org\\""
txt_record = "v=spf1 -all"
[email]
confirmation_title = "Confirm"
`);
    expect(s.http.port).toBe(4142);
    expect(s.database.path).toBe("/var/lib/registration/domains.sqlite");
    expect(s.dns.tunnelAddresses).toEqual(["203.0.113.9"]);
    expect(s.dns.soa).toMatchObject({ mname: "ns1.old.example.", serial: 1 });
    expect(s.email.confirmationSubject).toBe("Confirm");
  });

  test("a Rust file's values have the Rust types: a string port is refused naming the key", () => {
    expect(refusal(`[general]\nhttp_port = "4141"\ndomain = "legacy.test"\n`)).toMatch(/http\.port must be a TOML number, not a string/);
  });
});

describe("warnings for a Rust file (logged once at start-up, not errors)", () => {
  test("SMTP keys it cannot use: mail goes to the log without a Resend key, through Resend with one", () => {
    const withoutKey = loadWithWarnings(RUST_FILE);
    expect(withoutKey.warnings).toContain(
      `${withoutKey.path}: [email] server, user, password (the Rust server's SMTP) cannot be used: emails are written to the log until email.resend_api_key (or RESEND_API_KEY) is set`,
    );
    const withKey = loadWithWarnings(RUST_FILE, { RESEND_API_KEY: "re_x" });
    expect(withKey.warnings.filter((w) => w.includes("SMTP"))).toEqual([
      `${withKey.path}: [email] server, user, password (the Rust server's SMTP) cannot be used: emails are sent through Resend (email.resend_api_key)`,
    ]);
  });

  test("no public URL: says where links would point, and is quiet once [http] public_url (or --public-url) is set", () => {
    const bare = loadWithWarnings(RUST_FILE);
    expect(bare.warnings).toContain(
      `${bare.path}: no http.public_url (the Rust layout has none), so links in emails point at http://api.mydomain.org:4141; set public_url in an [http] section (or --public-url)`,
    );
    const set = loadWithWarnings(`${RUST_FILE}\n[http]\npublic_url = "https://api.mydomain.org"\n`);
    expect(set.warnings.filter((w) => w.includes("public_url"))).toEqual([]);
    const flag = loadSettings(["--config", bare.path, "--public-url", "https://api.mydomain.org"], {});
    expect(flag.warnings.filter((w) => w.includes("public_url"))).toEqual([]);
  });

  test("a Rust file without SMTP keys and with a public URL has none of these warnings", () => {
    const quiet = loadWithWarnings(
      `[general]\ndomain = "mydomain.org"\n[pdns]\nns_records = [["ns1.mydomain.org.", "5.6.7.8"]]\n[pdns.geoip]\ndefault = "5.6.7.8"\n[http]\npublic_url = "https://api.mydomain.org"\n`,
    );
    expect(quiet.warnings).toEqual([]);
  });
});
