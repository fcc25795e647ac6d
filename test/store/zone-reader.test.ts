// The zone as transfers read it (src/store/zone-reader.ts): a snapshot is exactly the zone at
// its published serial, however many writes are not yet published or arrive while it is open;
// changesetsSince bridges a secondary's serial to ours from the journal, or says it cannot.
import { afterEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GatewayRecord } from "../../src/gateway-data.ts";
import { openDatabase, type Db } from "../../src/store/db.ts";
import { createStore, type Store } from "../../src/store/domains.ts";
import { createZonePublisher, type ZonePublisher } from "../../src/store/zone-journal.ts";
import { openZoneSnapshot, type ZoneSnapshot } from "../../src/store/zone-reader.ts";

const dirs: string[] = [];
const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0).reverse()) close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const NOW = 1_795_776_000;
const tokenOf = (i: number) => `00000000-0000-4000-8000-${i.toString().padStart(12, "0")}`;

function setUp(path?: string, maxChanges = 10_000): { db: Db; path: string; store: Store; publisher: ZonePublisher } {
  if (!path) {
    const dir = mkdtempSync(join(tmpdir(), "regsrv-reader-"));
    dirs.push(dir);
    path = join(dir, "registration.sqlite");
  }
  const db = openDatabase(path);
  closers.push(() => db.$client.close());
  const publisher = createZonePublisher({ db, policySerial: () => 100, maxChanges, fingerprint: "f", log: () => {}, pollMs: 0 });
  closers.push(() => publisher.close());
  return { db, path, store: createStore(db), publisher };
}

function snapshot(source: Parameters<typeof openZoneSnapshot>[0]): ZoneSnapshot {
  const snap = openZoneSnapshot(source);
  closers.push(() => snap.close());
  return snap;
}

const gw = (mode: number, lastIp = "", extra: Partial<GatewayRecord> = {}): GatewayRecord => ({
  mode,
  lastIp,
  lastIpv4: lastIp.includes(".") ? lastIp : "",
  lastIpv6: lastIp.includes(":") ? lastIp : "",
  dnsChallenge: "",
  token: "",
  ...extra,
});

const walk = (snap: ZoneSnapshot, pageSize?: number) => [...snap.gateways(pageSize)];

function add(store: Store, label: string, i: number, ip = "", mode = 0): void {
  store.insertDomain({ name: `${label}.example.test.`, token: tokenOf(i), description: "", mode, timestamp: NOW });
  if (ip) store.recordPing(tokenOf(i), NOW, ip);
}

