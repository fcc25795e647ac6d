// The zone transfer settings (docs/dns.md, "Zone transfers", "TSIG and NOTIFY"): TSIG keys, the
// transfer ACL, NOTIFY targets, the journal size and the PageKite glue address; each refused
// with one line naming the key, never showing a secret.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSettings, SettingsError } from "../../src/config.ts";

const dir = mkdtempSync(join(tmpdir(), "transfer-settings-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const SECRET = Buffer.alloc(32, 0xab).toString("base64");
const SECRET_512 = Buffer.alloc(64, 0xcd).toString("base64");

function fromToml(toml: string) {
  const path = join(dir, `${crypto.randomUUID()}.toml`);
  writeFileSync(path, toml);
  return loadSettings(["--config", path], {}).settings.dns;
}

function refusal(env: Record<string, string>): string {
  try {
    loadSettings([], env);
  } catch (e) {
    expect(e).toBeInstanceOf(SettingsError);
    expect((e as Error).message).not.toContain("\n");
    return (e as Error).message;
  }
  throw new Error("accepted");
}

describe("zone transfer settings", () => {
  test("defaults: no keys, nobody may transfer, nobody is notified, 10000 changes kept, glue from the first nameserver address", () => {
    const { dns } = loadSettings([], { REGISTRATION_DNS_NAMESERVERS: '[["ns1.example.test."], ["ns2.example.test.", "192.0.2.2"]]' }).settings;
    expect([dns.tsigKeys, dns.transferAcl, dns.notify, dns.journalMaxChanges, dns.pagekiteAddress]).toEqual([[], [], [], 10_000, "192.0.2.2"]);
    expect(dns.transferImageMb).toBe(16);
    expect(loadSettings([], {}).settings.dns.pagekiteAddress).toBe("");
  });

  test("a [dns] section with every transfer key: keys lower-cased with their dot, ACL and NOTIFY targets bound to them", () => {
    const dns = fromToml(`[dns]
tsig_keys = [["Xfr-Key", "hmac-sha256", "${SECRET}"], ["big.", "HMAC-SHA512", "${SECRET_512}"]]
transfer_acl = [["192.0.2.0/24", "xfr-key."], ["127.0.0.1", ""], ["::1"]]
notify = [["192.0.2.53:53", "xfr-key"], ["[2001:db8::53]:5300", "big."], ["198.51.100.7", ""]]
journal_max_changes = 20
pagekite_address = "203.0.113.9"
`);
    expect(dns.tsigKeys).toEqual([
      { name: "xfr-key.", algorithm: "hmac-sha256", secret: SECRET },
      { name: "big.", algorithm: "hmac-sha512", secret: SECRET_512 },
    ]);
    expect(dns.transferAcl).toEqual([
      { cidr: "192.0.2.0/24", key: "xfr-key." },
      { cidr: "127.0.0.1", key: "" },
      { cidr: "::1", key: "" },
    ]);
    expect(dns.notify).toEqual([
      { host: "192.0.2.53", port: 53, key: "xfr-key." },
      { host: "2001:db8::53", port: 5300, key: "big." },
      { host: "198.51.100.7", port: 53, key: "" },
    ]);
    expect(dns.journalMaxChanges).toBe(20);
    expect(dns.pagekiteAddress).toBe("203.0.113.9");
  });

  test("the same from environment variables (JSON), as for the other list settings", () => {
    const { dns } = loadSettings([], {
      REGISTRATION_DNS_TSIG_KEYS: JSON.stringify([["k.", "hmac-sha256", SECRET]]),
      REGISTRATION_DNS_NOTIFY: '[["127.0.0.1:5353", "k."]]',
      REGISTRATION_DNS_PAGEKITE_ADDRESS: "",
    }).settings;
    expect(dns.notify).toEqual([{ host: "127.0.0.1", port: 5353, key: "k." }]);
    expect(dns.pagekiteAddress).toBe("");
  });

  test("a key named by transfer_acl or notify but missing from tsig_keys is refused naming it", () => {
    const keys = JSON.stringify([["xfr-key.", "hmac-sha256", SECRET]]);
    expect(refusal({ REGISTRATION_DNS_TSIG_KEYS: keys, REGISTRATION_DNS_TRANSFER_ACL: '[["10.0.0.0/8", "other-key."]]' })).toMatch(
      /dns\.transfer_acl names the key "other-key\.", which is not in dns\.tsig_keys/,
    );
    expect(refusal({ REGISTRATION_DNS_NOTIFY: '[["10.0.0.1:53", "xfr-key."]]' })).toMatch(/dns\.notify names the key "xfr-key\."/);
  });

  test("bad keys are refused without showing the secret: short, not base64, unknown algorithm, bad name, named twice", () => {
    const cases: [unknown[], RegExp][] = [
      [["k.", "hmac-sha256", Buffer.alloc(15, 1).toString("base64")], /at least 16 octets/],
      [["k.", "hmac-sha256", "not base64!"], /not base64/],
      [["k.", "hmac-md5", SECRET], /algorithm "hmac-md5" is not one of hmac-sha256, hmac-sha512/],
      [["bad key.", "hmac-sha256", SECRET], /key name must be a DNS name/],
      [["k.", SECRET], /must be a list of \[name, algorithm, secret\] lists/],
    ];
    for (const [entry, message] of cases) {
      const text = refusal({ REGISTRATION_DNS_TSIG_KEYS: JSON.stringify([entry]) });
      expect(text).toMatch(message);
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(String(entry[2]));
    }
    const twice = JSON.stringify([
      ["k.", "hmac-sha256", SECRET],
      ["K", "hmac-sha512", SECRET_512],
    ]);
    expect(refusal({ REGISTRATION_DNS_TSIG_KEYS: twice })).toMatch(/names k\. twice/);
  });

  test("bad ACL entries, NOTIFY targets, journal sizes and glue addresses are refused naming the key", () => {
    expect(refusal({ REGISTRATION_DNS_TRANSFER_ACL: '[["192.0.2.0/33"]]' })).toMatch(/dns\.transfer_acl has "192\.0\.2\.0\/33"/);
    for (const target of ["ns2.example.org:53", "192.0.2.1:0", "192.0.2.1:70000", "[2001:db8::1]:x"])
      expect(refusal({ REGISTRATION_DNS_NOTIFY: JSON.stringify([[target]]) })).toMatch(/dns\.notify target .* is not address:port/);
    expect(refusal({ REGISTRATION_DNS_JOURNAL_MAX_CHANGES: "0" })).toMatch(/dns\.journal_max_changes must be at least 1/);
    expect(refusal({ REGISTRATION_DNS_JOURNAL_MAX_CHANGES: "1000001" })).toMatch(/dns\.journal_max_changes must be at most 1000000/);
    expect(refusal({ REGISTRATION_DNS_TRANSFER_IMAGE_MB: "-1" })).toMatch(/dns\.transfer_image_mb must be a non-negative integer/);
    expect(refusal({ REGISTRATION_DNS_TRANSFER_IMAGE_MB: "4097" })).toMatch(/dns\.transfer_image_mb must be at most 4096/);
    expect(refusal({ REGISTRATION_DNS_PAGEKITE_ADDRESS: "ns1.example.test" })).toMatch(/dns\.pagekite_address must be an IP address or ""/);
  });

  test("NOTIFY targets without a transfer ACL warn: the secondaries notified could not transfer", () => {
    const warning = /dns\.notify names secondaries but dns\.transfer_acl is empty/;
    expect(loadSettings([], { REGISTRATION_DNS_NOTIFY: '[["192.0.2.53"]]' }).warnings.join("\n")).toMatch(warning);
    const both = { REGISTRATION_DNS_NOTIFY: '[["192.0.2.53"]]', REGISTRATION_DNS_TRANSFER_ACL: '[["192.0.2.53"]]' };
    expect(loadSettings([], both).warnings.join("\n")).not.toMatch(warning);
  });
});
