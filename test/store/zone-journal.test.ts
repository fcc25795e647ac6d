// The stored SOA serial and the change journal (docs/operations.md, "Storage"; docs/dns.md,
// "Zone transfers"): SQLite triggers note every DNS-visible change from any connection; the
// publisher turns a batch of them into one changeset under one new serial (RFC 1982), trims the
// journal, resets it when the zone's settings change, and finds other processes' writes by
// polling. All on real SQLite files.
import { afterEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DnsSettings } from "../../src/config.ts";
import { nextSerial, serialGreater } from "../../src/dns/serial.ts";
import { openDatabase, type Db } from "../../src/store/db.ts";
import { createStore } from "../../src/store/domains.ts";
import {
  createZonePublisher,
  serialPolicy,
  todaySerial,
  zoneFingerprint,
  type ZonePublisher,
  type ZonePublisherOptions,
} from "../../src/store/zone-journal.ts";
import { LEGACY, LEGACY_DB_FILE } from "../support/make-legacy-db.ts";
import { waitFor } from "../support/helpers.ts";
import { signingEpoch } from "../../src/dns/dnssec.ts";
import { testZone } from "../dns/client.ts";

const dirs: string[] = [];
const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0).reverse()) close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "regsrv-journal-"));
  dirs.push(dir);
  return join(dir, "registration.sqlite");
}

function openFile(path = tempPath()): { db: Db; path: string } {
  const db = openDatabase(path);
  closers.push(() => db.$client.close());
  return { db, path };
}

const NOW = 1_795_776_000;
const tokenOf = (i: number) => `00000000-0000-4000-8000-${i.toString().padStart(12, "0")}`;

function publisherOn(db: Db, options: Partial<ZonePublisherOptions> = {}): ZonePublisher & { published: number[]; logged: string[] } {
  const published: number[] = [];
  const logged: string[] = [];
  const publisher = createZonePublisher({
    db,
    policySerial: () => 2026112700,
    maxChanges: 10_000,
    fingerprint: "shape-1",
    log: (line) => logged.push(line),
    pollMs: 0,
    ...options,
    onPublish: (serial) => {
      published.push(serial);
      options.onPublish?.(serial);
    },
  });
  closers.push(() => publisher.close());
  return Object.assign(publisher, { published, logged });
}

const journal = (db: Db) =>
  db.$client.query("SELECT serial, name, old_mode, old_last_ip, new_mode, new_last_ip, new_dns_challenge FROM zone_changes ORDER BY id").all() as {
    serial: number | null;
    name: string;
    old_mode: number | null;
    old_last_ip: string | null;
    new_mode: number | null;
    new_last_ip: string | null;
    new_dns_challenge: string | null;
  }[];
const pending = (db: Db) => journal(db).filter((c) => c.serial === null);
const changesets = (db: Db) => db.$client.query("SELECT serial, previous FROM zone_changesets ORDER BY rowid").all() as { serial: number; previous: number }[];
const storedSerial = (db: Db) => (db.$client.query("SELECT serial FROM zone_state").get() as { serial: number }).serial;

function subscribe(store: ReturnType<typeof createStore>, label: string, i: number, mode = 0): string {
  const name = `${label}.example.test.`;
  if (!store.insertDomain({ name, token: tokenOf(i), description: "", mode, timestamp: NOW })) throw new Error("insert failed");
  return name;
}

