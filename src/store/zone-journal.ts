// The zone's SOA serial and its change journal (docs/operations.md, "Storage"): SQLite triggers (drizzle/0005) note
// every DNS-visible change of a domains row in zone_changes, unpublished; the publisher here
// turns what has gathered into one changeset under one new serial, so a burst of writes costs
// secondaries one serial and one IXFR, and tells whoever listens (the DNS thread's SOA, NOTIFY).
import type { Database } from "bun:sqlite";
import { createHash } from "node:crypto";
import type { DnsSettings } from "../config.ts";
import { signingEpoch } from "../dns/dnssec.ts";
import type { Db } from "./db.ts";
import { MODE } from "../gateway-data.ts";
import { nextSerial, SERIAL_SPACE } from "../dns/serial.ts";

/** dns.journal_max_changes' default: changes kept for IXFR (Knot keeps 20 changesets, NSD 5). */
export const DEFAULT_JOURNAL_MAX_CHANGES = 10_000;

/** YYYYMMDD00 of a day (UTC): the serial a zone without a stored one starts from. */
export function todaySerial(now = new Date()): number {
  return Number(now.toISOString().slice(0, 10).replace(/-/g, "")) * 100;
}

/** The policy value: today's YYYYMMDD00, or the configured dns.soa serial when that is greater. */
export function serialPolicy(configured: number, now = new Date()): number {
  return Math.max(todaySerial(now), configured);
}

/**
 * A hash of everything in the zone settings that shapes the transferred records, except the
 * SOA serial: when it differs from the stored one, every gateway's records may read otherwise
 * (tunnel addresses, CAA, `*` records), which the journal did not record, so the serial moves
 * and the journal starts afresh (secondaries take a full transfer).
 *
 * With dns.dnssec on, the transfer carries signatures (dns/presigned.ts) that roll each week:
 * the week (signingEpoch at `nowSeconds`) is part of the shape, so checked again through the
 * week (serve.ts) the serial moves once a week and secondaries take the new signatures long
 * before theirs expire. `dnssecKeys` (the key tags of the DNSKEY RRset, in order, the signing
 * key first) is part of it too: each rollover step changes the RRset or its signer, so the
 * serial moves. Off, the hash is what it was before DNSSEC existed.
 */
export function zoneFingerprint(dns: DnsSettings, nowSeconds = Date.now() / 1000, dnssecKeys = ""): string {
  const { soa, ...rest } = dns;
  const shape = [
    rest.domain,
    rest.ttl,
    rest.gatewayTtl,
    [soa.mname, soa.rname, soa.refresh, soa.retry, soa.expire, soa.minimum],
    rest.nameservers,
    rest.tunnelAddresses,
    rest.wwwAddresses,
    rest.caa,
    rest.mx,
    rest.txt,
    rest.cname,
    // dns.pagekite_address (the glue of the delegated PageKite tree)
    (dns as DnsSettings & { pagekiteAddress?: string }).pagekiteAddress ?? "",
    ...(dns.dnssec ? [{ dnssecWeek: signingEpoch(nowSeconds) }] : []),
    ...(dns.dnssec && dnssecKeys ? [{ dnssecKeys }] : []),
  ];
  return createHash("sha256").update(JSON.stringify(shape)).digest("hex");
}

export interface ZonePublisherOptions {
  /** the server's read-write connection */
  db: Db;
  /** the policy value for the next serial (serialPolicy(settings.dns.soa.serial)) */
  policySerial: () => number;
  /** dns.journal_max_changes: the journal keeps the newest changesets of at most this many changes in all */
  maxChanges: number | (() => number);
  /** zoneFingerprint() of the running settings */
  fingerprint: string;
  log: (line: string) => void;
  /** after every new serial (a batch published, or a reset): the DNS thread's SOA, NOTIFY */
  onPublish?: (serial: number) => void;
  /**
   * Whether dns.tunnel_addresses is set: then a tunnel-mode name answers them, whatever its
   * last_ip, so a ping that moves only that is no change to publish (the fingerprint covers
   * the setting itself).
   */
  tunnelAddressesSet?: () => boolean;
  /**
   * Batches are at least this far apart (ms): a poke after a quiet spell publishes at once
   * (next turn of the event loop), one within batchMs of the last publish waits for the rest
   * of that window and takes in every write made meanwhile.
   */
  batchMs?: number;
  /** how often to look for changes written by other processes, the command line (ms; 0 = never) */
  pollMs?: number;
  /** Unix seconds: changesets' `created` */
  now?: () => number;
}

export interface ZonePublisher {
  /** the current published serial */
  serial(): number;
  /** Some write happened: what has gathered is published within batchMs (at once after a quiet spell), in one batch. */
  poke(): void;
  /** Publishes what has gathered now: the new serial, or null when nothing DNS-visible changed. */
  publishNow(): number | null;
  /**
   * The settings that shape the zone changed: unless `fingerprint` is the stored one, a new
   * serial and an empty journal (what had gathered is part of the new serial). True when it
   * reset; throws when it cannot write, and is then tried again with each poll.
   */
  resetFor(fingerprint: string): boolean;
  /** Stops the timers; publishes nothing more. */
  close(): void;
}