describe("zone snapshot", () => {
  test("unpublished changes are not in it: rows are as the published serial had them, added ones absent, removed ones present", () => {
    const { store, path, publisher } = setUp();
    add(store, "alpha", 1, "192.0.2.1");
    add(store, "bravo", 2, "192.0.2.2", 1);
    add(store, "charlie", 3, "192.0.2.3");
    const published = publisher.publishNow()!;

    // written, not yet published
    store.deleteByToken(tokenOf(1));
    store.recordPing(tokenOf(2), NOW, "2001:db8::2");
    store.recordPing(tokenOf(2), NOW, "2001:db8::22");
    store.setDnsChallenge(tokenOf(3), "chal");
    add(store, "delta", 4, "192.0.2.4");
    add(store, "aardvark", 5);
    const before = snapshot({ path });
    expect(before.serial).toBe(published);
    expect(walk(before)).toEqual([
      ["alpha.example.test.", gw(0, "192.0.2.1")],
      ["bravo.example.test.", gw(1, "192.0.2.2")],
      ["charlie.example.test.", gw(0, "192.0.2.3")],
    ]);

    const next = publisher.publishNow()!;
    // the open snapshot still sees its serial's zone, also after the publish and more writes
    store.deleteByToken(tokenOf(3));
    expect(walk(before).map(([name]) => name)).toEqual(["alpha.example.test.", "bravo.example.test.", "charlie.example.test."]);
    const after = snapshot({ path });
    expect(after.serial).toBe(next);
    expect(walk(after)).toEqual([
      ["aardvark.example.test.", gw(0)],
      ["bravo.example.test.", gw(1, "2001:db8::22", { lastIpv4: "192.0.2.2" })],
      ["charlie.example.test.", gw(0, "192.0.2.3", { dnsChallenge: "chal" })],
      ["delta.example.test.", gw(0, "192.0.2.4")],
    ]);
  });

  test("paged walks (any page size) give every name once, in name order, with unpublished changes on and between page edges", () => {
    const { store, path, publisher } = setUp();
    for (let i = 0; i < 40; i++) add(store, `gw${i.toString().padStart(2, "0")}`, i, `198.51.100.${i}`);
    publisher.publishNow();
    const expected = walk(snapshot({ path }));
    expect(expected.length).toBe(40);
    // unpublished: every third removed, some moved, new names in between and after the last
    for (let i = 0; i < 40; i += 3) store.deleteByToken(tokenOf(i));
    for (let i = 1; i < 40; i += 4) store.recordPing(tokenOf(i), NOW, "203.0.113.1");
    for (let i = 0; i < 40; i += 5) add(store, `gw${i.toString().padStart(2, "0")}x`, 100 + i, "192.0.2.9");
    add(store, "zz", 200, "192.0.2.10");
    const snap = snapshot({ path });
    for (const pageSize of [1, 2, 3, 7, 39, 40, 41, 1000]) expect(walk(snap, pageSize)).toEqual(expected);
  });

  test("a walk reads page by page inside one read transaction: writes after its first page are not seen", () => {
    const { store, path, publisher, db } = setUp();
    for (let i = 0; i < 30; i++) add(store, `gw${i}`, i);
    publisher.publishNow();
    const snap = snapshot({ path });
    const walker = snap.gateways(10);
    walker.next();
    // a write on the writers' connection between pages
    db.$client.run("UPDATE domains SET mode = 1");
    expect([...walker].every(([, g]) => g.mode === 0)).toBe(true);
  });

  test("a snapshot over a :memory: database reads the writers' own connection", () => {
    const { db, store, publisher } = setUp(":memory:");
    add(store, "mem", 1, "192.0.2.1");
    publisher.publishNow();
    store.recordPing(tokenOf(1), NOW, "192.0.2.2"); // unpublished
    const snap = snapshot({ db });
    expect(snap.serial).toBe(publisher.serial());
    expect(walk(snap)).toEqual([["mem.example.test.", gw(0, "192.0.2.1")]]);
    snap.close();
    // the connection stays open for the writers
    expect(store.recordPing(tokenOf(1), NOW, "192.0.2.3")).toBe(true);
  });

  test("a { db } over a file opens a connection of its own; close() is idempotent and a closed snapshot refuses reads", () => {
    const { db, store, publisher } = setUp();
    add(store, "own", 1);
    publisher.publishNow();
    const snap = snapshot({ db });
    expect(walk(snap).length).toBe(1);
    snap.close();
    snap.close();
    expect(() => walk(snap)).toThrow(/closed/);
    expect(() => snap.changesetsSince(1)).toThrow(/closed/);
    expect(db.$client.query("SELECT count(*) AS n FROM domains").get()).toEqual({ n: 1 });
  });

  test("a database whose publisher never ran has no serial to give: a clear error", () => {
    const dir = mkdtempSync(join(tmpdir(), "regsrv-reader-"));
    dirs.push(dir);
    const path = join(dir, "registration.sqlite");
    openDatabase(path).$client.close();
    expect(() => openZoneSnapshot({ path })).toThrow(/no published serial yet/);
  });
});

describe("changesetsSince", () => {
  test("bridges any serial in the journal to the current one, oldest first, one change per name with its old and new state", () => {
    const { store, path, publisher } = setUp();
    const s0 = publisher.serial();
    add(store, "one", 1, "192.0.2.1");
    const s1 = publisher.publishNow()!;
    store.recordPing(tokenOf(1), NOW, "192.0.2.2");
    store.recordPing(tokenOf(1), NOW, "192.0.2.3");
    add(store, "two", 2, "", 1);
    const s2 = publisher.publishNow()!;
    store.deleteByToken(tokenOf(1));
    store.setDnsChallenge(tokenOf(2), "chal");
    const s3 = publisher.publishNow()!;
    const snap = snapshot({ path });
    expect(snap.serial).toBe(s3);

    expect(snap.changesetsSince(s3)).toEqual([]);
    expect(snap.changesetsSince(s2)).toEqual([
      {
        from: s2,
        to: s3,
        changes: [
          { name: "one.example.test.", old: gw(0, "192.0.2.3"), new: null },
          { name: "two.example.test.", old: gw(1), new: gw(1, "", { dnsChallenge: "chal" }) },
        ],
      },
    ]);
    const all = snap.changesetsSince(s0)!;
    expect(all.map(({ from, to }) => [from, to])).toEqual([
      [s0, s1],
      [s1, s2],
      [s2, s3],
    ]);
    expect(all[0].changes).toEqual([{ name: "one.example.test.", old: null, new: gw(0, "192.0.2.1") }]);
    expect(all[1].changes).toEqual([
      { name: "one.example.test.", old: gw(0, "192.0.2.1"), new: gw(0, "192.0.2.3") },
      { name: "two.example.test.", old: null, new: gw(1) },
    ]);
    // the bound: more changes than allowed in all is no answer (a full transfer instead)
    expect(snap.changesetsSince(s0, 5)!.length).toBe(3);
    expect(snap.changesetsSince(s0, 4)).toBeNull();
  });

  test("the walks use indexes: a changeset by the serial it follows, a changeset's changes, a name's unpublished changes", () => {
    const { db } = setUp();
    const plan = (query: string) => (db.$client.query(`EXPLAIN QUERY PLAN ${query}`).all() as { detail: string }[]).map((r) => r.detail).join("; ");
    expect(plan("SELECT serial FROM zone_changesets WHERE previous = 1")).toContain("INDEX zone_changesets_previous");
    expect(plan("SELECT name FROM zone_changes WHERE serial = 1 ORDER BY id")).toContain("INDEX zone_changes_serial");
    expect(plan("SELECT min(id) FROM zone_changes WHERE serial IS NULL AND name = 'a'")).toContain("zone_changes_unpublished");
    // a trigger's insert (serial NULL) adds no entry to the published changes' index (0006)
    expect(db.$client.query("SELECT sql FROM sqlite_master WHERE name = 'zone_changes_serial'").get()).toEqual({
      sql: 'CREATE INDEX `zone_changes_serial` ON `zone_changes` (`serial`) WHERE "zone_changes"."serial" IS NOT NULL',
    });
  });

  test("a serial the journal cannot bridge is null: unknown, newer than ours, trimmed away, before a reset, or not a serial", () => {
    const { store, path, publisher } = setUp(undefined, 2);
    const s0 = publisher.serial();
    add(store, "a", 1);
    const s1 = publisher.publishNow()!;
    add(store, "b", 2);
    const s2 = publisher.publishNow()!;
    add(store, "c", 3); // 3 > 2: the first changeset is trimmed
    const s3 = publisher.publishNow()!;
    let snap = snapshot({ path });
    expect(snap.changesetsSince(s1)!.map((c) => c.to)).toEqual([s2, s3]);
    expect(snap.changesetsSince(s0)).toBeNull(); // older than the journal
    expect(snap.changesetsSince(s3 + 1)).toBeNull(); // newer than ours
    expect(snap.changesetsSince(s0 - 50)).toBeNull(); // never ours
    for (const bad of [-1, 1.5, 2 ** 32, Number.NaN]) expect(snap.changesetsSince(bad)).toBeNull();
    snap.close();

    publisher.resetFor("other settings");
    snap = snapshot({ path });
    expect(snap.serial).toBe(s3 + 1);
    expect(snap.changesetsSince(s3 + 1)).toEqual([]);
    expect(snap.changesetsSince(s2)).toBeNull();
    expect(snap.changesetsSince(s3)).toBeNull();
  });
});

