// Writes one benchmark data set into a folder: our SQLite database (through the real
// migrations), the same zone as an NSD zone file and a PowerDNS gsqlite3 database,
// the tokens wrk picks from, and a shuffled dnsperf query file.
//   bun bench/lib/make-data.ts --out DIR --domains N [--stale N] [--queries N] [--no-zones] [--no-pdns]
import { Database } from "bun:sqlite";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openDatabase } from "../../src/store/db.ts";

const { values: args } = parseArgs({
  options: {
    out: { type: "string" },
    domains: { type: "string", default: "10000" },
    /** how many of the domains were last seen long ago (the expiry sweep removes them) */
    stale: { type: "string", default: "0" },
    /** the stale rows become stale this many seconds after generation (0: already stale) */
    "stale-in": { type: "string", default: "0" },
    "inactive-days": { type: "string", default: "60" },
    queries: { type: "string", default: "200000" },
    "no-zones": { type: "boolean", default: false },
    /** the NSD zone file only (bench/transfer.sh has no PowerDNS) */
    "no-pdns": { type: "boolean", default: false },
  },
});

export const DOMAIN = "bench.test";
export const SOA = { mname: "ns1.bench.test.", rname: "hostmaster.bench.test.", serial: 2026010101, refresh: 900, retry: 900, expire: 1209600, minimum: 60 };
export const NS_IP = "127.0.0.53";
const TTL = 86400;
const GATEWAY_TTL = 60;

const out = args.out!;
const total = Number(args.domains);
const stale = Number(args.stale);
const inactiveDays = Number(args["inactive-days"]);
mkdirSync(out, { recursive: true });

// Deterministic names and challenges (xorshift), so reruns query the same zone shape.
let seed = 0x9e3779b9;
const rand = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
};
const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const challenge = () => Array.from({ length: 43 }, () => B64URL[Math.floor(rand() * 64)]).join("");
const label = (i: number) => `gw${i.toString(36).padStart(5, "0")}-${Math.floor(rand() * 1e6).toString(36)}`;

interface Row {
  label: string;
  token: string;
  ip: string;
  challenge: string;
  timestamp: number;
}
const now = Math.floor(Date.now() / 1000);
const staleTimestamp = now - inactiveDays * 86400 - 1 + Number(args["stale-in"]);
const rows: Row[] = [];
for (let i = 0; i < total; i++) {
  rows.push({
    label: label(i),
    token: crypto.randomUUID(),
    ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    challenge: i % 2 === 0 ? challenge() : "",
    // stale rows are spread through the table, as real ones would be
    timestamp: stale > 0 && i % Math.round(total / stale) === 0 && i / Math.round(total / stale) < stale ? staleTimestamp : now,
  });
}

// Ours: a real database through the real migrations, then raw inserts in one transaction.
const ours = join(out, "ours.sqlite");
for (const suffix of ["", "-wal", "-shm"]) rmSync(ours + suffix, { force: true });
const db = openDatabase(ours);
const sqlite = db.$client;
sqlite.transaction(() => {
  sqlite.run("INSERT INTO accounts (email, optout) VALUES ('', 1)");
  const accountId = (sqlite.query("SELECT id FROM accounts WHERE email = ''").get() as { id: number }).id;
  const insert = sqlite.prepare(
    // Dynamic-DNS names answer A from last_ipv4 (last_ip stays for /info, as a ping writes both).
    "INSERT INTO domains (name, account_id, token, description, timestamp, dns_challenge, mode, last_ip, last_ipv4) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)",
  );
  for (const r of rows) insert.run(`${r.label}.${DOMAIN}.`, accountId, r.token, `${r.label}'s server`, r.timestamp, r.challenge, r.ip, r.ip);
})();
sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)");
sqlite.close();

