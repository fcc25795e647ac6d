// `dnssec ds`: the DS of the key stored in the database, in the form BIND's dnssec-dsfromkey
// prints (as a child process: its stdout); a clear error (exit 1) when there is no database or no
// key yet, and a usage error (2) for anything else (in this process, test/support/cli.ts; the
// exit codes 1 and 2 of a CLI process are pinned by test/cli/domains.test.ts).
// test/e2e/dnssec-validators.e2e.ts checks it against the served DNSKEY.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dsText, loadSigner } from "../../src/dns/dnssec.ts";
import { openDatabase } from "../../src/store/db.ts";
import { signingKey } from "../../src/store/dnssec-keys.ts";
import { cliInProcess } from "../support/cli.ts";
import { runCli } from "../support/server.ts";

// Each CLI run is a process start (about a second on a loaded machine).
setDefaultTimeout(60_000);

const dir = mkdtempSync(join(tmpdir(), "regsrv-cli-dnssec-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("dnssec ds", () => {
  test("prints the DS of the stored key for the zone, nothing else", async () => {
    const path = join(dir, "keyed.sqlite");
    const db = openDatabase(path);
    const { key } = signingKey(db, "ed25519", 1);
    db.$client.close();
    const result = await runCli(["dnssec", "ds", "--db", path, "--domain", "example.org"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const expected = dsText(loadSigner(key, { zone: "example.org", ttl: 1 }).ds());
    expect(result.stdout).toBe(`${expected}\n`);
    expect(expected).toMatch(/^example\.org\. IN DS \d+ 15 2 [0-9A-F]{64}$/);
  });

  test("no key yet, or no database: exit 1 with the reason; bad usage: exit 2", async () => {
    const empty = join(dir, "empty.sqlite");
    openDatabase(empty).$client.close();
    const noKey = await cliInProcess(["dnssec", "ds", "--db", empty, "--admin-port", "0"]);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain("no DNSSEC key");
    expect(noKey.stderr).toContain("dns.dnssec = true");
    const noFile = await cliInProcess(["dnssec", "ds", "--db", join(dir, "absent.sqlite"), "--admin-port", "0"]);
    expect(noFile.code).toBe(1);
    expect(noFile.stderr).toContain("no database at");
    expect((await cliInProcess(["dnssec", "ds", "extra", "--db", empty, "--admin-port", "0"])).code).toBe(2);
    const unknown = await cliInProcess(["dnssec", "--db", empty, "--admin-port", "0"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("dnssec ds");
  });
});
