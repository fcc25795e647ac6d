// One source for every setting: README's table and --help are made from config.ts's key table.
// After changing a key, `UPDATE_README=1 bun test test/config/readme-settings.test.ts` rewrites
// README's table.
import { expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { helpText, loadSettings, settingsTable } from "../../src/config.ts";

const README = join(import.meta.dir, "..", "..", "README.md");
const START = "<!-- settings table: made from src/config.ts (test/config/readme-settings.test.ts) -->";
const END = "<!-- end of settings table -->";

test("README's settings table is the one made from the key table", () => {
  const text = readFileSync(README, "utf8");
  const from = text.indexOf(START);
  const to = text.indexOf(END);
  expect(from).toBeGreaterThan(0);
  expect(to).toBeGreaterThan(from);
  const table = text.slice(from + START.length, to).trim();
  if (process.env.UPDATE_README && table !== settingsTable()) {
    writeFileSync(README, `${text.slice(0, from + START.length)}\n${settingsTable()}\n${text.slice(to)}`);
    return;
  }
  expect(table).toBe(settingsTable());
});

test("--help names every flag and every TOML key with its default", () => {
  const keys = settingsTable()
    .split("\n")
    .slice(2)
    .map((row) => row.split("|").map((cell) => cell.trim()));
  const help = helpText();
  for (const [, flag, key] of keys) {
    if (flag) expect(help).toContain(flag.replaceAll("`", ""));
    expect(help).toContain(key.replaceAll("`", ""));
  }
  expect(help).toContain("(default 8080)");
});

test("the defaults in the table are the values loadSettings gives when nothing is set", () => {
  const { settings } = loadSettings([], {});
  expect(settings.http.port).toBe(8080);
  expect(settings.http.publicUrl).toBe("http://api.example.test:8080");
  expect(settings.http.trustedProxies).toEqual(["127.0.0.1/32", "::1/128"]);
  expect(settings.dns.port).toBe(5300);
  expect(settings.dns.rrl).toEqual({ rate: 100, slip: 2 });
  expect(settings.expiry).toEqual({ inactiveDays: 60, intervalSeconds: 3600, maxFraction: 0.25, warnDays: 7 });
  expect(settings.limits.subscribePerHour).toBe(20);
  expect(settingsTable()).toContain("| `--http-port` | `http.port` | `8080` |");
  expect(settingsTable()).toContain("| `--public-url` | `http.public_url` | `http://api.<domain>:<http.port>` |");
  // a computed default follows what it is computed from
  expect(loadSettings(["--domain", "Gw.Example.ORG.", "--http-port", "9000"], {}).settings.http.publicUrl).toBe("http://api.gw.example.org:9000");
  expect(loadSettings([], { REGISTRATION_HTTP_TRUST_PROXY: "false" }).settings.http.trustedProxies).toEqual([]);
});
