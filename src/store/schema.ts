// The only place a table or column name is written. The first columns of each table are
// the Rust server's layout, so its SQLite file opens as is; the rest are ours.
import { sql } from "drizzle-orm";
import { blob, check, index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

import { MODE } from "../gateway-data.ts";

export const accounts = sqliteTable("accounts", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  email: text("email", { length: 254 }).notNull().unique(),
  optout: integer("optout", { mode: "boolean" }).notNull().default(false),
});

export const domains = sqliteTable(
  "domains",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** full name with its trailing dot: "<label>.<domain>." */
    name: text("name", { length: 253 }).notNull().unique(),
    accountId: integer("account_id")
      .notNull()
      .references(() => accounts.id, { onUpdate: "cascade", onDelete: "cascade" }),
    token: text("token", { length: 36 }).notNull(),
    description: text("description").notNull(),
    /** last ping (or subscription), Unix seconds */
    timestamp: integer("timestamp").notNull(),
    dnsChallenge: text("dns_challenge").notNull().default(""),
    reclamationToken: text("reclamation_token", { length: 36 }).notNull().default(""),
    verificationToken: text("verification_token", { length: 36 }).notNull().default(""),
    verified: integer("verified", { mode: "boolean" }).notNull().default(false),
    continent: text("continent", { length: 2 }).notNull().default(""),
    mode: integer("mode").notNull().default(MODE.tunnel),
    lastIp: text("last_ip").notNull().default(""),
    // ours, added in place on a Rust database:
    /** Unix seconds after which reclamation_token no longer matches */
    reclamationExpires: integer("reclamation_expires").notNull().default(0),
    /** Unix seconds after which verification_token no longer matches */
    verificationExpires: integer("verification_expires").notNull().default(0),
    /** address waiting for its verification link to be followed */
    pendingEmail: text("pending_email").notNull().default(""),
    pendingOptout: integer("pending_optout", { mode: "boolean" }).notNull().default(false),
    /** the last IPv4 and IPv6 address a ping or dyndns2 update gave: dynamic-DNS mode answers A and AAAA from them */
    lastIpv4: text("last_ipv4").notNull().default(""),
    lastIpv6: text("last_ipv6").notNull().default(""),
    /** the `timestamp` (last ping) of the silence whose expiry warning went out; a ping or keep starts a new silence */
    warnedFor: integer("warned_for").notNull().default(0),
    /** the warning's one-click link that keeps the name (/keep?s=), kept after its use so a second click can say so */
    keepToken: text("keep_token", { length: 36 }).notNull().default(""),
    /** Unix seconds after which keep_token no longer matches (when the name would be freed); 0 once used */
    keepExpires: integer("keep_expires").notNull().default(0),
  },
  (t) => [
    index("domains_token").on(t.token),
    // none on timestamp: every ping would move its entry; the expiry walks the rows by id
    index("domains_account_id").on(t.accountId),
    index("domains_reclamation_token").on(t.reclamationToken).where(sql`${t.reclamationToken} <> ''`),
    index("domains_verification_token").on(t.verificationToken).where(sql`${t.verificationToken} <> ''`),
    index("domains_keep_token").on(t.keepToken).where(sql`${t.keepToken} <> ''`),
  ],
);

/** The zone's published state (one row): the SOA serial secondaries see, and what shaped it (zone-journal.ts). */
export const zoneState = sqliteTable(
  "zone_state",
  {
    id: integer("id").primaryKey(),
    /** the current published SOA serial (RFC 1982) */
    serial: integer("serial").notNull(),
    /** zoneFingerprint() of the settings the zone at `serial` was built from */
    fingerprint: text("fingerprint").notNull(),
  },
  (t) => [check("zone_state_one_row", sql`${t.id} = 1`)],
);

/** One published batch of changes: the zone went from serial `previous` to `serial`. */
export const zoneChangesets = sqliteTable(
  "zone_changesets",
  {
    serial: integer("serial").primaryKey(),
    previous: integer("previous").notNull(),
    /** Unix seconds */
    created: integer("created").notNull(),
  },
  // IXFR walks the changesets from a secondary's serial, one `previous` to the next
  (t) => [index("zone_changesets_previous").on(t.previous)],
);

/**
 * The change journal: a row per DNS-visible change of a domains row, written by triggers
 * (drizzle/0005) for every writer; serial NULL until the publisher stamps it. old_* / new_*
 * are the row before and after, NULL mode meaning the row did not exist.
 */
export const zoneChanges = sqliteTable(
  "zone_changes",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** the changeset it was published in; NULL: not yet published */
    serial: integer("serial"),
    /** full name with its trailing dot */
    name: text("name").notNull(),
    oldMode: integer("old_mode"),
    oldLastIp: text("old_last_ip"),
    oldLastIpv4: text("old_last_ipv4"),
    oldLastIpv6: text("old_last_ipv6"),
    oldDnsChallenge: text("old_dns_challenge"),
    newMode: integer("new_mode"),
    newLastIp: text("new_last_ip"),
    newLastIpv4: text("new_last_ipv4"),
    newLastIpv6: text("new_last_ipv6"),
    newDnsChallenge: text("new_dns_challenge"),
  },
  (t) => [
    // partial: a trigger's insert (serial NULL) adds no entry here, only the publisher's stamped rows do
    index("zone_changes_serial").on(t.serial).where(sql`${t.serial} IS NOT NULL`),
    // the unpublished changes by name: the publisher's batch and the snapshot's view of a row
    index("zone_changes_unpublished").on(t.name, t.id).where(sql`${t.serial} IS NULL`),
  ],
);

/**
 * DNSSEC signing keys (docs/dns.md, "The key"; store/dnssec-keys.ts): the zone's one combined
 * key, generated at the first start with dns.dnssec on. The `active` row signs; a rollover adds a
 * `published` or `retiring` one beside it; a backup carries them.
 */
export const dnssecKeys = sqliteTable("dnssec_keys", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  /** dns.dnssec_algorithm's value when it was made: ecdsap256sha256 or ed25519 */
  algorithm: text("algorithm").notNull(),
  /** the private key, PKCS#8 DER */
  privateKey: blob("private_key", { mode: "buffer" }).notNull(),
  /** Unix seconds */
  created: integer("created").notNull(),
  /** active (signs), published (pre-published, in the DNSKEY RRset) or retiring (signed before the switch, still in the RRset) */
  state: text("state").notNull().default("active"),
});

export type Domain = typeof domains.$inferSelect;
export type Account = typeof accounts.$inferSelect;
