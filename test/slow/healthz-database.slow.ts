// Slow (npm run test:slow): waits for the file check, once a second.
// /healthz on the admin listener answers 200 while the database takes writes, and 503 naming
// the write probe once the file is made unusable for writes under the running server
// (replaced by another file: the server refuses writes to the one it has open).
import { afterAll, expect, test } from "bun:test";
import { copyFileSync, renameSync } from "node:fs";
import { freePort, startServer, type RunningServer } from "../support/server.ts";
import { waitFor } from "../support/helpers.ts";

let server: RunningServer | undefined;
afterAll(async () => {
  await server?.cleanup();
});

test("/healthz turns 503 when the database file stops taking writes under the running server", async () => {
  const adminPort = await freePort();
  server = await startServer({ env: { REGISTRATION_ADMIN_PORT: String(adminPort), REGISTRATION_DATABASE_CHECK_SECONDS: "1" } });
  const health = async () => {
    const res = await fetch(`http://127.0.0.1:${adminPort}/healthz`);
    return { status: res.status, body: (await res.json()) as { ok: boolean; read: string; write: string } };
  };
  expect(await health()).toEqual({ status: 200, body: { ok: true, read: "ok", write: "ok" } });

  // A copy put in its place: the path now names another file.
  const aside = `${server.dbPath}.aside`;
  copyFileSync(server.dbPath, aside);
  renameSync(aside, server.dbPath);
  let last = await health();
  await waitFor(
    async () => {
      last = await health();
      return last.status === 503;
    },
    "/healthz to answer 503",
    10_000,
  );
  expect(last.body.ok).toBe(false);
  expect(last.body.read).toBe("ok");
  expect(last.body.write).not.toBe("ok");
  // the public API's connectivity check still says the process is up; /healthz is the one that tells
  expect((await fetch(`${server.url}/connectivity-check`)).status).toBe(200);
});
