// `dnssec ds`: the DS record (SHA-256) of the zone's signing key, for the registrar (SPEC 9).
// Read from the database, where the server made the key at its first start with dns.dnssec on.
import { existsSync } from "node:fs";
import { dsText, loadSigner } from "../dns/dnssec.ts";
import { openDatabase } from "../store/db.ts";
import { readSigningKey } from "../store/dnssec-keys.ts";
import { CliError, type Invocation, out, positionals } from "./common.ts";

export async function runDnssecDs(invocation: Invocation): Promise<void> {
  positionals(invocation, 0, "dnssec ds");
  const { settings } = invocation;
  const path = settings.database.path;
  if (path === ":memory:" || !existsSync(path)) throw new CliError(`no database at ${path}`, 1);
  let key: ReturnType<typeof readSigningKey>;
  try {
    const db = openDatabase(path);
    try {
      key = readSigningKey(db);
    } finally {
      db.$client.close();
    }
  } catch (e) {
    throw new CliError(`cannot read the DNSSEC key from ${path}: ${(e as Error).message.split("\n")[0]}`, 1);
  }
  if (!key) throw new CliError(`no DNSSEC key in ${path} yet: the server makes it at its first start with dns.dnssec = true`, 1);
  const signer = loadSigner(key, { zone: settings.domain, ttl: settings.dns.ttl, cacheEntries: 2 });
  await out(`${dsText(signer.ds())}\n`);
}
