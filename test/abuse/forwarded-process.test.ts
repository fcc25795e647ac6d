// Issue 9, finding 5, end to end: the real server process, its real socket peer (127.0.0.1),
// forged forwarding headers. In-process tests name the peer themselves; this one proves the
// server's own peer lookup is what counts.
import { afterAll, describe, expect, test } from "bun:test";
import { get, startServer, type RunningServer } from "../support/server.ts";
import { freshName, info, subscribe } from "../support/helpers.ts";

const servers: RunningServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.cleanup()));
});

describe("forwarded headers over real sockets", () => {
  test("a direct client (not a trusted proxy) forging X-Forwarded-For and X-Real-IP is counted and stored under its socket address", async () => {
    const server = await startServer({
      limits: true,
      env: { REGISTRATION_HTTP_TRUSTED_PROXIES: '["192.0.2.1/32"]', REGISTRATION_LIMITS_SUBSCRIBE_PER_HOUR: "3" },
    });
    servers.push(server);
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
    const server = await startServer({
      limits: true,
      env: { REGISTRATION_HTTP_TRUST_PROXY: "true", REGISTRATION_LIMITS_EMAIL_REQUESTS_PER_HOUR: "3" },
    });
    servers.push(server);
    const { token } = await subscribe(server);
    const statuses: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const headers = { "X-Real-IP": `192.0.2.${i}`, "X-Forwarded-For": "203.0.113.50" };
      statuses.push((await get(server, `/setemail?token=${token}&email=a${i}@example.org`, { headers })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
  });
});
