// `check-config`: the settings serve would run with, checked without binding a port or touching
// the database; a one-line summary and exit 0, or the one-line error and exit 2. A child process
// for each exit code; the other runs in this process (test/support/cli.ts).
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeToml } from "../support/helpers.ts";
import { cliInProcess } from "../support/cli.ts";
import { runCli } from "../support/server.ts";

setDefaultTimeout(60_000);
const dir = mkdtempSync(join(tmpdir(), "regsrv-check-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a good file: exit 0, one summary line, and no database created", async () => {
  const db = join(dir, "data", "never.sqlite");
  const config = await writeToml(
    dir,
    `domain = "Example.ORG"\n[http]\nport = 8081\n[dns]\nnameservers = [["ns1.example.org.", "192.0.2.1"]]\ntunnel_addresses = ["192.0.2.1"]\n[database]\npath = "${db}"\n`,
  );
  const { code, stdout, stderr } = await runCli(["check-config", "--config", config, "--dns-port", "53"], { env: { REGISTRATION_ADMIN_PORT: "9153" } });
  expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
  expect(stdout).toBe(`settings ok: zone=example.org http=0.0.0.0:8081 dns=0.0.0.0:53 admin=127.0.0.1:9153 db=${db} mail=log\n`);
  expect(existsSync(join(dir, "data"))).toBe(false);
});

test("a bad file or a bad value: exit 2 with the one-line reason", async () => {
  const unknown = await writeToml(dir, "[http]\nprot = 8080\n", "unknown.toml");
  const broken = await writeToml(dir, "domain = \n", "broken.toml");
  const noSender = await writeToml(dir, '[email]\nresend_api_key = "re_x"\n', "nosender.toml");
  const cases: [string[], string][] = [
    [["--config", unknown], `${unknown}: unknown setting 'http.prot'`],
    [["--config", broken], `${broken}: not valid TOML`],
    [["--config", noSender], "email.from must be set when email.resend_api_key is"],
    [["--config", join(dir, "absent.toml")], "--config: no such file"],
    [["--dns-port", "99999"], "dns.port must be a port number"],
  ];
  // the first through a process, the rest in this one
  const runs = await Promise.all(cases.map(([args], i) => (i === 0 ? runCli : cliInProcess)(["check-config", ...args])));
  for (const [i, { code, stdout, stderr }] of runs.entries()) {
    expect({ code, stdout }).toEqual({ code: 2, stdout: "" });
    expect(stderr).toContain(cases[i][1]);
    expect(stderr.trim().split("\n")).toHaveLength(1);
  }
});

test("settings that work but likely not as meant: a warning line each on stderr, the summary on stdout, exit 0", async () => {
  const config = await writeToml(dir, `[general]\ndomain = "mydomain.org"\nhttp_port = 4141\n[email]\nserver = "mail.example.com"\n`, "rust.toml");
  const { code, stdout, stderr } = await cliInProcess(["check-config", "--config", config]);
  expect(code).toBe(0);
  expect(stdout).toStartWith("settings ok: zone=mydomain.org ");
  expect(stdout.trim().split("\n")).toHaveLength(1);
  const lines = stderr.trim().split("\n");
  expect(lines.every((l) => l.startsWith("registration-server: warning: "))).toBe(true);
  for (const text of [
    "dns.nameservers: ns1.mydomain.org. is inside the zone but has no address",
    "dns.tunnel_addresses is empty",
    `${config}: [email] server (the Rust server's SMTP) cannot be used`,
    `${config}: no http.public_url (the Rust layout has none), so links in emails point at http://api.mydomain.org:4141;`,
  ])
    expect(lines.filter((l) => l.includes(text))).toHaveLength(1);
  expect(lines).toHaveLength(4);
});