const DEFAULT_BATCH_MS = 10;
const DEFAULT_POLL_MS = 1000;
/** A publish that fails (a lock held too long, a refused write) is reported at most this often. */
const FAILURE_REPORT_MS = 60_000;

const STATE_COLUMNS = ["mode", "last_ip", "last_ipv4", "last_ipv6", "dns_challenge"];
const OLD = STATE_COLUMNS.map((c) => `old_${c}`);
const NEW = STATE_COLUMNS.map((c) => `new_${c}`);

/**
 * Reads or creates the stored serial (a database without one starts at the policy value); a
 * stored fingerprint that differs from `fingerprint` moves the serial once and empties the
 * journal. Changes gathered before it started (the command line's, while no server ran) are
 * published a batch interval after it.
 */
/**
 * SQL: whether a name's state before its first unpublished change (f.old_*) and after its last
 * (l.new_*) give the same records, so there is nothing to publish. Tunnel mode answers last_ip
 * only without tunnel addresses (parameter 2: 1 when they are set); dynamic-DNS mode answers
 * last_ipv4 and last_ipv6, never last_ip (a dual-stack gateway pinging over IPv4 and IPv6 in
 * turn moves only last_ip). Mode and challenge always count; NULL mode = no row.
 */
const ANSWERED_ALIKE = `f.old_mode IS l.new_mode AND f.old_dns_challenge IS l.new_dns_challenge AND (
  CASE f.old_mode
    WHEN ${MODE.tunnel} THEN ?2 OR f.old_last_ip IS l.new_last_ip
    WHEN ${MODE.dynamicDns} THEN f.old_last_ipv4 IS l.new_last_ipv4 AND f.old_last_ipv6 IS l.new_last_ipv6
    ELSE 1 END)`;