describe("change journal triggers", () => {
  test("inserts, DNS-visible updates and deletes from two connections each add one unpublished change; other columns add none", () => {
    const { db, path } = openFile();
    const store = createStore(db);
    subscribe(store, "one", 1);
    store.recordPing(tokenOf(1), NOW + 1, "192.0.2.1");
    store.setDnsChallenge(tokenOf(1), "chal");
    // not DNS-visible: the description, the email columns, the last-seen time alone
    db.$client.run("UPDATE domains SET description = 'x', continent = 'EU', timestamp = timestamp + 5");
    store.setReclamationToken(1, tokenOf(99), NOW + 60);

    // the second connection (as the sweep's worker or the command line use)
    const other = new Database(path);
    closers.push(() => other.close());
    other.run("PRAGMA busy_timeout = 2000");
    other.run("UPDATE domains SET mode = 1 WHERE name = 'one.example.test.'");
    other.run("UPDATE domains SET mode = 1 WHERE name = 'one.example.test.'"); // the same again: nothing differs
    other.run("DELETE FROM domains WHERE name = 'one.example.test.'");

    expect(journal(db)).toEqual([
      { serial: null, name: "one.example.test.", old_mode: null, old_last_ip: null, new_mode: 0, new_last_ip: "", new_dns_challenge: "" },
      { serial: null, name: "one.example.test.", old_mode: 0, old_last_ip: "", new_mode: 0, new_last_ip: "192.0.2.1", new_dns_challenge: "" },
      { serial: null, name: "one.example.test.", old_mode: 0, old_last_ip: "192.0.2.1", new_mode: 0, new_last_ip: "192.0.2.1", new_dns_challenge: "chal" },
      { serial: null, name: "one.example.test.", old_mode: 0, old_last_ip: "192.0.2.1", new_mode: 1, new_last_ip: "192.0.2.1", new_dns_challenge: "chal" },
      { serial: null, name: "one.example.test.", old_mode: 1, old_last_ip: "192.0.2.1", new_mode: null, new_last_ip: null, new_dns_challenge: null },
    ]);
  });

  test("a ping from the address the row holds adds no change and tells no listener, yet moves the last-seen time and still says the token is known", async () => {
    const { db } = openFile();
    const store = createStore(db);
    const heard: string[] = [];
    store.onGatewayChange((name) => heard.push(name));
    const name = subscribe(store, "still", 1);
    heard.length = 0;
    expect(store.recordPing(tokenOf(1), NOW + 1, "192.0.2.1")).toBe(true);
    expect(heard).toEqual([name]);
    const before = journal(db).length;

    expect(store.recordPing(tokenOf(1), NOW + 2, "192.0.2.1")).toBe(true);
    expect(await store.recordPingGrouped(tokenOf(1), NOW + 3, "192.0.2.1")).toBe(true);
    // a dyndns2 update naming only the address it has, or only the family it has
    expect(await store.recordUpdate({ token: tokenOf(1), timestamp: NOW + 4, ip: "192.0.2.1", ipv4: "192.0.2.1", ipv6: null })).toBe(true);
    expect(journal(db).length).toBe(before);
    expect(heard).toEqual([name]);
    expect(store.findDomainByToken(tokenOf(1))!.timestamp).toBe(NOW + 4);

    // an address that moves: a change and a listener call, as before
    expect(await store.recordPingGrouped(tokenOf(1), NOW + 5, "2001:db8::1")).toBe(true);
    expect(await store.recordUpdate({ token: tokenOf(1), timestamp: NOW + 6, ip: "2001:db8::1", ipv4: "192.0.2.7", ipv6: null })).toBe(true);
    expect(journal(db).length).toBe(before + 2);
    expect(heard).toEqual([name, name, name]);
    const row = store.findDomainByToken(tokenOf(1))!;
    expect([row.lastIp, row.lastIpv4, row.lastIpv6, row.timestamp]).toEqual(["2001:db8::1", "192.0.2.7", "2001:db8::1", NOW + 6]);

    // an unknown token is still told apart
    expect(store.recordPing(tokenOf(2), NOW, "192.0.2.1")).toBe(false);
    expect(await store.recordPingGrouped(tokenOf(2), NOW, "192.0.2.1")).toBe(false);
  });
});

