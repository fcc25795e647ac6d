// Slow (npm run test:slow): waits for the file checks, one a second.
// The database file deleted or replaced under the running server: within database.check_seconds
// every write answers 501 and changes nothing, reads keep working from the open file, and the
// log says what happened and what to do (docs/operations.md, "The database file").
import { afterEach, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, renameSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { get, startServer, type RunningServer } from "../support/server.ts";
import { domainRow, freshName, info, openSqlite, subscribe } from "../support/helpers.ts";

const servers: RunningServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.cleanup();
});

async function start() {
  const server = await startServer({ env: { REGISTRATION_DATABASE_CHECK_SECONDS: "1" } });
  servers.push(server);
  const kept = await subscribe(server);
  return { server, kept };
}

/** Every kind of write the API makes answers 501 InternalError; the read still answers. */
async function expectWritesRefused(server: RunningServer, token: string) {
  const before = (await info(server, token)).json;
  for (const path of [
    `/subscribe?name=${freshName("after")}`,
    `/ping?token=${token}`,
    `/dnsconfig?token=${token}&challenge=abc`,
    `/unsubscribe?token=${token}`,
  ]) {
    const res = await get(server, path);
    expect({ path, status: res.status, json: res.json }).toEqual({ path, status: 501, json: { error: "InternalError" } });
  }
  // no stack trace in the log for these: the watch's line says it all
  expect(server.output()).not.toMatch(/SQLiteError|readonly database/);
  const after = await info(server, token);
  expect(after.status).toBe(200);
  expect(after.json).toEqual(before);
}

describe("database file gone under the running server", () => {
  test("deleted: writes answer 501 within the check interval and the log says the file was deleted and to restart", async () => {
    const { server, kept } = await start();
    unlinkSync(server.dbPath);
    const line = (await server.waitForOutput(/^.*database: the database file .* was deleted.*$/m, 10_000))[0];
    expect(line).toMatch(/501/);
    expect(line).toMatch(/restart/);
    expect(line).toMatch(/\/proc\/\d+\/fd\/\d+/); // where the data still is
    console.log(line);
    await expectWritesRefused(server, kept.token);
    expect(existsSync(server.dbPath)).toBe(false); // nothing recreated it
  });

  test("replaced by rename: writes answer 501, and the file now in place gets no row", async () => {
    const { server, kept } = await start();
    // an operator restores a copy over the live file
    const copy = join(server.dir, "restored.sqlite");
    const source = openSqlite(server.dbPath);
    source.run(`VACUUM INTO '${copy}'`);
    source.close();
    renameSync(copy, server.dbPath);
    await server.waitForOutput(/database: the database file .* was replaced by another file.*restart/, 10_000);
    await expectWritesRefused(server, kept.token);
    // the file in place holds what it held when it was put there
    const now = openSqlite(server.dbPath);
    expect((now.query("SELECT count(*) AS n FROM domains").get() as { n: number }).n).toBe(1);
    now.close();
    expect(domainRow(server.dbPath, kept.name)?.dns_challenge).toBe("");
  });

  test("while the file stays in place, writes answer as usual", async () => {
    const { server, kept } = await start();
    copyFileSync(server.dbPath, join(server.dir, "backup.sqlite")); // a backup copy does not count
    await Bun.sleep(2500); // over two checks
    expect((await get(server, `/ping?token=${kept.token}`)).status).toBe(200);
    expect((await get(server, `/subscribe?name=${freshName("still")}`)).status).toBe(200);
    expect(server.output()).not.toMatch(/database: the database file/);
  });
});
