// The SOA serial of a running server (docs/dns.md, "Zone transfers"): stored in its database, one bump per batch of
// DNS-visible changes and none for a ping that moves nothing, kept across a restart, and moved
// (with the journal emptied) by a settings reload that reshapes the zone's records. The restart
// is the server's DNS side started in this process on the file (test/support/zone-dns.ts).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { todaySerial } from "../../src/store/zone-journal.ts";
import { soaSerial } from "../dns/client.ts";
import { openSqlite, subscribe, waitFor, writeToml } from "../support/helpers.ts";
import { get, startServer, type RunningServer } from "../support/server.ts";
import { startZoneDns } from "../support/zone-dns.ts";

const dir = mkdtempSync(join(tmpdir(), "regsrv-serial-"));
let server: RunningServer | undefined;
afterAll(async () => {
  await server?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const settings = (tunnel: string) => writeToml(dir, `[dns]\ntunnel_addresses = ["${tunnel}"]\n`);

/** The journal as the file holds it: changes not yet published, and changesets kept. */
function journal(path: string): { unpublished: number; changesets: number } {
  const db = openSqlite(path);
  try {
    const unpublished = (db.query("SELECT count(*) AS n FROM zone_changes WHERE serial IS NULL").get() as { n: number }).n;
    const changesets = (db.query("SELECT count(*) AS n FROM zone_changesets").get() as { n: number }).n;
    return { unpublished, changesets };
  } finally {
    db.close();
  }
}

describe("the server's SOA serial", () => {
  test("starts at today's YYYYMMDD00, moves once per change and not for a ping that moves nothing, moves on a reshaping reload, and survives a restart", async () => {
    const path = await settings("192.0.2.10");
    const start = () => startServer({ dir, args: ["--config", path] });
    server = await start();
    const dbPath = server.dbPath;
    const s0 = await soaSerial(server.dnsPort);
    expect(s0).toBe(todaySerial());

    // dynamic-DNS mode: its A is the ping's address (a tunnel-mode name answers the tunnel addresses)
    const gateway = await subscribe(server, undefined, "&mode=1");
    await waitFor(async () => (await soaSerial(server!.dnsPort)) === s0 + 1, "the serial after /subscribe");
    // the first ping moves the address ("" -> 127.0.0.1)
    expect((await get(server, `/ping?token=${gateway.token}`)).status).toBe(200);
    await waitFor(async () => (await soaSerial(server!.dnsPort)) === s0 + 2, "the serial after the first /ping");
    // the same address again: nothing noted (the write is committed before the reply), no serial
    expect((await get(server, `/ping?token=${gateway.token}`)).status).toBe(200);
    expect(journal(dbPath)).toEqual({ unpublished: 0, changesets: 2 });
    expect((await get(server, `/dnsconfig?token=${gateway.token}&challenge=abc`)).status).toBe(200);
    await waitFor(async () => (await soaSerial(server!.dnsPort)) >= s0 + 3, "the serial after /dnsconfig");
    expect(await soaSerial(server.dnsPort)).toBe(s0 + 3);

    // every gateway's A records change with the tunnel addresses: a new serial, a fresh journal
    await settings("192.0.2.11");
    const mark = server.output().length;
    server.proc.kill("SIGHUP");
    await waitFor(() => /settings reloaded/.test(server!.output().slice(mark)), "the reload");
    expect(server.output().slice(mark)).toContain(`dns: the zone's records changed with the settings: serial ${s0 + 4}`);
    expect(await soaSerial(server.dnsPort)).toBe(s0 + 4);
    expect(journal(dbPath)).toEqual({ unpublished: 0, changesets: 0 });

    expect(await server.stop()).toBe(0);
    const restarted = await startZoneDns(["--config", path, "--domain", "example.test", "--db", dbPath]);
    try {
      expect(await soaSerial(restarted.dnsPort)).toBe(s0 + 4);
      restarted.store.setDnsChallenge(gateway.token, "def");
      await waitFor(async () => (await soaSerial(restarted.dnsPort)) === s0 + 5, "the serial after the restart's first change");
      expect(journal(dbPath)).toEqual({ unpublished: 0, changesets: 1 });
    } finally {
      await restarted.close();
    }
  });
});