export function createZonePublisher(options: ZonePublisherOptions): ZonePublisher {
  const sqlite: Database = options.db.$client;
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const maxChanges = typeof options.maxChanges === "function" ? options.maxChanges : () => options.maxChanges as number;
  const batchMs = options.batchMs ?? DEFAULT_BATCH_MS;
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;

  const readState = sqlite.query<{ serial: number; fingerprint: string }, []>("SELECT serial, fingerprint FROM zone_state WHERE id = 1");
  const createState = sqlite.query<unknown, [number, string]>("INSERT INTO zone_state (id, serial, fingerprint) VALUES (1, ?, ?)");
  const writeState = sqlite.query<unknown, [number, string]>("UPDATE zone_state SET serial = ?, fingerprint = ? WHERE id = 1");
  const anyPending = sqlite.query<{ one: number }, []>("SELECT 1 AS one FROM zone_changes WHERE serial IS NULL LIMIT 1");
  const clearSerial = sqlite.query<unknown, [number]>("DELETE FROM zone_changes WHERE serial = ?");
  const clearChangeset = sqlite.query<unknown, [number]>("DELETE FROM zone_changesets WHERE serial = ?");
  // Per name, the state before its first unpublished change and after its last; a name whose
  // changes cancel out (added and removed, pinged away and back) is left out.
  const stamp = sqlite.query<unknown, [number, number]>(
    `INSERT INTO zone_changes (serial, name, ${OLD.join(", ")}, ${NEW.join(", ")})
     SELECT ?, g.name, ${OLD.map((c) => `f.${c}`).join(", ")}, ${NEW.map((c) => `l.${c}`).join(", ")}
     FROM (SELECT name, min(id) AS first, max(id) AS last FROM zone_changes WHERE serial IS NULL GROUP BY name) AS g
     JOIN zone_changes AS f ON f.id = g.first
     JOIN zone_changes AS l ON l.id = g.last
     WHERE NOT (${ANSWERED_ALIKE})
     ORDER BY g.name`,
  );
  const dropPending = sqlite.query<unknown, []>("DELETE FROM zone_changes WHERE serial IS NULL");
  const addChangeset = sqlite.query<unknown, [number, number, number]>("INSERT INTO zone_changesets (serial, previous, created) VALUES (?, ?, ?)");
  const countJournal = sqlite.query<{ n: number }, []>("SELECT count(*) AS n FROM zone_changes WHERE serial IS NOT NULL");
  // The newest change that must go, and the last change of its changeset: whole changesets go.
  const firstToGo = sqlite.query<{ serial: number }, [number]>("SELECT serial FROM zone_changes WHERE serial IS NOT NULL ORDER BY id DESC LIMIT 1 OFFSET ?");
  const lastOfChangeset = sqlite.query<{ id: number }, [number]>("SELECT max(id) AS id FROM zone_changes WHERE serial = ?");
  const dropUpTo = sqlite.query<unknown, [number]>("DELETE FROM zone_changes WHERE serial IS NOT NULL AND id <= ?");
  const dropEmptyChangesets = sqlite.query<unknown, []>(
    "DELETE FROM zone_changesets WHERE serial NOT IN (SELECT serial FROM zone_changes WHERE serial IS NOT NULL)",
  );
  const emptyJournal = () => {
    sqlite.run("DELETE FROM zone_changes");
    sqlite.run("DELETE FROM zone_changesets");
  };

  /** The whole journal moves to a new serial: nothing before it can be sent as a difference. */
  const reset = (last: number, fingerprint: string): number => {
    const next = nextSerial(last, options.policySerial());
    emptyJournal();
    writeState.run(next, fingerprint);
    return next;
  };

  let current = 0;
  /** the fingerprint stored with the serial, and the one the running settings have */
  let stored = options.fingerprint;
  let wanted = options.fingerprint;
  let resetAtStart = false;
  sqlite
    .transaction(() => {
      const state = readState.get();
      if (!state) {
        // The zone as it is now is the first serial: what was noted before is part of it.
        current = options.policySerial() % SERIAL_SPACE;
        emptyJournal();
        createState.run(current, options.fingerprint);
      } else if (state.fingerprint !== options.fingerprint) {
        current = reset(state.serial, options.fingerprint);
        resetAtStart = true;
      } else current = state.serial;
    })
    .immediate();
  if (resetAtStart) options.log(`dns: the zone's settings changed since the last run: serial ${current}, secondaries take a full transfer`);

  let failedAt = 0;
  let failures = 0;
  const reportFailure = (e: unknown) => {
    failures++;
    const at = Date.now();
    if (at - failedAt < FAILURE_REPORT_MS) return;
    options.log(
      `dns: cannot publish the zone's changes (serial stays ${current}; retried each second): ${(e as Error).message}${failures > 1 ? ` (${failures} failures)` : ""}`,
    );
    failedAt = at;
    failures = 0;
  };

  const published = (serial: number) => {
    current = serial;
    try {
      options.onPublish?.(serial);
    } catch (e) {
      options.log(`dns: after publishing serial ${serial}: ${(e as Error).message}`);
    }
  };

  const trim = () => {
    const max = Math.max(0, maxChanges());
    if (countJournal.get()!.n <= max) return;
    const going = firstToGo.get(max);
    if (!going) return;
    dropUpTo.run(lastOfChangeset.get(going.serial)!.id);
    dropEmptyChangesets.run();
  };

  const publishNow = (): number | null => {
    // Nothing to do needs no write lock (a sweep that removed nothing pokes too).
    if (wanted === stored && !anyPending.get()) return null;
    const fingerprint = wanted;
    const serial = sqlite
      .transaction((): number | null => {
        const state = readState.get()!;
        // A reset asked for that could not be written then (the file locked): it comes first, and covers what has gathered.
        if (state.fingerprint !== fingerprint) return reset(state.serial, fingerprint);
        if (!anyPending.get()) return null;
        const last = state.serial;
        const next = nextSerial(last, options.policySerial());
        // A changeset left under this number from a serial space gone round: not this one's.
        clearSerial.run(next);
        clearChangeset.run(next);
        const stamped = stamp.run(next, options.tunnelAddressesSet?.() ? 1 : 0).changes;
        dropPending.run();
        if (stamped === 0) return null;
        addChangeset.run(next, last, now());
        writeState.run(next, state.fingerprint);
        trim();
        return next;
      })
      .immediate();
    stored = fingerprint;
    if (serial !== null) published(serial);
    return serial;
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  /** when the last batch was published (performance.now()) */
  let lastBatchAt = Number.NEGATIVE_INFINITY;
  const publishSoon = () => {
    timer = undefined;
    if (closed) return;
    lastBatchAt = performance.now();
    try {
      publishNow();
    } catch (e) {
      reportFailure(e);
    }
  };
  const poke = () => {
    if (closed || timer !== undefined) return;
    // A change after a quiet spell reaches the secondaries ~10 ms sooner; a burst is still
    // one serial per window (Knot: at most one change a second fits unixtime serials).
    timer = setTimeout(publishSoon, Math.max(0, lastBatchAt + batchMs - performance.now()));
    timer.unref?.();
  };
  const poll =
    pollMs > 0
      ? setInterval(() => {
          try {
            if (wanted !== stored || anyPending.get()) poke();
          } catch (e) {
            reportFailure(e);
          }
        }, pollMs)
      : undefined;
  poll?.unref?.();
  // Written while no server ran (the command line), or since the last publish before a restart.
  if (anyPending.get()) poke();

  return {
    serial: () => current,
    poke,
    publishNow,
    resetFor(fingerprint) {
      wanted = fingerprint;
      if (wanted === stored) return false;
      // Throws when it cannot write; then the poll tries again each second.
      return publishNow() !== null;
    },
    close() {
      closed = true;
      clearTimeout(timer);
      timer = undefined;
      clearInterval(poll);
    },
  };
}
