// SIGHUP on a running server (a child process over a real SQLite file and real sockets): the
// settings file is read again; records, templates, the sender and limits change without a
// restart, cached DNS answers included; a bad file changes nothing and says why in one line;
// a new port is logged as needing a restart; the process never ends on SIGHUP.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode, encodeQuery, tcpExchange, udpExchange } from "../dns/client.ts";
import { waitFor, writeToml } from "../support/helpers.ts";
import { startResendStandIn, type ResendStandIn } from "../support/resend.ts";
import { freePort, get, startServer, type RunningServer } from "../support/server.ts";

const dir = mkdtempSync(join(tmpdir(), "regsrv-reload-"));
let server: RunningServer;
let standIn: ResendStandIn;
let ports: { http: number; dns: number };

/** The settings file: everything the server runs with (no flags, so every key is the file's). */
function settingsFile(options: { txt: string; subject: string; from: string; subscribePerHour: number; httpPort?: number }) {
  return writeToml(
    dir,
    `domain = "example.test"
[http]
host = "127.0.0.1"
port = ${options.httpPort ?? ports.http}
[dns]
host = "127.0.0.1"
port = ${ports.dns}
rrl_rate = 0
txt = [["@", "${options.txt}"]]
[database]
path = "${join(dir, "registration.sqlite")}"
[email]
from = "${options.from}"
confirmation_subject = "${options.subject}"
[limits]
subscribe_per_hour = ${options.subscribePerHour}
`,
  );
}

const FIRST = { txt: "v=first", subject: "First subject for {domain}", from: "First <first@example.test>", subscribePerHour: 1000 };

beforeAll(async () => {
  standIn = startResendStandIn();
  ports = { http: await freePort(), dns: await freePort() };
  const path = await settingsFile(FIRST);
  server = await startServer({
    defaultFlags: false,
    limits: true,
    args: ["--config", path],
    env: { RESEND_API_KEY: "re_test_0123456789", RESEND_BASE_URL: standIn.url },
    dir,
    cwd: dir,
  });
});
afterAll(async () => {
  await server?.cleanup();
  standIn?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Sends SIGHUP and waits for the reload's last line; returns every line the reload wrote. */
async function hangUp(): Promise<string[]> {
  const mark = server.output().length;
  server.proc.kill("SIGHUP");
  await waitFor(() => /settings reload(ed:| failed)[^\n]*\n/.test(server.output().slice(mark)), "the reload's log line");
  return server
    .output()
    .slice(mark)
    .split("\n")
    .filter((line) => /settings reload/.test(line));
}

const txt = async (transport: "udp" | "tcp") => {
  const query = encodeQuery("example.test", "TXT");
  const reply = transport === "udp" ? await udpExchange(server.dnsPort, query) : (await tcpExchange(server.dnsPort, [query]))[0];
  return decode(reply)
    .answers!.filter((a) => a.type === "TXT")
    .map((a) => Buffer.concat((a as { data: Buffer[] }).data).toString());
};

async function confirmationEmail(to: string) {
  const subscribed = await get(server, `/subscribe?name=reload${Math.random().toString(36).slice(2, 8)}`);
  expect(subscribed.status, subscribed.text).toBe(200);
  const since = standIn.emails.length;
  const res = await get(server, `/setemail?token=${subscribed.json.token}&email=${encodeURIComponent(to)}`);
  expect(res.status, res.text).toBe(200);
  return await waitFor(() => standIn.emails.slice(since).find((e) => e.to.includes(to)), `an email to ${to}`);
}

describe("SIGHUP", () => {
  test("an unchanged file: the process goes on serving and logs that nothing changed", async () => {
    expect(await hangUp()).toEqual([expect.stringMatching(/settings reloaded: nothing changed$/)]);
    expect(server.proc.exitCode).toBeNull();
    expect((await get(server, "/connectivity-check")).status).toBe(200);
  });

  test("a changed file: the next DNS query answers the new TXT (cached answers included), and the new template, sender and limit apply", async () => {
    expect(await txt("udp")).toEqual(["v=first"]);
    expect(await txt("udp")).toEqual(["v=first"]); // now cached
    expect(await txt("tcp")).toEqual(["v=first"]);
    const before = await confirmationEmail("before@example.org");
    expect(before.subject).toMatch(/^First subject for /);
    expect(before.from).toBe(FIRST.from);

    await settingsFile({ txt: "v=second", subject: "Second subject for {domain}", from: "Second <second@example.test>", subscribePerHour: 1 });
    const lines = await hangUp();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/settings reloaded: /);
    for (const key of ["dns.txt", "email.from", "email.confirmation_subject", "limits.subscribe_per_hour"]) expect(lines[0]).toContain(key);

    expect(await txt("udp")).toEqual(["v=second"]);
    expect(await txt("tcp")).toEqual(["v=second"]);
    // subscribe_per_hour is 1 now and this client has used more this hour: the next subscribe is refused
    const refused = await get(server, "/subscribe?name=reloadlimited");
    expect(refused.status).toBe(429);
    expect(refused.json).toEqual({ error: "TooManyRequests" });
  });

  test("the new template and sender apply to the next email", async () => {
    await settingsFile({ txt: "v=second", subject: "Second subject for {domain}", from: "Second <second@example.test>", subscribePerHour: 1000 });
    expect(await hangUp()).toEqual([expect.stringMatching(/settings reloaded: limits\.subscribe_per_hour$/)]);
    const email = await confirmationEmail("third@example.org");
    expect(email.subject).toMatch(/^Second subject for reload/);
    expect(email.from).toBe("Second <second@example.test>");
  });

  test("a bad file keeps every running setting and says why in one line", async () => {
    await writeToml(dir, '[dns]\nttl = "not a number"\n');
    const lines = await hangUp();
    expect(lines).toEqual([expect.stringMatching(/settings reload failed, the running settings stay: .*dns\.ttl must be a TOML number, not a string/)]);
    expect(await txt("udp")).toEqual(["v=second"]);
    expect((await get(server, "/connectivity-check")).status).toBe(200);
    expect(server.proc.exitCode).toBeNull();
  });

  test("a new port is logged as needing a restart; the server keeps its port", async () => {
    await settingsFile({
      txt: "v=second",
      subject: "Second subject for {domain}",
      from: "Second <second@example.test>",
      subscribePerHour: 1000,
      httpPort: ports.http + 1,
    });
    const lines = await hangUp();
    expect(lines.find((l) => /http\.port changed but need a restart/.test(l))).toBeDefined();
    expect(lines.filter((l) => /need a restart/.test(l))).toHaveLength(1);
    expect((await get(server, "/connectivity-check")).status).toBe(200);
    expect(server.url).toContain(`:${ports.http}`);
  });

  test("SIGTERM after all that still ends the process cleanly with 0", async () => {
    expect(await server.stop("SIGTERM")).toBe(0);
  });
});
