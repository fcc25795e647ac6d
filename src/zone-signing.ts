// The zone's DNSSEC keys as a start reads them (docs/dns.md, "The key"): the signing key, made
// and stored at the first start with dns.dnssec on, the other keys of a rollover under way, and
// the log lines that tell the operator which key signs and which DS the registrar needs.
// serve.ts calls it once at start; tests that answer DNS in their own process call it on the
// same file.
import type { Settings } from "./config.ts";
import { dnskeyOf, dsOf, dsText, loadSigner, type SigningKey } from "./dns/dnssec.ts";
import type { Db } from "./store/db.ts";
import { signingKey } from "./store/dnssec-keys.ts";

export interface ZoneSigning {
  key: SigningKey;
  /** the key tags of the DNSKEY RRset, for zoneFingerprint: a rollover step moves the serial */
  keySet: string;
  /** the rollover's other keys in the DNSKEY RRset, as plain data for the DNS thread */
  published: SigningKey[];
  /** tests only (REGSRV_TEST_BREAK_DNSSEC=1): signatures that do not verify */
  corruptSignatures: boolean;
}

export function zoneSigning(db: Db, settings: Settings, nowSeconds: number, log: (line: string) => void): ZoneSigning {
  const wanted = settings.dns.dnssecAlgorithm ?? "ecdsap256sha256";
  const { key, published, made } = signingKey(db, wanted, nowSeconds);
  const ds = dsText(loadSigner(key, { zone: settings.domain, ttl: settings.dns.ttl, cacheEntries: 2 }).ds());
  log(`dnssec: ${made ? "made a new" : "signing with the stored"} ${key.algorithm} key; the registrar needs its DS: ${ds}`);
  if (key.algorithm !== wanted) log(`warning: dns.dnssec_algorithm is ${wanted} but the stored key is ${key.algorithm}, which keeps signing`);
  // tests only: signatures that do not verify, to see validators refuse them
  const corruptSignatures = process.env.REGSRV_TEST_BREAK_DNSSEC === "1";
  if (corruptSignatures) log("warning: REGSRV_TEST_BREAK_DNSSEC=1: every signature is broken on purpose, validators will fail");
  for (const other of published) {
    const ds = dsText(dsOf(dnskeyOf(other, settings.domain, settings.dns.ttl)));
    log(`dnssec: rollover under way: a ${other.state} key is in the DNSKEY RRset too, its DS: ${ds}`);
  }
  // The DNSKEY RRset is part of the zone's shape: a rollover step moves the serial (zoneFingerprint).
  const keySet = [key, ...published].map((k) => `${dsOf(dnskeyOf(k, settings.domain, settings.dns.ttl)).keyTag}`).join(",");
  return { key, keySet, published: published.map(({ algorithm, pkcs8 }) => ({ algorithm, pkcs8 })), corruptSignatures };
}
