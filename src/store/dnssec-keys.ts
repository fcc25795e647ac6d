// The zone's DNSSEC signing key in the database (SPEC 9): made at the first start with
// dns.dnssec on, then the same key at every start (its DS is at the registrar), and carried
// by a backup like every other row. The oldest row signs.
import { asc } from "drizzle-orm";
import { type DnssecAlgorithm, generateSigningKey, type SigningKey } from "../dns/dnssec.ts";
import type { Db } from "./db.ts";
import { dnssecKeys } from "./schema.ts";

const ALGORITHMS: readonly string[] = ["ecdsap256sha256", "ed25519"];

/** The signing key, or null when none was made yet. */
export function readSigningKey(db: Db): (SigningKey & { created: number }) | null {
  const row = db.select().from(dnssecKeys).orderBy(asc(dnssecKeys.id)).limit(1).get();
  if (!row) return null;
  if (!ALGORITHMS.includes(row.algorithm)) throw new Error(`the stored DNSSEC key has an unknown algorithm: ${row.algorithm}`);
  return { algorithm: row.algorithm as DnssecAlgorithm, pkcs8: new Uint8Array(row.privateKey), created: row.created };
}

/**
 * The signing key, made and stored (in one write transaction, so two starting processes agree
 * on one key) when there is none. `made` says whether it is new: its DS must reach the registrar.
 */
export function signingKey(db: Db, algorithm: DnssecAlgorithm, nowSeconds: number): { key: SigningKey; made: boolean } {
  return db.$client
    .transaction(() => {
      const existing = readSigningKey(db);
      if (existing) return { key: { algorithm: existing.algorithm, pkcs8: existing.pkcs8 }, made: false };
      const key = generateSigningKey(algorithm);
      db.insert(dnssecKeys)
        .values({ algorithm, privateKey: Buffer.from(key.pkcs8), created: nowSeconds })
        .run();
      return { key, made: true };
    })
    .immediate();
}