describe("serial arithmetic (RFC 1982)", () => {
  test("serialGreater compares modulo 2^32 and is false at exactly 2^31 apart", () => {
    expect(serialGreater(1, 0)).toBe(true);
    expect(serialGreater(0, 1)).toBe(false);
    expect(serialGreater(5, 5)).toBe(false);
    expect(serialGreater(0, 0xffffffff)).toBe(true); // wrapped
    expect(serialGreater(0xffffffff, 0)).toBe(false);
    expect(serialGreater(2 ** 31 - 1, 0)).toBe(true);
    expect(serialGreater(2 ** 31, 0)).toBe(false);
    expect(serialGreater(0, 2 ** 31)).toBe(false);
  });

  test("nextSerial takes the policy value when it is ahead, else last + 1, wraps past 2^32 - 1 and never jumps 2^31 or more", () => {
    expect(nextSerial(2026112605, 2026112700)).toBe(2026112700); // a new day
    expect(nextSerial(2026112700, 2026112700)).toBe(2026112701); // the same day
    expect(nextSerial(2026112799, 2026112700)).toBe(2026112800); // a busy day runs into the next day's numbers
    expect(nextSerial(2026112900, 2026112700)).toBe(2026112901); // a policy behind (the clock went back)
    expect(nextSerial(0xffffffff, 0)).toBe(0);
    expect(nextSerial(0xffffffff, 2026112700)).toBe(2026112700); // 2026112701 ahead in serial arithmetic
    expect(nextSerial(4_000_000_000, 5)).toBe(5); // ahead across the wrap
    expect(nextSerial(10, 10 + 2 ** 31 - 1)).toBe(10 + 2 ** 31 - 1); // the largest step RFC 1982 allows
    expect(nextSerial(10, 10 + 2 ** 31)).toBe(11);
    expect(nextSerial(2026112700, 1)).toBe(2026112701);
    for (const [last, policy] of [
      [0, 0],
      [0xffffffff, 7],
      [123, 2 ** 32 - 1],
      [2 ** 31, 0],
    ])
      expect(serialGreater(nextSerial(last, policy), last)).toBe(true);
  });

  test("the policy value is today's YYYYMMDD00 (UTC), or the configured serial when that is greater", () => {
    const day = new Date("2026-11-27T23:59:59Z");
    expect(todaySerial(day)).toBe(2026112700);
    expect(serialPolicy(1, day)).toBe(2026112700);
    expect(serialPolicy(2026112800, day)).toBe(2026112800);
  });
});