writeFileSync(join(out, "tokens.txt"), `${rows.map((r) => r.token).join("\n")}\n`);
// names.txt: line i is the name of tokens.txt's line i (bench/transfer.sh asks for it)
writeFileSync(join(out, "names.txt"), `${rows.map((r) => `${r.label}.${DOMAIN}`).join("\n")}\n`);
writeFileSync(
  join(out, "ours.toml"),
  `domain = "${DOMAIN}"\n[dns]\nttl = ${TTL}\ngateway_ttl = ${GATEWAY_TTL}\n` +
    `soa = "${SOA.mname} ${SOA.rname} ${SOA.serial} ${SOA.refresh} ${SOA.retry} ${SOA.expire} ${SOA.minimum}"\n` +
    `nameservers = [["${SOA.mname}", "${NS_IP}"]]\n`,
);

// dnsperf input: 60% gateway A, 20% _acme-challenge TXT, 10% unknown A, 5% apex SOA, 5% apex NS.
const queries: string[] = [];
const n = Number(args.queries);
const withChallenge = rows.filter((r) => r.challenge);
const pick = <T>(list: T[]) => list[Math.floor(rand() * list.length)];
for (let i = 0; i < n; i++) {
  const slot = i % 20;
  if (slot < 12) queries.push(`${pick(rows).label}.${DOMAIN} A`);
  else if (slot < 16) queries.push(`_acme-challenge.${pick(withChallenge).label}.${DOMAIN} TXT`);
  else if (slot < 18) queries.push(`nx${Math.floor(rand() * 1e9).toString(36)}.${DOMAIN} A`);
  else if (slot < 19) queries.push(`${DOMAIN} SOA`);
  else queries.push(`${DOMAIN} NS`);
}
for (let i = queries.length - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  [queries[i], queries[j]] = [queries[j], queries[i]];
}
writeFileSync(join(out, "queries.txt"), `${queries.join("\n")}\n`);

const soa = `${SOA.mname} ${SOA.rname} ${SOA.serial} ${SOA.refresh} ${SOA.retry} ${SOA.expire} ${SOA.minimum}`;
if (!args["no-zones"]) {
  // NSD: the same records as a zone file.
  const lines = [`$ORIGIN ${DOMAIN}.`, `@ ${TTL} IN SOA ${soa}`, `@ ${TTL} IN NS ${SOA.mname}`, `ns1 ${TTL} IN A ${NS_IP}`];
  for (const r of rows) {
    lines.push(`${r.label} ${GATEWAY_TTL} IN A ${r.ip}`);
    if (r.challenge) lines.push(`_acme-challenge.${r.label} ${GATEWAY_TTL} IN TXT "${r.challenge}"`);
  }
  writeFileSync(join(out, `${DOMAIN}.zone`), `${lines.join("\n")}\n`);
}

if (!args["no-zones"] && !args["no-pdns"]) {
  // PowerDNS: the Debian package's gsqlite3 schema, one domain, the same records.
  const pdnsPath = join(out, "pdns.sqlite");
  rmSync(pdnsPath, { force: true });
  const pdns = new Database(pdnsPath, { create: true });
  pdns.exec(readFileSync("/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql", "utf8"));
  pdns.transaction(() => {
    pdns.run("INSERT INTO domains (id, name, type) VALUES (1, ?, 'NATIVE')", [DOMAIN]);
    const rec = pdns.prepare("INSERT INTO records (domain_id, name, type, content, ttl, prio, auth) VALUES (1, ?, ?, ?, ?, 0, 1)");
    rec.run(DOMAIN, "SOA", soa.replace(/\.(\s)/g, "$1"), TTL);
    rec.run(DOMAIN, "NS", SOA.mname.replace(/\.$/, ""), TTL);
    rec.run(`ns1.${DOMAIN}`, "A", NS_IP, TTL);
    for (const r of rows) {
      rec.run(`${r.label}.${DOMAIN}`, "A", r.ip, GATEWAY_TTL);
      if (r.challenge) rec.run(`_acme-challenge.${r.label}.${DOMAIN}`, "TXT", `"${r.challenge}"`, GATEWAY_TTL);
    }
  })();
  pdns.close();
}
console.log(`data: ${total} domains (${withChallenge.length} with a challenge, ${stale} stale), ${n} queries in ${out}`);
