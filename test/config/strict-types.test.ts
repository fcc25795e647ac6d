// Settings are of the type README documents: in TOML a port is a number and a list is a list,
// while flags and environment variables (always strings) are parsed; a file that cannot be read
// is reported as such, not as bad TOML.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSettings, SettingsError } from "../../src/config.ts";

const dir = mkdtempSync(join(tmpdir(), "strict-types-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(toml: string): string {
  const path = join(dir, `${crypto.randomUUID()}.toml`);
  writeFileSync(path, toml);
  return path;
}

function refusal(argv: string[], env: Record<string, string> = {}): string {
  try {
    loadSettings(argv, env);
  } catch (e) {
    expect(e).toBeInstanceOf(SettingsError);
    expect((e as Error).message).not.toContain("\n");
    return (e as Error).message;
  }
  throw new Error("accepted");
}

describe("TOML values must have the documented type", () => {
  test.each([
    ["a port given as a string", '[http]\nport = "18102"\n', /http\.port must be a TOML number, not a string \(got "18102"\)/],
    ["a DNS port given as a string", '[dns]\nport = "53"\n', /dns\.port must be a TOML number, not a string/],
    ["a count given as a string", '[limits]\nsubscribe_per_hour = "20"\n', /limits\.subscribe_per_hour must be a TOML number/],
    ["a fraction given as a string", '[expiry]\nmax_fraction = "0.5"\n', /expiry\.max_fraction must be a TOML number/],
    ["a boolean given as a string", '[http]\ntrust_proxy = "false"\n', /http\.trust_proxy must be a TOML boolean, not a string/],
    ["tunnel_addresses given as one string", '[dns]\ntunnel_addresses = "203.0.113.1"\n', /dns\.tunnel_addresses must be a TOML list, not a string/],
    ["trusted_proxies given as one string", '[http]\ntrusted_proxies = "10.0.0.0/8"\n', /http\.trusted_proxies must be a TOML list/],
    ["nameservers given as one string", '[dns]\nnameservers = "ns1.example.test."\n', /dns\.nameservers must be a TOML list/],
    ["a port given as a table", "[http.port]\nvalue = 1\n", /http\.port must be a TOML number, not a table/],
  ])("%s is refused naming the key", (_name, toml, message) => {
    expect(refusal(["--config", file(toml)])).toMatch(message);
  });

  test("the same values as flags and environment variables (always strings) are parsed", () => {
    const { settings } = loadSettings(["--http-port", "18102", "--dns-port", "53"], {
      REGISTRATION_DNS_TUNNEL_ADDRESSES: "203.0.113.1",
      REGISTRATION_HTTP_TRUST_PROXY: "false",
      REGISTRATION_EXPIRY_MAX_FRACTION: "0.5",
      REGISTRATION_LIMITS_SUBSCRIBE_PER_HOUR: "20",
    });
    expect(settings.http.port).toBe(18102);
    expect(settings.dns.port).toBe(53);
    expect(settings.dns.tunnelAddresses).toEqual(["203.0.113.1"]);
    expect(settings.http.trustedProxies).toEqual([]);
    expect(settings.expiry.maxFraction).toBe(0.5);
    expect(settings.limits.subscribePerHour).toBe(20);
  });

  test("typed TOML values are taken, and a listen host may be one address or a list", () => {
    const { settings } = loadSettings([
      "--config",
      file('[http]\nport = 18102\nhost = "127.0.0.1"\ntrust_proxy = false\n[dns]\nport = 0\nhost = ["127.0.0.1", "::1"]\ntunnel_addresses = ["203.0.113.1"]\n'),
    ]);
    expect(settings.http).toMatchObject({ port: 18102, host: ["127.0.0.1"], trustedProxies: [] });
    expect(settings.dns).toMatchObject({ port: 0, host: ["127.0.0.1", "::1"], tunnelAddresses: ["203.0.113.1"] });
  });

  test("ports are 0-65535, in TOML as on the command line", () => {
    expect(loadSettings(["--config", file("[http]\nport = 65535\n[dns]\nport = 0\n")]).settings).toMatchObject({ http: { port: 65535 }, dns: { port: 0 } });
    expect(refusal(["--config", file("[dns]\nport = 65536\n")])).toMatch(/dns\.port must be a port number \(0-65535\)/);
    expect(refusal(["--config", file("[dns]\nport = -1\n")])).toMatch(/dns\.port/);
    expect(refusal(["--dns-port", "65536"])).toMatch(/dns\.port must be a port number/);
  });
});

describe("a settings file that cannot be read", () => {
  test("a directory is reported as unreadable (EISDIR), not as bad TOML", () => {
    const path = join(dir, "a-directory.toml");
    mkdirSync(path);
    const message = refusal(["--config", path]);
    expect(message).toStartWith(`cannot read ${path}: EISDIR`);
    expect(message).not.toContain("TOML");
  });

  // root reads any file whatever its mode: this one runs as an ordinary user only.
  test.skipIf(process.getuid?.() === 0)("a file without read permission is reported as EACCES, not as bad TOML", () => {
    const path = file("domain = 'example.test'\n");
    chmodSync(path, 0o000);
    const message = refusal(["--config", path]);
    expect(message).toStartWith(`cannot read ${path}: EACCES`);
    expect(message).not.toContain("TOML");
  });
});

describe("a settings error never shows the Resend API key", () => {
  const KEY = "re_Sup3rSecretResendKey123";
  test.each([
    ["given as a list", `[email]\nfrom = "a@example.test"\nresend_api_key = ["${KEY}"]\n`, /email\.resend_api_key must be a non-empty string$/],
    [
      "left unquoted (bad TOML, which Bun's parser quotes back)",
      `[email]\nfrom = "a@example.test"\nresend_api_key = ${KEY}\n`,
      /not valid TOML \(line 3: .*\)$/,
    ],
  ])("%s", (_, toml, expected) => {
    const message = refusal(["--config", file(toml)]);
    expect(message).toMatch(expected);
    expect(message).not.toContain(KEY);
  });
});

describe("a huge value in a refusal", () => {
  test("is cut to its first 100 characters, the reason kept after it", () => {
    const message = refusal(["--config", file(`domain = "${"a".repeat(100_000)}"\n`)]);
    expect(message).toMatch(new RegExp(`domain "${"a".repeat(100)}\\.\\.\\." \\(100000 characters\\) is not a valid DNS name$`));
    expect(message.length).toBeLessThan(400);
  });
});
