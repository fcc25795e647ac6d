// The zone's DNSSEC keys in the database (docs/dns.md, "The key"): made at the first start with
// dns.dnssec on, then the same key at every start (its DS is at the registrar), and carried by a
// backup like every other row. One key is `active` (it signs); a rollover (double-DS, RFC 7583
// 3.3.2 with a combined key) adds a `published` key beside it (prepublish), makes it active while
// the old one stays in the DNSKEY RRset as `retiring` (switch), then deletes the old one (retire).
import { asc, eq } from "drizzle-orm";
import { type DnssecAlgorithm, generateSigningKey, type SigningKey } from "../dns/dnssec.ts";
import type { Db } from "./db.ts";
import { dnssecKeys } from "./schema.ts";

const ALGORITHMS: readonly string[] = ["ecdsap256sha256", "ed25519"];
export type KeyState = "active" | "published" | "retiring";
const STATES: readonly string[] = ["active", "published", "retiring"];

export interface StoredKey extends SigningKey {
  id: number;
  state: KeyState;
  created: number;
}

/** Every key, oldest first; throws on an algorithm or state this version does not know. */
export function readKeys(db: Db): StoredKey[] {
  return db
    .select()
    .from(dnssecKeys)
    .orderBy(asc(dnssecKeys.id))
    .all()
    .map((row) => {
      if (!ALGORITHMS.includes(row.algorithm)) throw new Error(`the stored DNSSEC key ${row.id} has an unknown algorithm: ${row.algorithm}`);
      if (!STATES.includes(row.state)) throw new Error(`the stored DNSSEC key ${row.id} has an unknown state: ${row.state}`);
      return {
        id: row.id,
        algorithm: row.algorithm as DnssecAlgorithm,
        pkcs8: new Uint8Array(row.privateKey),
        created: row.created,
        state: row.state as KeyState,
      };
    });
}

/** The signing (active) key, or null when none was made yet. */
export function readSigningKey(db: Db): StoredKey | null {
  return readKeys(db).find((key) => key.state === "active") ?? null;
}

/**
 * The signing key, made and stored (in one write transaction, so two starting processes agree
 * on one key) when there is none, and the other keys of the DNSKEY RRset (a rollover's).
 * `made` says whether it is new: its DS must reach the registrar.
 */
export function signingKey(db: Db, algorithm: DnssecAlgorithm, nowSeconds: number): { key: SigningKey; published: StoredKey[]; made: boolean } {
  return db.$client
    .transaction(() => {
      const keys = readKeys(db);
      const existing = keys.find((key) => key.state === "active");
      const published = keys.filter((key) => key.state !== "active");
      if (existing) return { key: { algorithm: existing.algorithm, pkcs8: existing.pkcs8 }, published, made: false };
      const key = generateSigningKey(algorithm);
      db.insert(dnssecKeys)
        .values({ algorithm, privateKey: Buffer.from(key.pkcs8), created: nowSeconds, state: "active" })
        .run();
      return { key, published, made: true };
    })
    .immediate();
}

/** A rollover step asked out of order: the message says what to do instead. */
export class RolloverRefused extends Error {}

export type RollStep = "prepublish" | "switch" | "retire";

/**
 * One rollover step, in one write transaction. prepublish: a new key (`algorithm`) joins as
 * published; switch: the published key signs, the active one becomes retiring; retire: the
 * retiring key is deleted. Refuses (RolloverRefused) a step out of order. Returns the key the
 * step concerns (the new one for prepublish and switch, the removed one for retire).
 */
export function rollKeys(db: Db, step: RollStep, algorithm: DnssecAlgorithm, nowSeconds: number): StoredKey {
  return db.$client
    .transaction(() => {
      const keys = readKeys(db);
      const active = keys.find((key) => key.state === "active");
      const published = keys.find((key) => key.state === "published");
      const retiring = keys.find((key) => key.state === "retiring");
      if (!active) throw new RolloverRefused("there is no DNSSEC key yet: the server makes it at its first start with dns.dnssec = true");
      if (step === "prepublish") {
        if (published) throw new RolloverRefused("a new key is pre-published already: the next step is `dnssec roll switch`");
        if (retiring) throw new RolloverRefused("the previous rollover is not finished: the next step is `dnssec roll retire`");
        const key = generateSigningKey(algorithm);
        const row = db
          .insert(dnssecKeys)
          .values({ algorithm, privateKey: Buffer.from(key.pkcs8), created: nowSeconds, state: "published" })
          .returning({ id: dnssecKeys.id })
          .get();
        return { ...key, id: row.id, created: nowSeconds, state: "published" as const };
      }
      if (step === "switch") {
        if (retiring) throw new RolloverRefused("the key was switched already: the next step is `dnssec roll retire`, once the old DS is gone from the parent");
        if (!published) throw new RolloverRefused("no key is pre-published: the first step is `dnssec roll prepublish`");
        db.update(dnssecKeys).set({ state: "retiring" }).where(eq(dnssecKeys.id, active.id)).run();
        db.update(dnssecKeys).set({ state: "active" }).where(eq(dnssecKeys.id, published.id)).run();
        return { ...published, state: "active" as const };
      }
      if (!retiring) {
        throw new RolloverRefused(
          published
            ? "the new key does not sign yet: the next step is `dnssec roll switch`"
            : "no rollover is under way: the first step is `dnssec roll prepublish`",
        );
      }
      db.delete(dnssecKeys).where(eq(dnssecKeys.id, retiring.id)).run();
      return retiring;
    })
    .immediate();
}
