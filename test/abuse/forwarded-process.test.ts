// The client is the socket peer unless that peer is a trusted proxy (docs/operations.md,
// "Trusted proxies"), end to end: the real server process, its real socket peer (127.0.0.1),
// forged forwarding headers. In-process tests name the peer themselves; this one proves the
// server's own peer lookup is what counts. One server for both cases: the second one's settings
// (a trusted loopback proxy) are read again from the same file on SIGHUP, as an operator would.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { get, startServer, type RunningServer } from "../support/server.ts";
import { freshName, info, subscribe, waitFor, writeToml } from "../support/helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "regsrv-forwarded-"));
let server: RunningServer;
beforeAll(async () => {
  const config = await writeToml(dir, `[http]\ntrusted_proxies = ["192.0.2.1/32"]\n[limits]\nsubscribe_per_hour = 3\n`);
  server = await startServer({ dir, limits: true, args: ["--config", config] });
});
afterAll(async () => {
  await server?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe("forwarded headers over real sockets", () => {
  test("a direct client (not a trusted proxy) forging X-Forwarded-For and X-Real-IP is counted and stored under its socket address", async () => {
    const forged = (i: number) => ({ "X-Forwarded-For": `198.51.100.${i}`, "X-Real-IP": `203.0.113.${i}` });
    const statuses: number[] = [];
    let token = "";
    for (let i = 1; i <= 4; i++) {
      const res = await get(server, `/subscribe?name=${freshName()}`, { headers: forged(i) });
      statuses.push(res.status);
      token ||= res.json?.token;
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect((await get(server, `/ping?token=${token}`, { headers: forged(9) })).status).toBe(200);
    expect((await info(server, token)).json.last_ip).toBe("127.0.0.1");
  });

  test("behind a loopback proxy (trust_proxy = true), a rotating X-Real-IP beside X-Forwarded-For cannot escape the email budget", async () => {
    // the subscribe budget of 127.0.0.1 is spent above: off here
    await writeToml(dir, `[http]\ntrust_proxy = true\n[limits]\nsubscribe_per_hour = 0\nemail_requests_per_hour = 3\n`);
    const mark = server.output().length;
    server.proc.kill("SIGHUP");
    // trust_proxy = true is loopback as the trusted proxies
    const reloaded = await waitFor(
      () =>
        server
          .output()
          .slice(mark)
          .match(/settings reloaded: (.*)/),
      "the reload",
    );
    expect(reloaded[1].split(", ")).toEqual(expect.arrayContaining(["http.trusted_proxies", "limits.email_requests_per_hour"]));
    const { token } = await subscribe(server);
    const statuses: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const headers = { "X-Real-IP": `192.0.2.${i}`, "X-Forwarded-For": "203.0.113.50" };
      statuses.push((await get(server, `/setemail?token=${token}&email=a${i}@example.org`, { headers })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
  });
});
