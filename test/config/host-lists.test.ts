// http.host, dns.host and admin.host take one address or a list: comma-separated on the command
// line and in the environment, a TOML list in the file; a single address still works.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSettings, SettingsError } from "../../src/config.ts";

const dir = mkdtempSync(join(tmpdir(), "regsrv-hosts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("host lists", () => {
  test("a single address is a list of one; the defaults too", () => {
    const { settings } = loadSettings(["--host", "127.0.0.1"], {});
    expect(settings.http.host).toEqual(["127.0.0.1"]);
    expect(settings.dns.host).toEqual(["0.0.0.0"]);
    expect(settings.admin.host).toEqual(["127.0.0.1"]);
  });

  test('"127.0.0.1,::1" on the command line and in the environment gives both, spaces and repeats dropped', () => {
    const { settings } = loadSettings(["--host", "127.0.0.1, ::1,127.0.0.1", "--admin-host", "::1"], { REGISTRATION_DNS_HOST: "127.0.0.1,::1" });
    expect(settings.http.host).toEqual(["127.0.0.1", "::1"]);
    expect(settings.dns.host).toEqual(["127.0.0.1", "::1"]);
    expect(settings.admin.host).toEqual(["::1"]);
  });

  test("a TOML list gives each address", () => {
    const path = join(dir, "hosts.toml");
    writeFileSync(path, '[http]\nhost = ["127.0.0.1", "::1"]\n[dns]\nhost = "::1"\n');
    const { settings } = loadSettings(["--config", path], {});
    expect(settings.http.host).toEqual(["127.0.0.1", "::1"]);
    expect(settings.dns.host).toEqual(["::1"]);
  });

  test("an entry that is not an address, or an empty list, is refused naming the key", () => {
    for (const [argv, env] of [
      [["--host", "127.0.0.1,example.org"], {}],
      [["--dns-host", ","], {}],
      [[], { REGISTRATION_ADMIN_HOST: "::1,nope" }],
    ] as [string[], Record<string, string>][]) {
      expect(() => loadSettings(argv, env)).toThrow(SettingsError);
      try {
        loadSettings(argv, env);
      } catch (e) {
        expect((e as Error).message).toMatch(/(http|dns|admin)\.host must be an IP address or a list of them/);
      }
    }
    const path = join(dir, "empty.toml");
    writeFileSync(path, "[http]\nhost = []\n");
    expect(() => loadSettings(["--config", path], {})).toThrow(/http\.host must be an IP address/);
  });
});
