// Settings (README.md, "Settings"): flags > REGISTRATION_* environment > TOML > defaults, the Rust
// server's TOML layout, bad values stopping start-up with exit 2, --help/--version, signals.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, get, runCli, SOURCE_COMMAND, startServer, useServer, type RunningServer } from "../support/server.ts";
import { startApp, type TestApp } from "../support/app.ts";
import { startResendStandIn, type ResendStandIn } from "../support/resend.ts";
import { loadSettings, SettingsError } from "../../src/config.ts";
import { domainRow, emailSince, expectError, freshName, info, subscribe, verificationLink, writeToml } from "../support/helpers.ts";

const ROOT = join(import.meta.dir, "..", "..");
const servers: RunningServer[] = [];
const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "regsrv-config-"));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  for (const s of servers.splice(0)) await s.cleanup();
});
afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(options: Parameters<typeof startServer>[0]) {
  const server = await startServer(options);
  servers.push(server);
  return server;
}

describe("--help and --version", () => {
  test("--help prints usage naming the flags and exits 0", async () => {
    // from source, as `npm start` runs it (the other spawns run the compiled binary: test/support/server-binary.ts)
    const r = await runCli(["--help"], { command: SOURCE_COMMAND });
    expect(r.code).toBe(0);
    for (const flag of ["--config", "--domain", "--host", "--http-port", "--public-url", "--dns-host", "--dns-port", "--db"]) expect(r.stdout).toContain(flag);
  });

  test("--version prints the package version and exits 0", async () => {
    const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;
    const r = await runCli(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(version);
  });
});

describe("bad settings stop start-up: exit 2 and one line naming the key", () => {
  const cases: [string, string[], Record<string, string>, string | null, RegExp][] = [
    ["--http-port abc", ["--http-port", "abc"], {}, null, /http[-._]port/i],
    ["--http-port 70000", ["--http-port", "70000"], {}, null, /http[-._]port/i],
    ["--dns-port -5", ["--dns-port=-5"], {}, null, /dns[-._]port/i],
    ["--host not-an-address", ["--host", "not an address"], {}, null, /host/i],
    ["--domain with a space", ["--domain", "bad domain"], {}, null, /domain/i],
    ["--public-url ftp://", ["--public-url", "ftp://example.org"], {}, null, /public[-._]url/i],
    ["an unknown flag", ["--colour", "red"], {}, null, /--colour/],
    ["REGISTRATION_EXPIRY_INACTIVE_DAYS=-1", [], { REGISTRATION_EXPIRY_INACTIVE_DAYS: "-1" }, null, /inactive[_.]days/i],
    ["REGISTRATION_EXPIRY_INTERVAL_SECONDS=0", [], { REGISTRATION_EXPIRY_INTERVAL_SECONDS: "0" }, null, /interval[_.]seconds/i],
    ["REGISTRATION_EXPIRY_INTERVAL_SECONDS=soon", [], { REGISTRATION_EXPIRY_INTERVAL_SECONDS: "soon" }, null, /interval[_.]seconds/i],
    ["REGISTRATION_HTTP_TRUST_PROXY=maybe", [], { REGISTRATION_HTTP_TRUST_PROXY: "maybe" }, null, /trust[_.]proxy/i],
    ["REGISTRATION_HTTP_PORT=http", [], { REGISTRATION_HTTP_PORT: "http" }, null, /http[_.]port/i],
    ["an unknown REGISTRATION_ variable", [], { REGISTRATION_HTTP_COLOUR: "red" }, null, /REGISTRATION_HTTP_COLOUR|colour/i],
    ["an unknown TOML key", [], {}, `[http]\ncolour = "red"\n`, /colour/],
    ["an unknown TOML table", [], {}, `[bogus]\nx = 1\n`, /bogus/],
    ["a TOML port of the wrong type", [], {}, `[http]\nport = "eighty"\n`, /http\.port/],
    ["a TOML inactive_days of 0", [], {}, `[expiry]\ninactive_days = 0\n`, /inactive_days/],
    ["a TOML tunnel address that is not an IP", [], {}, `[dns]\ntunnel_addresses = ["tunnel.example.org"]\n`, /tunnel_addresses/],
    ["a Resend key without a sender", [], { RESEND_API_KEY: "re_x" }, null, /email\.from|from/i],
    ["a legacy TOML with a bad http_port", [], {}, `[general]\nhttp_port = "x"\ndomain = "legacy.test"\n`, /http_port|http\.port/],
    [
      "a legacy TOML record owner outside the zone",
      [],
      {},
      `[general]\ndomain = "legacy.test"\n[pdns]\ntxt_records = [["_dmarc.other.test.", "v=DMARC1"]]\n`,
      /dns\.txt/,
    ],
  ];

  // In process: loadSettings is what main calls; main turns a SettingsError into one line and exit 2.
  test.each(cases)("%s", async (_name, args, env, toml, key) => {
    const dir = tempDir();
    const configArgs = toml === null ? [] : ["--config", await writeToml(dir, toml)];
    let error: unknown;
    try {
      loadSettings(["--http-port", "0", "--dns-port", "0", "--db", join(dir, "db.sqlite"), ...configArgs, ...args], env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SettingsError);
    const message = (error as Error).message;
    expect(message).toMatch(key);
    expect(message).not.toContain("\n");
  });

  test("the process prints that one line on stderr, exits 2 and creates nothing", async () => {
    const dir = tempDir();
    const r = await runCli(["--http-port", "abc", "--db", join(dir, "db.sqlite")], { cwd: dir });
    const lines = `${r.stdout}${r.stderr}`.split("\n").filter((l) => l.trim() !== "");
    expect({ code: r.code, lines: lines.length }).toEqual({ code: 2, lines: 1 });
    expect(lines[0]).toMatch(/^registration-server: .*http[-._]port/);
    expect(existsSync(join(dir, "db.sqlite"))).toBe(false);
  });

  test("a TOML file that does not parse, or does not exist, is one line naming the file", async () => {
    const dir = tempDir();
    const broken = await writeToml(dir, "[http\nport = 1\n");
    const missing = join(dir, "missing.toml");
    for (const path of [broken, missing]) {
      expect(() => loadSettings(["--config", path], {})).toThrow(SettingsError);
      try {
        loadSettings(["--config", path], {});
      } catch (e) {
        expect((e as Error).message).toContain(path);
        expect((e as Error).message).not.toContain("\n");
      }
    }
  });
});

describe("where settings come from", () => {
  /** A complete TOML in the new layout, on its own ports. */
  async function tomlSettings(dir: string) {
    const httpPort = await freePort();
    const dnsPort = await freePort();
    const path = await writeToml(
      dir,
      `domain = "toml.test"
[http]
host = "127.0.0.1"
port = ${httpPort}
[dns]
host = "127.0.0.1"
port = ${dnsPort}
[database]
path = "${join(dir, "from-toml.sqlite")}"
[expiry]
inactive_days = 30
interval_seconds = 600
`,
    );
    return { path, httpPort, dnsPort };
  }

  test("the TOML file alone sets domain, listeners and database path", async () => {
    // In process: the next test pins that the process serves what loadSettings returns.
    const dir = tempDir();
    const toml = await tomlSettings(dir);
    const { settings } = loadSettings(["--config", toml.path], {});
    expect([settings.domain, settings.http.host, settings.http.port, settings.dns.host, settings.dns.port, settings.database.path]).toEqual([
      "toml.test",
      ["127.0.0.1"],
      toml.httpPort,
      ["127.0.0.1"],
      toml.dnsPort,
      join(dir, "from-toml.sqlite"),
    ]);
    expect([settings.expiry.inactiveDays, settings.expiry.intervalSeconds]).toEqual([30, 600]);
  });

  test("REGISTRATION_* variables override the TOML file; the process listens where the TOML says otherwise", async () => {
    const dir = tempDir();
    const toml = await tomlSettings(dir);
    const server = await start({
      defaultFlags: false,
      args: ["--config", toml.path],
      env: { REGISTRATION_DOMAIN: "env.test", REGISTRATION_HTTP_PORT: "0", REGISTRATION_DATABASE_PATH: join(dir, "from-env.sqlite") },
      cwd: dir,
    });
    // the DNS listener the TOML names (no flag, no variable for it)
    expect(server.output().match(/ready: http=(\S+) dns=(\S+)/)![2]).toBe(`127.0.0.1:${toml.dnsPort}`);
    expect(server.httpPort).not.toBe(toml.httpPort);
    const { token } = await subscribe(server, "envname");
    expect((await info(server, token)).json.name).toBe("envname.env.test.");
    expect(existsSync(join(dir, "from-env.sqlite"))).toBe(true);
    expect(existsSync(join(dir, "from-toml.sqlite"))).toBe(false);
  });

  test("flags override REGISTRATION_* variables and the TOML file", async () => {
    // In process: the test above pins that the process serves what loadSettings returns from each source.
    const dir = tempDir();
    const toml = await tomlSettings(dir);
    const { settings } = loadSettings(["--config", toml.path, "--domain", "flag.test", "--http-port", "8081", "--db", join(dir, "from-flag.sqlite")], {
      REGISTRATION_DOMAIN: "env.test",
      REGISTRATION_HTTP_PORT: "8082",
      REGISTRATION_DATABASE_PATH: join(dir, "from-env.sqlite"),
    });
    expect([settings.domain, settings.http.port, settings.database.path]).toEqual(["flag.test", 8081, join(dir, "from-flag.sqlite")]);
    expect([settings.dns.port, settings.expiry.inactiveDays]).toEqual([toml.dnsPort, 30]); // the TOML's, where no flag or variable says otherwise
  });

  // "defaults: domain example.test and the database at ./data/registration.sqlite": the shared
  // server of "start-up line and signals" below runs on them.

  // --db :memory: runs without a file (subscribed to, read through DNS, stopped by SIGINT with
  // exit 0): test/dns/process.test.ts, "--db :memory:".
});

// The app in this process (test/support/app.ts) on the settings loadSettings reads from the file;
// a process started on a Rust settings file: test/process/startup-warnings.test.ts.
describe("the Rust server's TOML layout", () => {
  let standIn: ResendStandIn;
  let server: TestApp;
  let path: string;
  let dbPath: string;
  let httpPort: number;

  beforeAll(async () => {
    standIn = startResendStandIn();
    const dir = tempDir();
    httpPort = 18080; // written into the TOML file: the links in emails name it (nothing binds it here)
    dbPath = join(dir, "domains.sqlite");
    path = await writeToml(
      dir,
      `# the Rust registration server's configuration
[general]
host = "127.0.0.1"
http_port = ${httpPort}
domain = "legacy.test"
db_path = "${dbPath}"

[pdns]
api_ttl = 1
dns_ttl = 86400
tunnel_ttl = 60
socket_path = "/tmp/pdns_tunnel.sock"
caa_records = [
  "0 issue \\"letsencrypt.org\\"",
]
mx_records = [
  ["@", "10 inbound-smtp.example.org"],
  ["mail", "10 mail.inbound-smtp.example.org"],
]
ns_records = [
  [ "ns1.legacy.test.", "5.6.7.8" ],
  [ "ns2.legacy.test.", "4.5.6.7" ],
]
txt_records = [
  [ "_psl", "https://github.com/publicsuffix/list/pull/XYZ" ],
  [ "@", "something useful" ],
]
cname_records = [
  [ "subdomain.legacy.test", "legacy.test" ],
]
soa_record = "ns1.legacy.test. dns-admin.legacy.test. 2018082801 900 900 1209600 60"
www_addresses = ["10.11.12.13"]

  [pdns.geoip]
  default = "5.6.7.8"
  database = "./GeoLite2-Country.mmdb"

    [pdns.geoip.continent]
    EU = "4.5.6.7"
    NA = "5.6.7.8"

[email]
server = "mail.example.org"
user = "accounts@legacy.test"
password = "******"
sender = "accounts@legacy.test"
reclamation_title = "Reclaim your Legacy Gateway Domain"
reclamation_body = """Hello,
<br>
Your reclamation token is: {token}"""
confirmation_title = "Welcome to your Legacy Gateway"
confirmation_body = """Hello,
<br>
To confirm your email address, navigate to <a href="{link}">{link}</a>.
<br>
Your gateway can be accessed at <a href="https://{domain}">https://{domain}</a>."""
success_page = """<!DOCTYPE html>
<html><head><title>Email Confirmation Successful!</title></head>
<body><h1>Thank you for verifying your legacy email.</h1></body></html>"""
error_page = """<!DOCTYPE html>
<html><head><title>Email Confirmation Error!</title></head>
<body><h1>An error happened while verifying your legacy email.</h1></body></html>"""
`,
    );
    // shared by the tests of this block; the file's domain and database, as flags after startApp's own
    server = startApp({ args: ["--config", path, "--domain", "legacy.test"], dbPath, env: { RESEND_API_KEY: "re_test_legacy", RESEND_BASE_URL: standIn.url } });
  });
  afterAll(async () => {
    await server?.close();
    standIn?.stop();
  });

  /** setemail and the confirmation email it sends. */
  async function confirmation() {
    const { name, token } = await subscribe(server);
    const email = `${name}@example.org`;
    const since = standIn.emails.length;
    expect((await get(server, `/setemail?token=${token}&email=${encodeURIComponent(email)}`)).status).toBe(200);
    const mail = await emailSince(standIn, since, email);
    return { name, token, email, mail, s: verificationLink(mail, `http://api.legacy.test:${httpPort}`).s };
  }

  test("[general] host, http_port, domain and db_path are used", async () => {
    const { settings } = loadSettings(["--config", path], {});
    expect([settings.http.host, settings.http.port, settings.domain, settings.database.path]).toEqual([["127.0.0.1"], httpPort, "legacy.test", dbPath]);
    expect(existsSync(dbPath)).toBe(true);
    const { name, token } = await subscribe(server);
    expect((await info(server, token)).json.name).toBe(`${name}.legacy.test.`);
  });

  test("[pdns] static records reserve their labels (mx, cname, ns)", async () => {
    for (const label of ["mail", "subdomain", "ns2"]) expectError(await get(server, `/subscribe?name=${label}`), 400, "UnavailableName");
  });

  test("[email] sender and titles are used for both emails", async () => {
    const { name, email, mail, s } = await confirmation();
    expect(mail.from).toContain("accounts@legacy.test");
    expect(mail.subject).toBe("Welcome to your Legacy Gateway");
    expect((await get(server, `/verifyemail?s=${s}`)).status).toBe(200);
    const since = standIn.emails.length;
    expect((await get(server, `/reclaim?name=${name}`)).status).toBe(200);
    const reclaimMail = await emailSince(standIn, since, email);
    expect(reclaimMail.subject).toBe("Reclaim your Legacy Gateway Domain");
    expect(`${reclaimMail.text ?? ""}${reclaimMail.html ?? ""}`).toMatch(/Your reclamation token is: [0-9a-f-]{36}/);
  });

  test("[email] success_page and error_page are the pages /verifyemail serves", async () => {
    const { s } = await confirmation();
    const page = await get(server, `/verifyemail?s=${s}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain("Thank you for verifying your legacy email.");
    // a second click (a mail scanner may have been first) is still the success page
    const again = await get(server, `/verifyemail?s=${s}`);
    expect(again.status).toBe(200);
    expect(again.text).toContain("Thank you for verifying your legacy email.");
    const unknown = await get(server, "/verifyemail?s=6f1d2c3b-4a5e-4f60-8b71-92a3b4c5d6e7");
    expect(unknown.status).toBe(404);
    expect(unknown.text).toContain("An error happened while verifying your legacy email.");
    expect(unknown.headers.get("content-security-policy")).toContain("default-src 'none'");
  });

  test("the Rust HTML templates are sent as HTML: the html part keeps their markup, with the link in their anchor", async () => {
    const { mail } = await confirmation();
    const link = mail.html?.match(/http:\/\/api\.legacy\.test:\d+\/verifyemail\?s=[0-9a-f-]{36}/)?.[0];
    expect(link).toBeDefined();
    expect(mail.html).toContain(`<a href="${link}">${link}</a>`);
    expect(mail.html).not.toContain("&lt;br&gt;");
    expect(mail.html).not.toContain("&lt;a href");
  });

  test('{domain} in the Rust confirmation body is the gateway\'s own name ("Your gateway can be accessed at https://{domain}")', async () => {
    const { name, mail } = await confirmation();
    expect(`${mail.text ?? ""}${mail.html ?? ""}`).toContain(`https://${name}.legacy.test`);
  });
});

describe("start-up line and signals", () => {
  // Started on the defaults (no --domain, no --db) in a directory of its own.
  const cwd = tempDir();
  const shared = useServer({ defaultFlags: false, args: ["--host", "127.0.0.1", "--http-port", "0", "--dns-host", "127.0.0.1", "--dns-port", "0"], cwd });
  let kept: { name: string; token: string };

  test("defaults: domain example.test and the database at ./data/registration.sqlite (directory created)", async () => {
    const { server } = shared;
    kept = await subscribe(server, "defaultname");
    expect((await info(server, kept.token)).json.name).toBe("defaultname.example.test.");
    expect(existsSync(join(cwd, "data", "registration.sqlite"))).toBe(true);
  });

  test("one start-up line names the HTTP and DNS addresses", async () => {
    const { server } = shared;
    const lines = server
      .output()
      .split("\n")
      .filter((l) => /ready:/.test(l));
    expect(lines.length).toBe(1);
    expect(lines[0]).toContain(`127.0.0.1:${server.httpPort}`);
    expect(lines[0]).toContain(`127.0.0.1:${server.dnsPort}`);
    // admin.port = 0 (as the harness starts servers): no admin listener, and the line says so
    expect(lines[0]).toMatch(/ admin=off /);
  });

  test("a second server on a port the first holds exits 2 naming the address, for HTTP as for DNS", async () => {
    const first = shared.server;
    const dir = tempDir();
    for (const [httpPort, dnsPort, what] of [
      [first.httpPort, 0, `HTTP on 127.0.0.1:${first.httpPort}`],
      [0, first.dnsPort, `DNS on 127.0.0.1:${first.dnsPort}`],
    ] as const) {
      const r = await runCli(
        [
          "--domain",
          "example.test",
          "--host",
          "127.0.0.1",
          "--dns-host",
          "127.0.0.1",
          "--http-port",
          String(httpPort),
          "--dns-port",
          String(dnsPort),
          "--db",
          join(dir, `${dnsPort}.sqlite`),
        ],
        { cwd: dir },
      );
      expect({ what, code: r.code }).toEqual({ what, code: 2 });
      expect(r.stderr).toContain(`cannot listen for ${what}`);
      expect(r.stdout).not.toContain("ready:");
    }
    // and the first one still answers
    expect((await get(first, "/connectivity-check")).status).toBe(200);
  });

  test("SIGTERM sent as soon as the start-up line appears still exits 0 (handlers are in place before ready)", async () => {
    // Two at once: each start costs about 1.4 s of CPU (shutdown itself takes about 20 ms).
    const codes = await Promise.all(Array.from({ length: 2 }, async () => (await start({})).stop("SIGTERM")));
    expect(codes).toEqual(codes.map(() => 0));
  });

  // the last test of this block: it stops the shared server
  test("SIGTERM while requests are in flight: those requests are answered, the process exits 0 within 5 s and keeps its data", async () => {
    const { server } = shared;
    const inflight = Array.from({ length: 20 }, () =>
      get(server, `/subscribe?name=${freshName("bye")}`).then(
        (r) => r.status,
        () => "refused",
      ),
    );
    const t0 = performance.now();
    const code = await server.stop("SIGTERM");
    expect(performance.now() - t0).toBeLessThan(5000);
    const statuses = await Promise.all(inflight);
    expect(code).toBe(0);
    // every request either got a real answer or was never accepted; none got a broken one
    for (const s of statuses) expect([200, "refused"]).toContain(s);
    expect(
      await fetch(`${server.url}/connectivity-check`).then(
        () => "up",
        () => "down",
      ),
    ).toBe("down");
    // the row is in the file, readable once the process is gone (test/process/crash.test.ts restarts after kill -9)
    expect(domainRow(join(cwd, "data", "registration.sqlite"), kept.name)?.token).toBe(kept.token);
  });
});
