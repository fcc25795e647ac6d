// `dnssec ds`: the DS records (SHA-256) of the zone's DNSKEY RRset, for the registrar, and
// `dnssec roll prepublish|switch|retire`: a key rollover (double-DS). docs/dns.md, "Commands";
// the steps: README, "Rolling the key".
// Read from the database, where the server made the key at its first start with dns.dnssec on.
import { existsSync } from "node:fs";
import { type DnssecAlgorithm, dnskeyOf, dsOf, dsText } from "../dns/dnssec.ts";
import { servingProcess } from "../ops/serving-marker.ts";
import { type Db, openDatabase } from "../store/db.ts";
import { readKeys, type RollStep, RolloverRefused, rollKeys } from "../store/dnssec-keys.ts";
import { CliError, type Invocation, out, positionals, refuseReplacedDatabase } from "./common.ts";

function withDatabase<T>(invocation: Invocation, what: string, use: (db: Db) => T): T {
  const path = invocation.settings.database.path;
  if (path === ":memory:" || !existsSync(path)) throw new CliError(`no database at ${path}`, 1);
  refuseReplacedDatabase(path);
  try {
    const db = openDatabase(path, { migrate: false });
    try {
      return use(db);
    } finally {
      db.$client.close();
    }
  } catch (e) {
    if (e instanceof CliError) throw e;
    if (e instanceof RolloverRefused) throw new CliError(e.message, 1);
    throw new CliError(`cannot ${what} in ${path}: ${(e as Error).message.split("\n")[0]}`, 1);
  }
}

/** One line per key of the DNSKEY RRset, the signing key first: `<DS line> ; active|published|retiring`. */
export async function runDnssecDs(invocation: Invocation): Promise<void> {
  positionals(invocation, 0, "dnssec ds");
  const { settings } = invocation;
  const keys = withDatabase(invocation, "read the DNSSEC keys", readKeys);
  if (keys.length === 0) throw new CliError(`no DNSSEC key in ${settings.database.path} yet: the server makes it at its first start with dns.dnssec = true`, 1);
  const order = { active: 0, published: 1, retiring: 2 };
  keys.sort((a, b) => order[a.state] - order[b.state] || a.id - b.id);
  const lines = keys.map((key) => `${dsText(dsOf(dnskeyOf(key, settings.domain, settings.dns.ttl)))}${keys.length > 1 ? ` ; ${key.state}` : ""}\n`);
  await out(lines.join(""));
}

const NEXT: Record<RollStep, string> = {
  prepublish:
    "add its DS at the registrar beside the old one (`dnssec ds` prints both); after the DS is in the parent and the old DNSKEY RRset's TTL has passed: `dnssec roll switch`",
  switch:
    "the old key stays in the DNSKEY RRset; remove the old DS at the registrar, wait for the parent's DS TTL and the longest TTL of an old signature, then: `dnssec roll retire`",
  retire: "the rollover is done: only the new key and its DS remain",
};

export function rollCommand(step: RollStep) {
  return async (invocation: Invocation): Promise<void> => {
    positionals(invocation, 0, `dnssec roll ${step}`);
    const { settings } = invocation;
    const path = settings.database.path;
    const serving = servingProcess(path);
    if (serving)
      throw new CliError(
        `a server (pid ${serving.pid}) has ${path} open: stop it, run \`dnssec roll ${step}\`, then start it again (the server reads the keys when it starts)`,
        1,
      );
    const algorithm: DnssecAlgorithm = settings.dns.dnssecAlgorithm ?? "ecdsap256sha256";
    const key = withDatabase(invocation, `roll the DNSSEC key (${step})`, (db) => rollKeys(db, step, algorithm, Math.floor(Date.now() / 1000)));
    const tag = dsOf(dnskeyOf(key, settings.domain, settings.dns.ttl)).keyTag;
    const done =
      step === "prepublish" ? `pre-published a new ${key.algorithm} key, tag ${tag}` : step === "switch" ? `key ${tag} signs now` : `retired key ${tag}`;
    await out(`${done}; start the server to serve it. Next: ${NEXT[step]}\n`);
  };
}
