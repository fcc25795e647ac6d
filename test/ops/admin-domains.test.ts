// The admin listener's /domains endpoints in process, over a real SQLite file: paging, name
// forms, and a delete that the change feed hears of and the log records (what keeps DNS's answer cache exact).
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAdmin } from "../../src/ops/admin.ts";
import { adminDomains } from "../../src/ops/admin-domains.ts";
import { openDatabase } from "../../src/store/db.ts";
import { createStore } from "../../src/store/domains.ts";

const dir = mkdtempSync(join(tmpdir(), "regsrv-admin-domains-"));
const dbPath = join(dir, "registration.sqlite");
const db = openDatabase(dbPath);
const store = createStore(db);
const logged: string[] = [];
const admin = createAdmin({ sqlite: db.$client, plugins: [adminDomains({ store, zone: "example.test", dbPath, log: (line) => logged.push(line) })] });
afterAll(() => {
  db.$client.close();
  rmSync(dir, { recursive: true, force: true });
});

const call = async (method: string, path: string) => {
  const res = await admin.handle(new Request(`http://127.0.0.1:9153${path}`, { method }));
  return { status: res.status, body: (await res.json()) as any };
};

for (const [i, label] of ["a", "b", "c"].entries())
  store.insertDomain({ name: `${label}.example.test.`, token: `0000000${i}-0000-4000-8000-000000000000`, description: "", mode: 0, timestamp: 1_700_000_000 });

test("GET /domains pages through every name in id order", async () => {
  const first = await call("GET", "/domains?limit=2");
  expect(first.status).toBe(200);
  expect(first.body.domains.map((d: { name: string }) => d.name)).toEqual(["a.example.test", "b.example.test"]);
  expect(first.body.domains[0]).toEqual({ name: "a.example.test", mode: "tunnel", lastPing: "2023-11-14T22:13:20Z", email: "" });
  const rest = await call("GET", `/domains?limit=2&after=${first.body.next}`);
  expect(rest.body).toMatchObject({ domains: [{ name: "c.example.test" }], next: null });
  expect((await call("GET", "/domains?limit=0")).status).toBe(422);
  expect((await call("GET", "/domains?limit=100000")).status).toBe(422);
});

test("GET /domains/:name takes any form of the name and masks the token; 404 names what was asked", async () => {
  const shown = await call("GET", "/domains/B.Example.Test.");
  expect(shown.status).toBe(200);
  expect(shown.body).toMatchObject({ name: "b.example.test", token: "0000...", reclamationToken: "", verified: false });
  expect(await call("GET", "/domains/zz")).toEqual({ status: 404, body: { error: "no such name: zz" } });
});

test("DELETE /domains/:name removes the row and the change feed hears of it", async () => {
  const heard: string[] = [];
  store.onGatewayChange((name) => heard.push(name));
  expect(await call("DELETE", "/domains/c")).toEqual({ status: 200, body: { deleted: "c.example.test" } });
  expect(heard).toEqual(["c.example.test."]);
  expect(logged).toEqual(["admin: deleted c.example.test (domains delete)"]);
  expect(store.findDomainByName("c.example.test.")).toBeUndefined();
  expect((await call("DELETE", "/domains/c")).status).toBe(404);
});

test("a delete the database refuses (writes refused) answers 500 with one JSON line and changes nothing", async () => {
  const heard: string[] = [];
  store.onGatewayChange((name) => heard.push(name));
  db.$client.run("PRAGMA query_only = ON");
  try {
    expect(await call("DELETE", "/domains/b")).toEqual({ status: 500, body: { error: "database: attempt to write a readonly database" } });
  } finally {
    db.$client.run("PRAGMA query_only = OFF");
  }
  expect(heard).toEqual([]);
  expect(store.findDomainByName("b.example.test.")).toBeDefined();
});

test("GET /database names the file the server has open", async () => {
  expect(await call("GET", "/database")).toEqual({ status: 200, body: { path: dbPath } });
});

test("a request naming another host (a DNS-rebinding web page in the operator's browser) is refused and changes nothing", async () => {
  store.insertDomain({ name: "rebind.example.test.", token: "00000009-0000-4000-8000-000000000000", description: "", mode: 0, timestamp: 1_700_000_000 });
  for (const host of ["attacker.example", "attacker.example:9153", "127.0.0.1.nip.io:9153"]) {
    const headers = { host };
    const deleted = await admin.handle(new Request("http://admin/domains/rebind", { method: "DELETE", headers }));
    expect(deleted.status).toBe(403);
    expect((await admin.handle(new Request("http://admin/domains", { headers }))).status).toBe(403);
    expect((await admin.handle(new Request("http://admin/domains/rebind", { headers }))).status).toBe(403);
  }
  expect(store.findDomainByName("rebind.example.test.")).toBeDefined();
  // /healthz (and /metrics) answer a monitor that names the host as it likes
  expect((await admin.handle(new Request("http://admin/healthz", { headers: { host: "monitor.internal:9153" } }))).status).toBe(200);
  // the command line's own requests name an address (or localhost), with or without the port
  for (const host of ["127.0.0.1:9153", "[::1]:9153", "localhost:9153", "127.0.0.1", "LOCALHOST"]) {
    expect((await admin.handle(new Request("http://admin/domains/rebind", { headers: { host } }))).status).toBe(200);
  }
  expect((await admin.handle(new Request("http://admin/domains/rebind", { method: "DELETE", headers: { host: "127.0.0.1:9153" } }))).status).toBe(200);
});
