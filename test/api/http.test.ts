// What every API answer has in common: CORS, JSON errors, 404 for unknown paths,
// the connectivity check, and 501 without internals when the database fails.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { get } from "../support/server.ts";
import { startApp, type TestApp } from "../support/app.ts";
import { expectError, expectNoInternals, freshName, subscribe, writeDb } from "../support/helpers.ts";

let server: TestApp;

beforeAll(async () => {
  server = startApp({ from: "127.0.0.1" });
});
afterAll(async () => {
  await server?.close();
});

const UNKNOWN = "6f1d2c3b-4a5e-4f60-8b71-92a3b4c5d6e7";

describe("caching", () => {
  test("no answer may be kept by a cache (a new token, a name's token and address, an update's result); the icon may", async () => {
    const { name, token } = await subscribe(server);
    const paths = [
      `/subscribe?name=${freshName()}`,
      `/subscribe?name=${name}`,
      `/info?token=${token}`,
      `/info?token=${UNKNOWN}`,
      `/ping?token=${token}`,
      `/nic/update?username=${name}&password=${token}&myip=192.0.2.1`,
      "/nic/update",
      "/connectivity-check",
      "/no-such-endpoint",
    ];
    for (const path of paths) {
      const res = await server.handle(path);
      await res.text();
      expect({ path, cache: res.headers.get("cache-control") }).toEqual({ path, cache: "no-store" });
    }
    const preflight = await server.handle("/info", { method: "OPTIONS" });
    expect(preflight.headers.get("cache-control")).toBeNull(); // Access-Control-Max-Age says how long
    expect((await server.handle("/favicon.ico")).headers.get("cache-control")).toBe("public, max-age=86400");
  });
});

describe("CORS", () => {
  test("every endpoint's answer, success or error, has Access-Control-Allow-Origin * and no credentials", async () => {
    const { name, token } = await subscribe(server);
    const paths = [
      `/subscribe?name=${freshName()}`,
      `/subscribe?name=${name}`,
      "/subscribe",
      `/info?token=${token}`,
      `/info?token=${UNKNOWN}`,
      `/ping?token=${token}`,
      `/dnsconfig?token=${token}&challenge=x`,
      `/setemail?token=${token}&email=bad`,
      `/reclaim?name=${name}`,
      `/revokeemail?token=${token}`,
      `/verifyemail?s=${UNKNOWN}`,
      "/verifyemail",
      "/connectivity-check",
      `/unsubscribe?reclamationToken=${UNKNOWN}`,
      `/unsubscribe?token=${token}`,
      "/no-such-endpoint",
    ];
    for (const path of paths) {
      const res = await server.handle(path, { headers: { Origin: "https://gateway.local" } });
      await res.text();
      expect({ path, acao: res.headers.get("access-control-allow-origin") }).toEqual({ path, acao: "*" });
      expect({ path, credentials: res.headers.get("access-control-allow-credentials") }).not.toEqual({ path, credentials: "true" });
    }
  });

  test.each(["/subscribe", "/info", "/ping", "/dnsconfig", "/setemail", "/reclaim", "/unsubscribe", "/revokeemail"])(
    "an OPTIONS preflight to %s is answered with origin * and GET allowed",
    async (path) => {
      const res = await server.handle(`${path}?token=x`, {
        method: "OPTIONS",
        headers: { Origin: "https://gateway.local", "Access-Control-Request-Method": "GET" },
      });
      await res.text();
      expect([200, 204]).toContain(res.status);
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      expect(res.headers.get("access-control-allow-methods") ?? "").toMatch(/\bGET\b/);
      expect(res.headers.get("access-control-allow-credentials")).not.toBe("true");
      expect(res.headers.get("access-control-allow-headers") ?? "").not.toContain("undefined");
    },
  );
});

describe("errors and odd requests", () => {
  test("an unknown path is 404 {error: NotFound}", async () => {
    expectError(await get(server, "/no-such-endpoint"), 404, "NotFound");
    expectError(await get(server, "/subscribe/extra"), 404, "NotFound");
  });

  test("/connectivity-check answers 200 text/plain OK", async () => {
    const res = await get(server, "/connectivity-check");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    expect(res.text.trim()).toBe("OK");
  });

  test("a parameter given twice does not crash the server and answers JSON", async () => {
    const res = await get(server, `/subscribe?name=${freshName()}&name=${freshName()}`);
    expect([200, 400]).toContain(res.status);
    expect(res.json).toBeDefined();
    expectNoInternals(res.text);
    expect((await get(server, "/connectivity-check")).status).toBe(200);
  });
});

describe("internal failures", () => {
  let broken: TestApp;
  beforeAll(async () => {
    broken = startApp({ from: "127.0.0.1" });
  });
  afterAll(async () => {
    await broken?.close();
  });

  test("a database failure is 501 {error: InternalError} with no SQL or stack in the body, and the server keeps running", async () => {
    const { token } = await subscribe(broken);
    // take the table away underneath the running server
    writeDb(broken.dbPath, "ALTER TABLE domains RENAME TO domains_gone");
    for (const path of [`/subscribe?name=${freshName()}`, `/info?token=${token}`, `/ping?token=${token}`]) {
      const res = await get(broken, path);
      expectError(res, 501, "InternalError");
    }
    expect((await get(broken, "/connectivity-check")).status).toBe(200);
    writeDb(broken.dbPath, "ALTER TABLE domains_gone RENAME TO domains");
    expect((await get(broken, `/info?token=${token}`)).status).toBe(200);
  });
});