describe("zone publisher", () => {
  test("a database without a stored serial starts at the policy value; restarts keep it and then keep increasing, also on the same day", () => {
    const { db } = openFile();
    const store = createStore(db);
    const first = publisherOn(db);
    expect(first.serial()).toBe(2026112700);
    expect(storedSerial(db)).toBe(2026112700);
    first.close();

    const seen = [2026112700];
    for (let restart = 1; restart <= 3; restart++) {
      const again = publisherOn(db); // the same day: the same policy value
      expect(again.serial()).toBe(seen[seen.length - 1]); // nothing changed: the serial stays
      subscribe(store, `gw${restart}`, restart);
      const serial = again.publishNow()!;
      expect(serialGreater(serial, seen[seen.length - 1])).toBe(true);
      seen.push(serial);
      again.close();
    }
    expect(seen).toEqual([2026112700, 2026112701, 2026112702, 2026112703]);

    // a later day, and a policy that went back (an older configured serial, a clock set back)
    const nextDay = publisherOn(db, { policySerial: () => 2026112800 });
    store.recordPing(tokenOf(1), NOW, "192.0.2.1");
    expect(nextDay.publishNow()).toBe(2026112800);
    nextDay.close();
    const backwards = publisherOn(db, { policySerial: () => 2026010100 });
    expect(backwards.serial()).toBe(2026112800);
    store.recordPing(tokenOf(1), NOW, "192.0.2.2");
    expect(backwards.publishNow()).toBe(2026112801);
  });

  test("a stored serial at 2^32 - 1 wraps to a serial that is still greater", () => {
    const { db } = openFile();
    const store = createStore(db);
    publisherOn(db).close();
    db.$client.run("UPDATE zone_state SET serial = 4294967295");
    const publisher = publisherOn(db, { policySerial: () => 1 });
    expect(publisher.serial()).toBe(4294967295);
    subscribe(store, "wrap", 1);
    const serial = publisher.publishNow()!;
    expect(serial).toBe(1);
    expect(serialGreater(serial, 4294967295)).toBe(true);
    expect(changesets(db)).toEqual([{ serial: 1, previous: 4294967295 }]);
  });

  test("a write after a quiet spell is published at once; one within the batch window waits for the window", async () => {
    const { db } = openFile();
    const store = createStore(db);
    for (let i = 0; i < 3; i++) subscribe(store, `gw${i}`, i);
    // a window far longer than the test: only the first poke can be published within it
    const publisher = publisherOn(db, { batchMs: 600_000 });
    store.onGatewayChange(() => publisher.poke());
    const start = publisher.serial();
    expect(await store.recordPingGrouped(tokenOf(0), NOW + 1, "198.51.100.1")).toBe(true);
    await waitFor(() => publisher.published.length === 1, "the first change published without waiting for the window");
    expect(publisher.published).toEqual([start + 1]);
    expect(await store.recordPingGrouped(tokenOf(1), NOW + 1, "198.51.100.2")).toBe(true);
    await Bun.sleep(50);
    expect(publisher.published).toEqual([start + 1]); // the second waits for the window
    expect(publisher.publishNow()).toBe(start + 2);
    publisher.close();
  });

  test("100 writes in one turn, each poking it, are published as one changeset under one new serial", async () => {
    const { db } = openFile();
    const store = createStore(db);
    for (let i = 0; i < 100; i++) subscribe(store, `gw${i}`, i);
    const publisher = publisherOn(db, { batchMs: 10 });
    store.onGatewayChange(() => publisher.poke());
    const start = publisher.serial();
    // subscriptions were made before the publisher started: they are part of its first serial
    expect(pending(db)).toEqual([]);

    const published = new Promise<number>((resolve) => {
      const wait = setInterval(() => {
        if (publisher.published.length > 0) {
          clearInterval(wait);
          resolve(publisher.published[0]);
        }
      }, 5);
    });
    const pings = [];
    for (let i = 0; i < 100; i++) pings.push(store.recordPingGrouped(tokenOf(i), NOW + 1, `198.51.100.${i}`));
    expect(await Promise.all(pings)).toEqual(Array(100).fill(true));
    const serial = await published;
    expect(serial).toBe(start + 1);
    expect(publisher.published).toEqual([start + 1]);
    expect(changesets(db)).toEqual([{ serial: start + 1, previous: start }]);
    const stamped = journal(db);
    expect(stamped.length).toBe(100);
    expect(new Set(stamped.map((c) => c.serial))).toEqual(new Set([start + 1]));
    // in name order within the changeset
    expect(stamped.map((c) => c.name)).toEqual(stamped.map((c) => c.name).sort());
    expect(publisher.publishNow()).toBeNull();
    expect(publisher.serial()).toBe(start + 1);
  });

  test("a batch keeps one change per name (first old, last new); changes that cancel out are dropped without a bump", () => {
    const { db } = openFile();
    const store = createStore(db);
    subscribe(store, "kept", 1);
    const publisher = publisherOn(db);
    const start = publisher.serial();

    store.recordPing(tokenOf(1), NOW, "192.0.2.1");
    store.recordPing(tokenOf(1), NOW, "192.0.2.2");
    store.recordPing(tokenOf(1), NOW, "192.0.2.3");
    subscribe(store, "brief", 2);
    store.deleteByToken(tokenOf(2));
    expect(publisher.publishNow()).toBe(start + 1);
    expect(journal(db)).toEqual([
      { serial: start + 1, name: "kept.example.test.", old_mode: 0, old_last_ip: "", new_mode: 0, new_last_ip: "192.0.2.3", new_dns_challenge: "" },
    ]);

    // away and back again, and a name that came and went: nothing to publish
    store.recordPing(tokenOf(1), NOW, "192.0.2.9");
    store.recordPing(tokenOf(1), NOW, "192.0.2.3");
    subscribe(store, "brief", 3);
    store.deleteByToken(tokenOf(3));
    expect(pending(db).length).toBe(4);
    expect(publisher.publishNow()).toBeNull();
    expect(pending(db)).toEqual([]);
    expect(publisher.serial()).toBe(start + 1);
    expect(storedSerial(db)).toBe(start + 1);
    expect(publisher.published).toEqual([start + 1]);
  });

  test("a ping that moves only an address DNS does not answer is no change: tunnel mode with tunnel addresses, dual stack taking turns", () => {
    const { db } = openFile();
    const store = createStore(db);
    subscribe(store, "tun", 1, 0);
    subscribe(store, "dual", 2, 1);
    let tunnelAddresses = true;
    const publisher = publisherOn(db, { tunnelAddressesSet: () => tunnelAddresses });
    const start = publisher.serial();
    store.recordPing(tokenOf(2), NOW, "192.0.2.1");
    store.recordPing(tokenOf(2), NOW, "2001:db8::1");
    expect(publisher.publishNow()).toBe(start + 1); // dual gets its A and AAAA

    // tunnel mode answers the tunnel addresses: its last_ip is nobody's business
    store.recordPing(tokenOf(1), NOW, "198.51.100.1");
    // the dual-stack gateway pings over IPv4, then IPv6: last_ip moves, its A and AAAA do not
    store.recordPing(tokenOf(2), NOW, "192.0.2.1");
    store.recordPing(tokenOf(2), NOW, "2001:db8::1");
    expect(pending(db).length).toBeGreaterThan(0);
    expect(publisher.publishNow()).toBeNull();
    expect(pending(db)).toEqual([]);

    // without tunnel addresses the ping's address is the answer
    tunnelAddresses = false;
    store.recordPing(tokenOf(1), NOW, "198.51.100.2");
    expect(publisher.publishNow()).toBe(start + 2);
    // and a new IPv6 address of the dual-stack one is a change
    store.recordPing(tokenOf(2), NOW, "2001:db8::2");
    expect(publisher.publishNow()).toBe(start + 3);
    expect(publisher.published).toEqual([start + 1, start + 2, start + 3]);
  });

  test("the journal is trimmed to the newest changesets of at most maxChanges changes, whole changesets, oldest first", () => {
    const { db } = openFile();
    const store = createStore(db);
    let max = 5;
    const publisher = publisherOn(db, { maxChanges: () => max });
    const start = publisher.serial();
    let n = 0;
    const changeset = (size: number) => {
      for (let i = 0; i < size; i++, n++) subscribe(store, `gw${n}`, n);
      return publisher.publishNow()!;
    };
    changeset(2);
    changeset(2);
    expect(journal(db).length).toBe(4);
    const third = changeset(2); // 6 > 5: the oldest changeset goes
    expect(changesets(db)).toEqual([
      { serial: start + 2, previous: start + 1 },
      { serial: third, previous: start + 2 },
    ]);
    expect(journal(db).map((c) => c.name)).toEqual(["gw2.example.test.", "gw3.example.test.", "gw4.example.test.", "gw5.example.test."]);
    changeset(1); // 5: nothing goes
    expect(changesets(db).length).toBe(3);
    // a changeset larger than the whole journal: nothing is kept, not even itself
    changeset(6);
    expect(changesets(db)).toEqual([]);
    expect(journal(db)).toEqual([]);
    // a smaller setting takes effect at the next publish
    max = 1;
    changeset(1);
    expect(changesets(db).length).toBe(1);
    changeset(1);
    expect(changesets(db).length).toBe(1);
    expect(journal(db).length).toBe(1);
  });

  test("zoneFingerprint changes with what shapes the records and not with the SOA serial", () => {
    const zone: DnsSettings = {
      domain: "example.test",
      ttl: 86400,
      gatewayTtl: 60,
      soa: { mname: "ns1.example.test.", rname: "hostmaster.example.test.", serial: 1, refresh: 900, retry: 900, expire: 1209600, minimum: 60 },
      nameservers: [["ns1.example.test.", "192.0.2.53"]],
      tunnelAddresses: [],
      wwwAddresses: [],
      caa: [],
      mx: [],
      txt: [],
      cname: [],
      rrl: { rate: 100, slip: 2 },
      tsigKeys: [],
      transferAcl: [],
      notify: [],
      journalMaxChanges: 10_000,
      pagekiteAddress: "",
    };
    const base = zoneFingerprint(zone);
    expect(zoneFingerprint({ ...zone, soa: { ...zone.soa, serial: 2026112799 } })).toBe(base);
    expect(zoneFingerprint({ ...zone, rrl: { rate: 0, slip: 0 } })).toBe(base); // answers' rate, not records
    for (const changed of [
      { tunnelAddresses: ["192.0.2.80"] },
      { caa: [[0, "issue", "letsencrypt.org"]] },
      { txt: [["*", "v=spf1 -all"]] },
      { gatewayTtl: 30 },
      { soa: { ...zone.soa, minimum: 300 } },
      { nameservers: [["ns1.example.test.", "192.0.2.54"]] },
      { pagekiteAddress: "192.0.2.99" },
    ])
      expect(zoneFingerprint({ ...zone, ...changed } as DnsSettings)).not.toBe(base);
  });

  test("dns.dnssec on: the fingerprint holds the signing week (secondaries get each week's signatures); off, it is as before DNSSEC", () => {
    const zone = testZone();
    const base = zoneFingerprint(zone);
    // the hash before dns.dnssec existed, whatever the time
    expect(zoneFingerprint({ ...zone, dnssec: false }, 0)).toBe(base);
    expect(zoneFingerprint({ ...zone, dnssec: false }, 1e9)).toBe(base);
    const signed = { ...zone, dnssec: true };
    const monday = 1_795_996_800; // any time: the signing week is what moves
    const week = zoneFingerprint(signed, monday);
    expect(week).not.toBe(base);
    // the same all through one signing week, another in the next
    const epoch = signingEpoch(monday);
    let sameWeek = 0;
    for (let t = monday - 7 * 86400; t <= monday + 7 * 86400; t += 3600) {
      if (signingEpoch(t) === epoch) {
        expect(zoneFingerprint(signed, t)).toBe(week);
        sameWeek++;
      } else expect(zoneFingerprint(signed, t)).not.toBe(week);
    }
    expect(sameWeek).toBe(7 * 24);
  });

  test("dns.dnssec on: each rollover step (the DNSKEY RRset's key tags, signer first) moves the fingerprint; off, keys change nothing", () => {
    const zone = testZone();
    const signed = { ...zone, dnssec: true };
    const at = 1_795_996_800;
    const steps = ["1111", "1111,2222", "2222,1111", "2222"].map((keys) => zoneFingerprint(signed, at, keys));
    expect(new Set(steps).size).toBe(4);
    expect(zoneFingerprint(signed, at, "1111")).toBe(steps[0]);
    expect(zoneFingerprint(zone, at, "1111,2222")).toBe(zoneFingerprint(zone));
  });

  test("a new signing week: resetFor moves the serial once, and not again within the week", () => {
    const { db } = openFile();
    const signed = { ...testZone(), dnssec: true };
    const t0 = 1_795_996_800;
    const publisher = createZonePublisher({
      db,
      policySerial: () => 100,
      maxChanges: 10_000,
      fingerprint: zoneFingerprint(signed, t0),
      log: () => {},
      pollMs: 0,
    });
    const start = publisher.serial();
    expect(publisher.resetFor(zoneFingerprint(signed, t0 + 3600))).toBe(signingEpoch(t0 + 3600) !== signingEpoch(t0));
    const next = t0 + 7 * 86400 + 2 * 3600;
    expect(signingEpoch(next)).not.toBe(signingEpoch(t0));
    const moved = publisher.serial();
    expect(publisher.resetFor(zoneFingerprint(signed, next))).toBe(true);
    expect(publisher.serial()).not.toBe(moved);
    expect(publisher.resetFor(zoneFingerprint(signed, next + 3600))).toBe(false);
    expect(publisher.serial()).not.toBe(start);
    publisher.close();
  });

  test("settings of another shape than the stored fingerprint: one bump and an empty journal, at start-up and on resetFor", () => {
    const { db } = openFile();
    const store = createStore(db);
    const first = publisherOn(db);
    const start = first.serial();
    subscribe(store, "a", 1);
    first.publishNow();
    subscribe(store, "b", 2); // gathered, not yet published
    first.close();
    expect(journal(db).length).toBe(2);

    const reshaped = publisherOn(db, { fingerprint: "shape-2" });
    expect(reshaped.serial()).toBe(start + 2);
    expect(journal(db)).toEqual([]);
    expect(changesets(db)).toEqual([]);
    expect(db.$client.query("SELECT fingerprint FROM zone_state").get()).toEqual({ fingerprint: "shape-2" });
    expect(reshaped.logged).toEqual([`dns: the zone's settings changed since the last run: serial ${start + 2}, secondaries take a full transfer`]);

    // the same shape again: nothing
    expect(reshaped.resetFor("shape-2")).toBe(false);
    expect(reshaped.published).toEqual([]);
    subscribe(store, "c", 3);
    reshaped.publishNow();
    expect(changesets(db).length).toBe(1);
    // a reload of another shape
    expect(reshaped.resetFor("shape-3")).toBe(true);
    expect(reshaped.published).toEqual([start + 3, start + 4]);
    expect(reshaped.serial()).toBe(start + 4);
    expect(journal(db)).toEqual([]);
    expect(changesets(db)).toEqual([]);
    // a restart with that shape: no bump
    reshaped.close();
    expect(publisherOn(db, { fingerprint: "shape-3" }).serial()).toBe(start + 4);
  });

  test("a reset that finds the file locked throws, and is done by the next publish once the lock is gone", () => {
    const { db, path } = openFile();
    const publisher = publisherOn(db);
    const start = publisher.serial();
    const other = new Database(path);
    closers.push(() => other.close());
    db.$client.run("PRAGMA busy_timeout = 0");
    other.run("BEGIN IMMEDIATE");
    expect(() => publisher.resetFor("shape-2")).toThrow(/locked/);
    expect(publisher.serial()).toBe(start);
    other.run("COMMIT");
    expect(publisher.publishNow()).toBe(start + 1);
    expect(publisher.published).toEqual([start + 1]);
    expect(db.$client.query("SELECT fingerprint FROM zone_state").get()).toEqual({ fingerprint: "shape-2" });
  });

  test("changes written while no publisher ran (the command line, between restarts) are published right after it starts", async () => {
    const { db } = openFile();
    const store = createStore(db);
    const first = publisherOn(db);
    const start = first.serial();
    first.close();
    subscribe(store, "offline", 1);
    const second = publisherOn(db, { batchMs: 1 }); // no poll, no poke
    expect(second.serial()).toBe(start);
    for (let i = 0; i < 500 && second.published.length === 0; i++) await Bun.sleep(10);
    expect(second.published).toEqual([start + 1]);
  });

  test("a poke with nothing gathered takes no write lock: it passes while another connection holds it", () => {
    const { db, path } = openFile();
    const publisher = publisherOn(db);
    const other = new Database(path);
    closers.push(() => other.close());
    db.$client.run("PRAGMA busy_timeout = 0");
    other.run("BEGIN IMMEDIATE");
    expect(publisher.publishNow()).toBeNull();
    expect(publisher.resetFor("shape-1")).toBe(false);
    other.run("COMMIT");
  });

  test("writes of another process (the command line) are found by the poll and published", async () => {
    const { db, path } = openFile();
    const publisher = publisherOn(db, { pollMs: 20 });
    const start = publisher.serial();
    const script = `
      import { openDatabase } from ${JSON.stringify(join(import.meta.dir, "..", "..", "src", "store", "db.ts"))};
      import { createStore } from ${JSON.stringify(join(import.meta.dir, "..", "..", "src", "store", "domains.ts"))};
      const db = openDatabase(${JSON.stringify(path)}, { check: false });
      createStore(db).insertDomain({ name: "cli.example.test.", token: "${tokenOf(7)}", description: "", mode: 0, timestamp: ${NOW} });
      db.$client.close();`;
    const child = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    expect(await child.exited).toBe(0);
    for (let i = 0; i < 500 && publisher.published.length === 0; i++) await Bun.sleep(10);
    expect(publisher.published).toEqual([start + 1]);
    expect(journal(db).map((c) => [c.serial, c.name])).toEqual([[start + 1, "cli.example.test."]]);
  });

  test("a publish that fails (the file locked) is reported once and retried by the poll", async () => {
    const { db, path } = openFile();
    const store = createStore(db);
    const publisher = publisherOn(db, { pollMs: 20, batchMs: 1 });
    store.onGatewayChange(() => publisher.poke());
    const start = publisher.serial();
    db.$client.run("PRAGMA busy_timeout = 0");
    subscribe(store, "late", 1);
    const other = new Database(path);
    closers.push(() => other.close());
    other.run("BEGIN IMMEDIATE");
    for (let i = 0; i < 500 && publisher.logged.length === 0; i++) await Bun.sleep(10);
    expect(publisher.logged.length).toBe(1);
    expect(publisher.logged[0]).toStartWith(`dns: cannot publish the zone's changes (serial stays ${start}; retried each second): `);
    other.run("COMMIT");
    for (let i = 0; i < 500 && publisher.published.length === 0; i++) await Bun.sleep(10);
    expect(publisher.published).toEqual([start + 1]);
    expect(publisher.logged.length).toBe(1);
  });
});