describe("snapshots and changesets agree", () => {
  test("for random writes from two connections, each serial's walk plus its changeset is the next serial's walk", () => {
    const { store, path, publisher } = setUp();
    const other = new Database(path);
    closers.push(() => other.close());
    other.run("PRAGMA busy_timeout = 2000");
    let seed = 11;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return (seed >>> 16) % n;
    };
    const walks = new Map<number, Map<string, GatewayRecord>>();
    const record = () => {
      const snap = snapshot({ path });
      walks.set(snap.serial, new Map(walk(snap, 1 + rand(5))));
      return snap;
    };
    const serials = [publisher.serial()];
    record();
    let snapshotsWithPending = 0;
    for (let round = 0; round < 40; round++) {
      for (let op = 0; op < 1 + rand(12); op++) {
        const i = rand(15);
        const label = `n${i}`;
        switch (rand(6)) {
          case 0:
            add(store, label, i, rand(2) ? `192.0.2.${rand(4)}` : "", rand(2));
            break;
          case 1:
            store.recordPing(tokenOf(i), NOW, rand(2) ? `192.0.2.${rand(4)}` : `2001:db8::${rand(4)}`);
            break;
          case 2:
            store.setDnsChallenge(tokenOf(i), rand(2) ? "" : `c${rand(3)}`);
            break;
          case 3:
            store.deleteByToken(tokenOf(i));
            break;
          case 4: // the other connection (the sweep's, the command line's)
            other.query("UPDATE domains SET mode = ? WHERE name = ?").run(rand(2), `${label}.example.test.`);
            break;
          default:
            other.query("DELETE FROM domains WHERE name = ?").run(`${label}.example.test.`);
        }
      }
      // a snapshot taken with changes still unpublished is the last serial's zone
      if (rand(2) === 0) {
        const early = record();
        expect(new Map(walk(early))).toEqual(walks.get(serials[serials.length - 1])!);
        snapshotsWithPending++;
      }
      const serial = publisher.publishNow();
      if (serial !== null) {
        serials.push(serial);
        record();
      }
    }
    expect(serials.length).toBeGreaterThan(25);
    expect(snapshotsWithPending).toBeGreaterThan(15);
    const last = snapshot({ path });
    for (let k = 0; k + 1 < serials.length; k++) {
      const [changeset] = last.changesetsSince(serials[k])!;
      expect([changeset.from, changeset.to]).toEqual([serials[k], serials[k + 1]]);
      const zone = new Map(walks.get(serials[k])!);
      for (const change of changeset.changes) {
        // IXFR's rule: what is removed was there, what is added replaces it
        if (change.old) expect(zone.get(change.name)).toEqual(change.old);
        else expect(zone.has(change.name)).toBe(false);
        if (change.new) zone.set(change.name, change.new);
        else zone.delete(change.name);
        expect(change.old).not.toEqual(change.new);
      }
      expect(zone).toEqual(walks.get(serials[k + 1])!);
    }
  });
});
