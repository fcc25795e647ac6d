// The zone as of its published serial, for transfers (AXFR walks it, IXFR reads the journal):
// a read transaction on a connection of its own, so a transfer that streams for seconds sees
// one consistent state while writes go on, and never holds up DNS's lookup connection.
import { Database } from "bun:sqlite";
import type { GatewayRecord } from "../gateway-data.ts";
import type { Db } from "./db.ts";

/** One name's change in a changeset: its state before and after (null: the name did not exist). */
export interface ZoneChange {
  /** full name with its trailing dot */
  name: string;
  old: GatewayRecord | null;
  new: GatewayRecord | null;
}

/** The zone went from serial `from` to `to` by `changes` (at most one per name, in name order). */
export interface Changeset {
  from: number;
  to: number;
  changes: ZoneChange[];
}

export interface ZoneSnapshot {
  /** the published serial this snapshot is the zone at */
  readonly serial: number;
  /**
   * Every gateway row as of `serial`, in name order, read `pageSize` rows at a time (never all
   * in memory). `token` is "" (not transferred). `order` "canonical": in the DNSSEC canonical
   * order of one-label names (RFC 4034 6.1: a label before every longer label it begins, "a"
   * before "a-b"), which is the order of the name with each '.' as char(1).
   */
  gateways(pageSize?: number, order?: GatewayOrder): Generator<[name: string, gateway: GatewayRecord]>;
  /**
   * The changesets from `serial` to the snapshot's serial, oldest first: [] when `serial` is
   * the current one; null when the journal cannot bridge it (unknown, older than the journal,
   * newer than ours) or when it would take more than `maxChanges` changes in all.
   */
  changesetsSince(serial: number, maxChanges?: number): Changeset[] | null;
  /** Ends the read transaction and closes the connection it opened; idempotent. */
  close(): void;
}

export type GatewayOrder = "name" | "canonical";

const DEFAULT_PAGE_SIZE = 1000;
/**
 * The canonical walk's key, written exactly as the domains_canonical_name index
 * (drizzle/0008_domains_canonical_order.sql) so that SQLite pages on the index.
 */
const CANONICAL_KEY = "replace(name, '.', char(1))";
/** The same key in JS, to merge the pending changes into the rows (names are ASCII: SQLite's octet order is JS's). */
const canonicalKey = (name: string) => name.replaceAll(".", "\x01");
/** Like the DNS lookups' connection: a WAL reader waits for no writer, only a WAL reset or recovery. */
const READ_LOCK_WAIT_MS = 100;

type StateRow = [mode: number | null, lastIp: string | null, lastIpv4: string | null, lastIpv6: string | null, dnsChallenge: string | null];

function record([mode, lastIp, lastIpv4, lastIpv6, dnsChallenge]: StateRow): GatewayRecord | null {
  if (mode === null) return null;
  return { mode, lastIp: lastIp ?? "", lastIpv4: lastIpv4 ?? "", lastIpv6: lastIpv6 ?? "", dnsChallenge: dnsChallenge ?? "", token: "" };
}

/**
 * Opens a snapshot of the zone at its published serial. `{ path }` (or a `{ db }` over a file)
 * opens a read-only connection of its own and holds a read transaction until close(). A `{ db }`
 * over :memory: (tests) is read as is, without a transaction: another connection could not see
 * it, and a transaction on the writers' own connection would take their writes in.
 */