describe("the journal on a Rust server's database", () => {
  test("the adopted file gets the journal tables and triggers: its rows are the first serial, and a ping of a Rust-era row is a change", () => {
    const dir = mkdtempSync(join(tmpdir(), "regsrv-journal-"));
    dirs.push(dir);
    const path = join(dir, "domains.sqlite");
    copyFileSync(LEGACY_DB_FILE, path);
    const { db } = openFile(path);
    const triggers = (db.$client.query("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
    expect(triggers).toEqual(["zone_changes_after_delete", "zone_changes_after_insert", "zone_changes_after_rename", "zone_changes_after_update"]);
    // adoption itself rewrote rows (timestamps, pending emails): not DNS-visible, nothing noted
    expect(journal(db)).toEqual([]);
    const store = createStore(db);
    const publisher = publisherOn(db);
    expect(store.recordPing(LEGACY.anonymous.token, NOW, "192.0.2.77")).toBe(true);
    expect(store.setDnsChallenge(LEGACY.verified.token, LEGACY.verified.dns_challenge)).toBe(LEGACY.verified.name); // the same value: no change
    expect(publisher.publishNow()).toBe(publisher.serial());
    expect(journal(db).map((c) => [c.name, c.old_last_ip, c.new_last_ip])).toEqual([[LEGACY.anonymous.name, "", "192.0.2.77"]]);
  });
});
