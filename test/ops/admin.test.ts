// The admin listener's /healthz: 200 only when the database answers a read and a write probe,
// and the probe leaves nothing behind. In process over a real SQLite file, then once through a
// running server on its own admin port.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAdmin } from "../../src/ops/admin.ts";
import { openDatabase } from "../../src/store/db.ts";
import { freePort, startServer } from "../support/server.ts";

const dir = mkdtempSync(join(tmpdir(), "regsrv-admin-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("/healthz", () => {
  test("200 with both probes ok, and the write probe leaves no row", async () => {
    const db = openDatabase(join(dir, "ok.sqlite"));
    const before = db.$client.query("SELECT count(*) AS n FROM accounts").get() as { n: number };
    const res = await createAdmin({ sqlite: db.$client }).handle(new Request("http://admin/healthz"));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, read: "ok", write: "ok" });
    expect(db.$client.query("SELECT count(*) AS n FROM accounts").get()).toEqual(before);
    db.$client.close();
  });

  test("503 naming the write probe's failure when writes are refused (the file watch's state)", async () => {
    const db = openDatabase(join(dir, "refused.sqlite"));
    db.$client.run("PRAGMA query_only = ON");
    const res = await createAdmin({ sqlite: db.$client }).handle(new Request("http://admin/healthz"));
    expect(res.status).toBe(503);
    const body = (await res.json()) as { ok: boolean; read: string; write: string };
    expect(body.ok).toBe(false);
    expect(body.read).toBe("ok");
    expect(body.write).not.toBe("ok");
    db.$client.close();
  });

  test("a running server answers /healthz on its admin port and names it in the ready line", async () => {
    const adminPort = await freePort();
    const server = await startServer({ env: { REGISTRATION_ADMIN_PORT: String(adminPort) } });
    try {
      expect(server.output()).toContain(`admin=http://127.0.0.1:${adminPort} `);
      const res = await fetch(`http://127.0.0.1:${adminPort}/healthz`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { ok: boolean }).ok).toBe(true);
      // the public HTTP port does not serve it
      expect((await fetch(`${server.url}/healthz`)).status).toBe(404);
    } finally {
      await server.cleanup();
    }
  });

  // admin.port = 0: no admin listener, and the ready line says so (admin=off): the shared
  // server of test/config/settings.test.ts, "one start-up line names the HTTP and DNS addresses".
});