export function openZoneSnapshot(source: { path: string } | { db: Db }): ZoneSnapshot {
  const path = "path" in source ? source.path : source.db.$client.filename;
  const own = path !== ":memory:" && path !== "";
  const sqlite = own ? new Database(path, { readonly: true, strict: true }) : (source as { db: Db }).db.$client;
  let open = true;
  try {
    if (own) {
      sqlite.run(`PRAGMA busy_timeout = ${READ_LOCK_WAIT_MS}`);
      sqlite.run("BEGIN");
    }
    // The first read fixes the transaction's view: the serial and the rows below belong together.
    const state = sqlite.query<{ serial: number }, []>("SELECT serial FROM zone_state WHERE id = 1").get();
    if (!state) throw new Error("the zone has no published serial yet (zone_state is empty: the server's publisher creates it)");
    const serial = state.serial;

    // One set of statements per order; the key is the column itself, or the indexed expression.
    const statements = (key: string) => {
      const zKey = key.replace("name", "z.name");
      const rowsAfter = sqlite.query<[string, ...StateRow], [string, number]>(
        `SELECT name, mode, last_ip, last_ipv4, last_ipv6, dns_challenge FROM domains WHERE ${key} > ? ORDER BY ${key} LIMIT ?`,
      );
      // A row with unpublished changes is as its first unpublished change found it.
      const firstPending = `SELECT z.name, z.old_mode, z.old_last_ip, z.old_last_ipv4, z.old_last_ipv6, z.old_dns_challenge FROM zone_changes AS z
         WHERE z.serial IS NULL AND ${zKey} > ?1 AND %UPPER%
           AND z.id = (SELECT min(id) FROM zone_changes WHERE serial IS NULL AND name = z.name)
         ORDER BY ${zKey}`;
      const pendingIn = sqlite.query<[string, ...StateRow], [string, string]>(firstPending.replace("%UPPER%", `${zKey} <= ?2`));
      const pendingAfter = sqlite.query<[string, ...StateRow], [string]>(firstPending.replace("%UPPER%", "1"));
      return { rowsAfter, pendingIn, pendingAfter };
    };
    const byOrder: Record<GatewayOrder, ReturnType<typeof statements> | null> = { name: statements("name"), canonical: null };
    const keyOf: Record<GatewayOrder, (name: string) => string> = { name: (name) => name, canonical: canonicalKey };
    const changesetFrom = sqlite.query<{ serial: number }, [number]>("SELECT serial FROM zone_changesets WHERE previous = ? LIMIT 1");
    const changesets = sqlite.query<{ n: number }, []>("SELECT count(*) AS n FROM zone_changesets");
    const changeCount = sqlite.query<{ n: number }, [number]>("SELECT count(*) AS n FROM zone_changes WHERE serial = ?");
    const changesOf = sqlite.query<[string, ...StateRow, ...StateRow], [number]>(
      `SELECT name, old_mode, old_last_ip, old_last_ipv4, old_last_ipv6, old_dns_challenge,
              new_mode, new_last_ip, new_last_ipv4, new_last_ipv6, new_dns_challenge
       FROM zone_changes WHERE serial = ? ORDER BY id`,
    );

    return {
      serial,

      *gateways(pageSize = DEFAULT_PAGE_SIZE, order = "name") {
        if (!open) throw new Error("the zone snapshot is closed");
        const size = Math.max(1, Math.floor(pageSize));
        byOrder.canonical ??= order === "canonical" ? statements(CANONICAL_KEY) : null;
        const { rowsAfter, pendingIn, pendingAfter } = byOrder[order]!;
        const key = keyOf[order];
        let after = "";
        for (;;) {
          const rows = rowsAfter.values(after, size) as [string, ...StateRow][];
          const upper = rows.length === size ? key(rows[rows.length - 1][0]) : null;
          const pending = (upper === null ? pendingAfter.values(after) : pendingIn.values(after, upper)) as [string, ...StateRow][];
          // Both in the walk's order: merged, a pending change's state wins over the row.
          let r = 0;
          let p = 0;
          while (r < rows.length || p < pending.length) {
            let name: string;
            let state: GatewayRecord | null;
            if (p < pending.length && (r >= rows.length || key(pending[p][0]) <= key(rows[r][0]))) {
              name = pending[p][0];
              state = record(pending[p].slice(1) as StateRow);
              if (r < rows.length && rows[r][0] === name) r++;
              p++;
            } else {
              name = rows[r][0];
              state = record(rows[r].slice(1) as StateRow);
              r++;
            }
            if (state) yield [name, state];
          }
          if (upper === null) return;
          after = upper;
        }
      },

      changesetsSince(from, maxChanges = Number.POSITIVE_INFINITY) {
        if (!open) throw new Error("the zone snapshot is closed");
        if (!Number.isInteger(from) || from < 0 || from >= 2 ** 32) return null;
        if (from === serial) return [];
        const chain: { from: number; to: number }[] = [];
        // Each changeset follows the one before; a serial appears once (the journal spans far less than 2^31).
        const limit = changesets.get()!.n;
        let at = from;
        while (at !== serial) {
          const next = changesetFrom.get(at);
          if (!next || chain.length >= limit) return null;
          chain.push({ from: at, to: next.serial });
          at = next.serial;
        }
        let total = 0;
        for (const { to } of chain) {
          total += changeCount.get(to)!.n;
          if (total > maxChanges) return null;
        }
        return chain.map(({ from, to }) => ({
          from,
          to,
          changes: (changesOf.values(to) as [string, ...StateRow, ...StateRow][]).map((row) => ({
            name: row[0],
            old: record(row.slice(1, 6) as StateRow),
            new: record(row.slice(6, 11) as StateRow),
          })),
        }));
      },

      close() {
        if (!open) return;
        open = false;
        if (!own) return;
        try {
          sqlite.run("ROLLBACK");
        } catch {
          // nothing was begun, or it ended with the connection
        }
        sqlite.close();
      },
    };
  } catch (e) {
    open = false;
    if (own) sqlite.close();
    throw e;
  }
}
