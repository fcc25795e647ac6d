// Every setting: its default, its flag, its REGISTRATION_* variable, its TOML key and
// the Rust server's legacy layout. Strongest first: flags, environment, TOML, defaults.
import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { parseCidr } from "./addresses.ts";
import { VERSION } from "./version.ts";

export interface DnsSettings {
  /** zone apex without trailing dot, lower case, e.g. "example.test" */
  domain: string;
  ttl: number;
  gatewayTtl: number;
  soa: { mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number };
  /** [fqdn with trailing dot, ipv4 or null] */
  nameservers: [string, string | null][];
  tunnelAddresses: string[];
  wwwAddresses: string[];
  /** CAA records for the apex and every gateway: [flags, tag, value] */
  caa: [number, string, string][];
  /** [label, priority, exchange]; label "@" = apex, "*" = every gateway name, else a gateway label */
  mx: [string, number, string][];
  /** [label, text]; label "@" = apex, "*" = every gateway name, "_psl" etc. */
  txt: [string, string][];
  /** [fqdn with trailing dot, target with trailing dot] */
  cname: [string, string][];
  /** UDP response-rate limiting (dns.rrl_*); absent (zones built by hand in tests) = none */
  rrl?: RrlSettings;
  /** dns.tsig_keys (RFC 8945): name lower case with its trailing dot; secret the base64 text (>= 16 octets) */
  tsigKeys: TsigKey[];
  /** dns.transfer_acl: who may AXFR/IXFR; key "" = no key needed, else a tsigKeys name. Empty = nobody. */
  transferAcl: { cidr: string; key: string }[];
  /** dns.notify: whom to NOTIFY on a change: an IP address (IPv6 without brackets) and port; key "" = unsigned */
  notify: { host: string; port: number; key: string }[];
  /** dns.journal_max_changes: changes kept for IXFR */
  journalMaxChanges: number;
  /** dns.transfer_image_mb: MiB the encoded whole zone may take to be kept for transfers (0: never kept) */
  transferImageMb?: number;
  /** dns.warm_up_queries: made-up questions answered before the sockets open; absent (zones built by hand in tests) = none */
  warmUpQueries?: number;
  /** dns.pagekite_address: glue of ns.<domain>.<domain>.; "" when there is none to give */
  pagekiteAddress: string;
  /** dns.dnssec: answers to queries with the DO bit are signed (docs/dns.md, "DNSSEC"); absent (zones built by hand in tests) = off */
  dnssec?: boolean;
  /** dns.dnssec_algorithm: of the key made at the first start with dns.dnssec on */
  dnssecAlgorithm?: DnssecAlgorithm;
}

export const DNSSEC_ALGORITHMS = ["ecdsap256sha256", "ed25519"] as const;
export type DnssecAlgorithm = (typeof DNSSEC_ALGORITHMS)[number];

export const TSIG_ALGORITHMS = ["hmac-sha256", "hmac-sha512"] as const;
export interface TsigKey {
  name: string;
  algorithm: (typeof TSIG_ALGORITHMS)[number];
  secret: string;
}

/** dns.rrl_*: UDP response-rate limiting (docs/operations.md, "Response-rate limiting") */
export interface RrlSettings {
  /** answers a second per client prefix and answer class; 0 = no limiting */
  rate: number;
  /** every Nth limited answer goes out truncated (TC), the others are dropped; 0 = drop all */
  slip: number;
}

export interface EmailSettings {
  from: string | null;
  resendApiKey: string | null;
  /** how long the provider may take before the request answers 501 */
  sendTimeoutSeconds: number;
  reclamationSubject: string;
  reclamationBody: string;
  confirmationSubject: string;
  confirmationBody: string;
  warningSubject: string;
  warningBody: string;
  /** the operator's own /verifyemail pages; null: the built-in ones (src/api/pages.ts) */
  successPage: string | null;
  errorPage: string | null;
}

export interface Settings {
  domain: string;
  /** trustedProxies: addresses/CIDRs whose forwarded headers are believed */
  http: { host: string[]; port: number; publicUrl: string; trustedProxies: string[]; accessLog: AccessLog };
  /** host: listen addresses, each bound at the same port */
  dns: DnsSettings & { host: string[]; port: number };
  admin: { host: string[]; port: number };
  database: { path: string; checkSeconds: number };
  /** warnDays: owners are warned this long before their name is freed; 0 = never */
  expiry: { inactiveDays: number; intervalSeconds: number; maxFraction: number; warnDays: number };
  email: EmailSettings;
  limits: LimitSettings;
  log: { format: LogFormat; level: LogLevel };
}

/** Quotas (0 = off): per client an hour, per recipient an hour and a day, per name an hour. */
export interface LimitSettings {
  subscribePerHour: number;
  emailRequestsPerHour: number;
  emailsPerRecipientPerHour: number;
  emailsPerRecipientPerDay: number;
  reclaimEmailsPerNamePerHour: number;
  /** dyndns2 updates of one name a minute; past it the name answers `abuse` */
  updatesPerNamePerMinute: number;
  /** an IPv6 /48 gets this many times a client's (/64's) budget */
  ipv6SiteFactor: number;
}

/** A setting that cannot be used: main prints the message on one line, each quoted value in it cut to its first 100 characters, and exits 2. */
export class SettingsError extends Error {
  constructor(message: string) {
    // a 100 KB value echoed in full made a line journald splits (LineMax) and nobody reads
    super(message.replace(/"(?:[^"\\]|\\.){200,}"/g, (quoted) => `${quoted.slice(0, 101)}..." (${quoted.length - 2} characters)`));
  }
}

// Bodies are HTML; {link}, {token}, {domain} (the gateway's own name), {date} and {last_seen} are escaped into them.
const DEFAULT_TEMPLATES = {
  reclamation_subject: "Reclaim {domain}",
  reclamation_body:
    "<p>Someone, hopefully you, asked to reclaim the gateway name <b>{domain}</b>.</p>" +
    "<p>Your reclamation token:</p>" +
    '<p><code style="font-size:18px;user-select:all">{token}</code></p>' +
    "<p>Enter it in your gateway's setup page within 24 hours. If you did not ask for it, ignore this email.</p>",
  confirmation_subject: "Confirm your email address for {domain}",
  confirmation_body:
    "<p>Please confirm the email address for your gateway <b>{domain}</b> by opening this link within 7 days:</p>" +
    '<p><a href="{link}">{link}</a></p>' +
    "<p>If you did not ask for this, ignore this email.</p>",
  warning_subject: "{domain} will be freed on {date}",
  warning_body:
    "<p>Your gateway <b>{domain}</b> has not been in touch since {last_seen}. If it stays silent, the name will be freed on <b>{date}</b>, and anyone may then register it.</p>" +
    "<p>To keep the name, open this link:</p>" +
    '<p><a href="{link}">{link}</a></p>' +
    "<p>Bringing the gateway back online keeps it too. If you no longer need the name, ignore this email.</p>",
};

type Kind = "string" | "port" | "int" | "fraction" | "bool" | "url" | "host" | "list" | "cidrs" | "nameservers" | "pairs" | "triples" | "address" | "choice";

/** A default worked out from other settings (the domain, the HTTP port...), and how README and --help show it. */
interface Computed {
  computed: (resolved: { domain: string; get: (key: string) => unknown }) => unknown;
  shown: string;
}

interface Key {
  key: string; // dotted TOML key
  kind: Kind;
  flag?: string;
  /** bounds of an "int" */
  min?: number;
  max?: number;
  /** the values a "choice" takes */
  choices?: readonly string[];
  /** the built-in value (null: unset) */
  default: Computed | string | number | boolean | null | readonly unknown[];
  /** one line for --help and README's settings table */
  help: string;
  /** holds secrets: an error about it never shows the value */
  secret?: boolean;
}

/** http.access_log: every request on a line, or all but a gateway's routine successes (counted instead). */
export const ACCESS_LOG = ["changes", "all"] as const;
export type AccessLog = (typeof ACCESS_LOG)[number];
export const LOG_FORMATS = ["text", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const LOG_LEVELS = ["info", "debug"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Proxies on this host: their X-Forwarded-For / X-Real-IP are believed unless http.trusted_proxies says otherwise. */
const DEFAULT_TRUSTED_PROXIES = ["127.0.0.1/32", "::1/128"];

/** RFC 2181 section 8: a TTL is at most 2^31 - 1 seconds. */
const MAX_TTL = 2 ** 31 - 1;
const COUNT_MAX = 1_000_000;

/** Serial in the YYYYMMDDnn form resolvers and secondaries expect; stable within a day. */
function defaultSerial(now = new Date()): number {
  return Number(now.toISOString().slice(0, 10).replace(/-/g, "")) * 100;
}

// The single table of settings: defaults, flags, environment names, --help and README's table derive from it.
const KEYS: Key[] = [
  { key: "domain", kind: "string", flag: "--domain", default: "example.test", help: "the zone served; gateways get <name>.<domain>" },
  {
    key: "http.host",
    kind: "host",
    flag: "--host",
    default: "0.0.0.0",
    help: 'HTTP listen addresses: one, or a list ("127.0.0.1,::1" or a TOML list), all on http.port',
  },
  {
    key: "http.port",
    kind: "port",
    flag: "--http-port",
    default: 8080,
    help: "HTTP port; 0 = the system picks one (for the first address, then used for the others)",
  },
  {
    key: "http.public_url",
    kind: "url",
    flag: "--public-url",
    default: { computed: ({ domain, get }) => `http://api.${domain}:${get("http.port")}`, shown: "http://api.<domain>:<http.port>" },
    help: "base of the links in emails",
  },
  {
    key: "http.trusted_proxies",
    kind: "cidrs",
    default: { computed: ({ get }) => (get("http.trust_proxy") ? DEFAULT_TRUSTED_PROXIES : []), shown: JSON.stringify(DEFAULT_TRUSTED_PROXIES) },
    help: "addresses/CIDRs of reverse proxies whose X-Forwarded-For / X-Real-IP are believed; [] = none",
  },
  { key: "http.trust_proxy", kind: "bool", default: true, help: "superseded by http.trusted_proxies (which wins): true = its default list, false = []" },
  {
    key: "http.access_log",
    kind: "choice",
    choices: ACCESS_LOG,
    default: "changes",
    help: "changes: a line per request but successful /ping and /info, counted into a line a minute; all: every request",
  },
  { key: "dns.host", kind: "host", flag: "--dns-host", default: "0.0.0.0", help: "DNS listen addresses, UDP and TCP: one, or a list as for http.host" },
  { key: "dns.port", kind: "port", flag: "--dns-port", default: 5300, help: "DNS port, UDP and TCP (53 in production)" },
  { key: "dns.ttl", kind: "int", max: MAX_TTL, default: 86400, help: "TTL of the static records" },
  { key: "dns.gateway_ttl", kind: "int", max: MAX_TTL, default: 60, help: "TTL of gateway records" },
  {
    key: "dns.soa",
    kind: "string",
    default: {
      computed: ({ domain }) => `ns1.${domain}. hostmaster.${domain}. ${defaultSerial()} 900 900 1209600 60`,
      shown: "ns1.<domain>. hostmaster.<domain>. <YYYYMMDD00> 900 900 1209600 60",
    },
    help: "the SOA: mname rname serial refresh retry expire minimum; the served serial is stored and only grows, this one is its floor",
  },
  {
    key: "dns.nameservers",
    kind: "nameservers",
    default: { computed: ({ domain }) => [[`ns1.${domain}.`]], shown: '[["ns1.<domain>."]]' },
    help: 'NS records with optional glue, e.g. [["ns1.example.org.", "192.0.2.1"]]; one inside the zone needs its address (the default has none)',
  },
  {
    key: "dns.tunnel_addresses",
    kind: "list",
    default: [],
    help: "A/AAAA for tunnel-mode gateways (every WebThings gateway) and api.<domain>: the tunnel front end's address",
  },
  { key: "dns.www_addresses", kind: "list", default: [], help: "A/AAAA for the apex; www.<domain> then is a CNAME to it" },
  { key: "dns.caa", kind: "list", default: [], help: 'CAA for the apex and every gateway, e.g. ["0 issue \\"letsencrypt.org\\""]; none by default' },
  {
    key: "dns.mx",
    kind: "pairs",
    default: [],
    help: 'MX, e.g. [["@", "10 mail.example.org."]], none by default; owner @ = apex, * = every gateway, or a name in the zone',
  },
  { key: "dns.txt", kind: "pairs", default: [], help: 'TXT, e.g. [["@", "v=spf1 -all"], ["_psl", "..."]], none by default; owners as for dns.mx' },
  { key: "dns.cname", kind: "pairs", default: [], help: 'CNAME, e.g. [["status.example.org.", "example.github.io."]], none by default' },
  {
    key: "dns.warm_up_queries",
    kind: "int",
    max: 100_000,
    default: 3000,
    help: "made-up questions the DNS answer path runs before its sockets open, so the first queries meet it warm (3,000: ~0.4 s of CPU a start); 0 = none",
  },
  { key: "dns.rrl_rate", kind: "int", max: COUNT_MAX, default: 100, help: "UDP answers a second per client /24 (IPv6 /56) and answer class; 0 = no limit" },
  {
    key: "dns.rrl_slip",
    kind: "int",
    max: 100,
    default: 2,
    help: "every Nth limited answer goes out truncated (TC) so resolvers retry over TCP; 0 = drop all",
  },
  {
    key: "dns.tsig_keys",
    kind: "triples",
    secret: true,
    default: [],
    help: 'TSIG keys for transfers and NOTIFY: [["name.", "hmac-sha256", "<base64 secret>"]] (or hmac-sha512; at least 16 octets)',
  },
  { key: "dns.transfer_acl", kind: "pairs", default: [], help: 'who may AXFR/IXFR: [["192.0.2.0/24", "key-name."]]; key "" = none needed; [] = nobody' },
  {
    key: "dns.notify",
    kind: "pairs",
    default: [],
    help: 'secondaries to NOTIFY on a change: [["192.0.2.53:53", "key-name."]] ([::1]:53 for IPv6); key "" = unsigned',
  },
  {
    key: "dns.journal_max_changes",
    kind: "int",
    min: 1,
    max: COUNT_MAX,
    default: 10_000,
    help: "changes kept for IXFR; a secondary further behind gets the whole zone",
  },
  {
    key: "dns.transfer_image_mb",
    kind: "int",
    min: 0,
    max: 4096,
    default: 16,
    help: "MiB the zone's encoded transfer may take to be kept (made at start-up, shared by transfers at one serial); 0 = none",
  },
  {
    key: "dns.pagekite_address",
    kind: "address",
    default: {
      computed: ({ get }) => (get("dns.nameservers") as string[][]).find(([, ip]) => ip)?.[1] ?? "",
      shown: 'the first dns.nameservers address, else ""',
    },
    help: 'glue address of ns.<domain>.<domain>., to which the zone delegates the PageKite subtree: this server; "" = none',
  },
  { key: "dns.dnssec", kind: "bool", default: false, help: "sign answers to queries with the DO bit (DNSSEC); the key is made at the first start" },
  {
    key: "dns.dnssec_algorithm",
    kind: "choice",
    choices: DNSSEC_ALGORITHMS,
    default: "ecdsap256sha256",
    help: "ecdsap256sha256 (13) or ed25519 (15): the key made at the first start with dns.dnssec on; a stored key keeps its own",
  },
  {
    key: "admin.host",
    kind: "host",
    flag: "--admin-host",
    default: "127.0.0.1",
    help: "admin listener addresses, one or a list (/healthz, /metrics, the command line's endpoints): keep them private",
  },
  { key: "admin.port", kind: "port", flag: "--admin-port", default: 9153, help: "admin listener port; 0 = no admin listener" },
  { key: "database.path", kind: "string", flag: "--db", default: "./data/registration.sqlite", help: "the SQLite file (directory created; :memory: allowed)" },
  {
    key: "database.check_seconds",
    kind: "int",
    min: 1,
    max: 60,
    default: 10,
    help: "how often the server checks that database.path is still the file it opened",
  },
  { key: "expiry.inactive_days", kind: "int", min: 1, max: 36_500, default: 60, help: "a name whose gateway has not pinged for this long is freed" },
  // Timers hold at most 2^31 - 1 ms (about 24.8 days); beyond that they fire at once.
  {
    key: "expiry.interval_seconds",
    kind: "int",
    min: 1,
    max: Math.floor((2 ** 31 - 1) / 1000),
    default: 3600,
    help: "how often the expiry sweep runs (and once at start-up)",
  },
  {
    key: "expiry.warn_days",
    kind: "int",
    max: 36_500,
    default: { computed: ({ get }) => ((get("expiry.inactive_days") as number) > 7 ? 7 : 0), shown: "7 (0 when expiry.inactive_days is 7 or less)" },
    help: "a name's verified owner is emailed a link that keeps it this many days before it is freed; 0 = no warning",
  },
  {
    key: "expiry.max_fraction",
    kind: "fraction",
    flag: "--expiry-max-fraction",
    default: 0.25,
    help: "a sweep that would free more than this share of all names frees none and logs why; 1 for one run frees them",
  },
  { key: "email.from", kind: "string", default: null, help: "sender of the emails; required with email.resend_api_key" },
  {
    key: "email.resend_api_key",
    kind: "string",
    secret: true,
    default: null,
    help: "Resend API key (or env RESEND_API_KEY); unset: emails are written to the log",
  },
  { key: "email.send_timeout_seconds", kind: "int", min: 1, max: 300, default: 10, help: "a provider slower than this answers 501" },
  { key: "email.reclamation_subject", kind: "string", default: DEFAULT_TEMPLATES.reclamation_subject, help: "subject of the reclamation email ({domain})" },
  {
    key: "email.reclamation_body",
    kind: "string",
    default: DEFAULT_TEMPLATES.reclamation_body,
    help: "HTML body of the reclamation email ({token}, {domain})",
  },
  { key: "email.confirmation_subject", kind: "string", default: DEFAULT_TEMPLATES.confirmation_subject, help: "subject of the verification email ({domain})" },
  {
    key: "email.confirmation_body",
    kind: "string",
    default: DEFAULT_TEMPLATES.confirmation_body,
    help: "HTML body of the verification email ({link}, {domain})",
  },
  { key: "email.warning_subject", kind: "string", default: DEFAULT_TEMPLATES.warning_subject, help: "subject of the expiry warning ({domain}, {date})" },
  {
    key: "email.warning_body",
    kind: "string",
    default: DEFAULT_TEMPLATES.warning_body,
    help: "HTML body of the expiry warning ({link}, {domain}, {date}: when it is freed, {last_seen})",
  },
  { key: "email.success_page", kind: "string", default: null, help: "HTML page for a followed link; unset: built-in pages naming the name and address" },
  { key: "email.error_page", kind: "string", default: null, help: "HTML page for a missing, unknown or expired link; unset: built-in pages saying which" },
  { key: "limits.subscribe_per_hour", kind: "int", max: COUNT_MAX, default: 20, help: "/subscribe calls per client an hour, failures included; 0 = no limit" },
  { key: "limits.email_requests_per_hour", kind: "int", max: COUNT_MAX, default: 60, help: "/setemail and /reclaim calls per client an hour" },
  { key: "limits.emails_per_recipient_per_hour", kind: "int", max: COUNT_MAX, default: 5, help: "emails of each kind to one mailbox an hour, whoever asks" },
  { key: "limits.emails_per_recipient_per_day", kind: "int", max: COUNT_MAX, default: 20, help: "emails of each kind to one mailbox a day" },
  { key: "limits.reclaim_emails_per_name_per_hour", kind: "int", max: COUNT_MAX, default: 3, help: "reclamation emails for one name an hour" },
  { key: "limits.updates_per_name_per_minute", kind: "int", max: COUNT_MAX, default: 5, help: "dyndns2 updates of one name a minute (`abuse` past it)" },
  { key: "limits.ipv6_site_factor", kind: "int", min: 1, max: 65_536, default: 10, help: "an IPv6 /48 gets this many times a client's (/64's) budget" },
  {
    key: "log.format",
    kind: "choice",
    choices: LOG_FORMATS,
    default: "text",
    help: "text: an ISO time, then the message (no time under journald); json: one object a line",
  },
  { key: "log.level", kind: "choice", choices: LOG_LEVELS, default: "info", help: "debug: an error's stack follows its message, on the same line" },
];
const KEY_BY_NAME = new Map(KEYS.map((k) => [k.key, k]));

const isComputed = (value: unknown): value is Computed => typeof value === "object" && value !== null && "computed" in value;

/** A default as people read it: README's table and --help. */
function shownDefault(k: Key): string {
  if (isComputed(k.default)) return k.default.shown;
  if (k.default === null) return "(unset)";
  if (k.key.startsWith("email.") && typeof k.default === "string" && k.key !== "email.from") return "(built in)";
  return typeof k.default === "string" ? k.default : JSON.stringify(k.default);
}

/** The environment variable of a key: REGISTRATION_<SECTION>_<KEY>. */
export const envName = (key: string): string => `REGISTRATION_${key.replace(/\./g, "_").toUpperCase()}`;

/** README's settings table, made from KEYS (test/config/readme-settings.test.ts keeps README in step). */
export function settingsTable(): string {
  const cell = (text: string) => text.replace(/\|/g, "\\|");
  const prose = (text: string) => cell(text).replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const rows = KEYS.map((k) => `| ${k.flag ? `\`${k.flag}\`` : ""} | \`${k.key}\` | \`${cell(shownDefault(k))}\` | ${prose(k.help)} |`);
  return ["| flag | TOML key | default | what it sets |", "| --- | --- | --- | --- |", ...rows].join("\n");
}

/** The text of --help, made from KEYS when asked for (not at every start). */
export function helpText(): string {
  const width = 26;
  const pad = (left: string) => (left.length >= width ? `${left}\n${" ".repeat(width + 2)}` : left.padEnd(width));
  const flags = KEYS.filter((k) => k.flag).map(
    (k) => `  ${pad(`${k.flag} ${k.kind === "port" || k.kind === "int" ? "N" : "VALUE"}`)}${k.help} (default ${shownDefault(k)})`,
  );
  const keyWidth = Math.max(...KEYS.map((k) => k.key.length)) + 2;
  const keys = KEYS.map((k) => `  ${k.key.padEnd(keyWidth)}${shownDefault(k)}`);
  return `registration-server ${VERSION}: names, DNS and certificates for home gateways

Usage: registration-server [--config FILE] [flags]

Flags:
  ${pad("--config FILE")}TOML settings file (new layout, or the Rust server's)
${flags.join("\n")}
  --help, --version

Settings (TOML key and default); each is also the environment variable REGISTRATION_<SECTION>_<KEY>,
e.g. REGISTRATION_HTTP_PORT=8080. RESEND_API_KEY sets email.resend_api_key. README explains each.
${keys.join("\n")}
`;
}

type Raw = Record<string, unknown>;

/** Flattens nested TOML tables into dotted keys, rejecting unknown ones. */
function flatten(table: Raw, prefix: string, out: Raw, source: string): void {
  for (const [name, value] of Object.entries(table)) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (KEY_BY_NAME.has(key)) out[key] = value;
    else if (value && typeof value === "object" && !Array.isArray(value) && !prefix) flatten(value as Raw, key, out, source);
    else throw new SettingsError(`${source}: unknown setting '${key}'`);
  }
}

/**
 * The keys each section of the Rust server's layout had, across its versions. Keys without a
 * counterpart here (api_ttl, socket_path, certificates, per-continent GeoIP...) are read and
 * left unused; a key in none of these lists is a typo and stops start-up.
 */
const LEGACY_KEYS: Record<"general" | "pdns" | "email", readonly string[]> = {
  general: [
    ...["host", "http_port", "db_path", "domain"],
    ...["port", "https_port", "data_directory", "cert_directory", "identity_directory", "identity_password", "tunnel_ip", "eviction_delay"],
  ],
  pdns: [
    ...["dns_ttl", "tunnel_ttl", "api_ttl", "socket_path", "soa_record", "soa_content", "geoip"],
    ...["caa_records", "caa_record", "mx_records", "mx_record", "ns_records", "txt_records", "txt_record", "psl_record", "cname_records"],
    ...["www_addresses", "www_address"],
  ],
  email: [
    ...["server", "user", "password", "sender", "reclamation_title", "reclamation_body", "confirmation_title", "confirmation_body"],
    ...["success_page", "error_page"],
  ],
};
const LEGACY_GEOIP_KEYS = ["default", "database", "continent"];
/** The Rust server mailed through SMTP; this one sends through Resend or writes to the log. */
const LEGACY_SMTP_KEYS = ["server", "user", "password"];

/**
 * Maps the Rust server's [general]/[pdns]/[email] layout onto our keys. The sections of the new
 * layout ([http], [dns], [limits]...) may stand beside them, and [email] may hold the new
 * layout's keys (from, resend_api_key...) as well as the Rust ones.
 */
function fromLegacy(doc: Raw, source: string): TomlLayer {
  const out: Raw = {};
  /** where each key came from, for a key set twice */
  const origin = new Map<string, string>();
  const table = (name: string): Raw => {
    const value = doc[name] ?? {};
    if (typeof value !== "object" || Array.isArray(value)) throw new SettingsError(`${source}: [${name}] must be a table`);
    return value as Raw;
  };
  const general = table("general");
  const pdns = table("pdns");
  const email = table("email");
  for (const [name, section] of [
    ["general", general],
    ["pdns", pdns],
  ] as const) {
    for (const key of Object.keys(section))
      if (!LEGACY_KEYS[name].includes(key))
        throw new SettingsError(`${source}: unknown key '${key}' in [${name}] (the Rust layout's keys there: ${LEGACY_KEYS[name].join(", ")})`);
  }
  const geoip = pdns.geoip as Raw | undefined;
  for (const key of Object.keys(geoip ?? {}))
    if (!LEGACY_GEOIP_KEYS.includes(key)) throw new SettingsError(`${source}: unknown key '${key}' in [pdns.geoip] (known: ${LEGACY_GEOIP_KEYS.join(", ")})`);
  const set = (key: string, value: unknown, from: string) => {
    out[key] = value;
    origin.set(key, from);
  };
  const map: [Raw, string, string, string][] = [
    [general, "general", "host", "http.host"],
    [general, "general", "http_port", "http.port"],
    [general, "general", "port", "http.port"],
    [general, "general", "domain", "domain"],
    [general, "general", "db_path", "database.path"],
    [pdns, "pdns", "dns_ttl", "dns.ttl"],
    [pdns, "pdns", "tunnel_ttl", "dns.gateway_ttl"],
    [pdns, "pdns", "soa_record", "dns.soa"],
    [pdns, "pdns", "soa_content", "dns.soa"],
    [email, "email", "sender", "email.from"],
    [email, "email", "reclamation_title", "email.reclamation_subject"],
    [email, "email", "reclamation_body", "email.reclamation_body"],
    [email, "email", "confirmation_title", "email.confirmation_subject"],
    [email, "email", "confirmation_body", "email.confirmation_body"],
    [email, "email", "success_page", "email.success_page"],
    [email, "email", "error_page", "email.error_page"],
  ];
  for (const [section, name, from, to] of map) if (section[from] !== undefined) set(to, section[from], `[${name}] ${from}`);
  // The oldest versions kept the database in a directory and had one tunnel address.
  if (general.data_directory !== undefined && general.db_path === undefined)
    set("database.path", `${String(general.data_directory).replace(/\/+$/, "")}/domains.sqlite`, "[general] data_directory");
  if (typeof general.tunnel_ip === "string") set("dns.tunnel_addresses", [general.tunnel_ip], "[general] tunnel_ip");
  // Rust versions differ: a record list holds plain strings (apex records) or [name, value]
  // pairs, and older files have one record in a singular key (mx_record, www_address...).
  const list = (plural: string, singular: string): unknown[] | undefined =>
    Array.isArray(pdns[plural]) ? pdns[plural] : typeof pdns[singular] === "string" ? [pdns[singular]] : undefined;
  const caa = list("caa_records", "caa_record");
  if (caa)
    set(
      "dns.caa",
      caa.map((r) => (Array.isArray(r) ? r.at(-1) : r)),
      "[pdns] caa_records",
    );
  const mx = list("mx_records", "mx_record");
  if (mx)
    set(
      "dns.mx",
      mx.map((r) => legacyPair(r, source)),
      "[pdns] mx_records",
    );
  const txt = [...(list("txt_records", "txt_record") ?? []).map((r) => legacyPair(r, source))];
  if (typeof pdns.psl_record === "string") txt.push(["_psl", pdns.psl_record]);
  if (txt.length) set("dns.txt", txt, "[pdns] txt_records");
  const www = list("www_addresses", "www_address");
  if (www) set("dns.www_addresses", www, "[pdns] www_addresses");
  if (Array.isArray(pdns.cname_records)) set("dns.cname", pdns.cname_records, "[pdns] cname_records");
  if (Array.isArray(pdns.ns_records)) set("dns.nameservers", pdns.ns_records, "[pdns] ns_records");

  // The new layout's sections beside them; [email] keys that are not the Rust ones are new-layout keys.
  const modern: Raw = {};
  for (const [name, value] of Object.entries(doc)) {
    if (name === "general" || name === "pdns") continue;
    if (name !== "email") modern[name] = value;
    else modern.email = Object.fromEntries(Object.entries(email).filter(([key]) => !LEGACY_KEYS.email.includes(key)));
  }
  const added: Raw = {};
  flatten(modern, "", added, source);
  for (const [key, value] of Object.entries(added)) {
    const earlier = origin.get(key);
    if (earlier) throw new SettingsError(`${source}: ${key} is set twice, by ${earlier} and by ${key} of the new layout; keep one`);
    out[key] = value;
  }
  // The Rust server answered tunneled gateways and api.<domain> with its GeoIP default address.
  if (typeof geoip?.default === "string" && out["dns.tunnel_addresses"] === undefined) out["dns.tunnel_addresses"] = [geoip.default];
  // api_ttl and the per-continent GeoIP addresses have no counterpart: answers use dns.ttl and one address list.
  return { raw: out, legacy: { smtpKeys: LEGACY_SMTP_KEYS.filter((key) => email[key] !== undefined) } };
}

function legacyPair(record: unknown, source: string): unknown {
  if (typeof record === "string") return ["@", record];
  if (Array.isArray(record) && record.length >= 2) return [String(record[0]), String(record.at(-1))];
  throw new SettingsError(`${source}: legacy record ${JSON.stringify(record)} is not [name, value]`);
}

function parseFlags(argv: string[]): { raw: Raw; config?: string; help: boolean; version: boolean } {
  const raw: Raw = {};
  let config: string | undefined;
  let help = false;
  let version = false;
  const byFlag = new Map(KEYS.filter((k) => k.flag).map((k) => [k.flag!, k]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--help" || arg === "-h") {
      help = true;
      continue;
    }
    if (arg === "--version" || arg === "-V") {
      version = true;
      continue;
    }
    const [flag, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    const value = inline ?? argv[++i];
    if (flag === "--config") {
      if (!value) throw new SettingsError("--config needs a file name");
      config = value;
      continue;
    }
    const key = byFlag.get(flag);
    if (!key) throw new SettingsError(`unknown argument '${arg}' (see --help)`);
    if (value === undefined) throw new SettingsError(`${flag} needs a value`);
    raw[key.key] = value;
  }
  return { raw, config, help, version };
}

/** REGISTRATION_<SECTION>_<KEY> -> its key, e.g. REGISTRATION_HTTP_PORT -> http.port */
const KEY_BY_ENV = new Map(KEYS.map((k) => [envName(k.key), k]));

function fromEnv(env: Record<string, string | undefined>): Raw {
  const raw: Raw = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("REGISTRATION_")) continue;
    const k = KEY_BY_ENV.get(name);
    if (!k) throw new SettingsError(`unknown environment variable ${name}`);
    if (value !== undefined && value !== "") raw[k.key] = value;
  }
  if (raw["email.resend_api_key"] === undefined && env.RESEND_API_KEY) raw["email.resend_api_key"] = env.RESEND_API_KEY;
  return raw;
}

interface TomlLayer {
  raw: Raw;
  /** the Rust server's layout: the SMTP keys it set, which this server cannot use */
  legacy?: { smtpKeys: string[] };
}

function fromToml(path: string): TomlLayer {
  if (!existsSync(path)) throw new SettingsError(`--config: no such file ${path}`);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new SettingsError(`cannot read ${path}: ${(e as Error).message.split("\n")[0]}`);
  }
  let doc: Raw;
  try {
    doc = Bun.TOML.parse(text) as Raw;
  } catch (e) {
    throw new SettingsError(`${path}: not valid TOML (${tomlError((e as Error).message, text)})`);
  }
  if ("general" in doc || "pdns" in doc) return fromLegacy(doc, path);
  const out: Raw = {};
  flatten(doc, "", out, path);
  return { raw: out };
}

/**
 * Bun's TOML errors quote the offending text and give no line: an unquoted secret
 * (`resend_api_key = re_...`) came back in full. Names the line holding that text instead.
 */
function tomlError(message: string, text: string): string {
  const first = message.split("\n")[0];
  const quoted = /: "(.*)"$/.exec(first);
  if (!quoted) return first;
  const line = text.split("\n").findIndex((l) => l.includes(quoted[1]));
  return `${line >= 0 ? `line ${line + 1}: ` : ""}${first.slice(0, quoted.index)}`;
}

// Values from flags and the environment arrive as strings and are parsed; TOML gives typed
// values, which must be of the documented type (`port = "8080"` is a string, not a port).
function coerce(k: Key, value: unknown, source: string, typed: boolean): unknown {
  const bad = (why: string) => new SettingsError(`${source}: ${k.key} ${why}${k.secret ? "" : ` (got ${JSON.stringify(value)})`}`);
  if (typed) {
    const want = TOML_TYPE[k.kind];
    const got = Array.isArray(value) ? "list" : typeof value === "object" ? "table" : typeof value;
    if (want && got !== want) throw bad(`must be a TOML ${want}, not a ${got}`);
  }
  const parseJsonList = (v: unknown) => {
    if (typeof v !== "string") return v;
    try {
      return JSON.parse(v);
    } catch {
      return v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
    }
  };
  switch (k.kind) {
    case "string": {
      if (typeof value !== "string" || value === "") throw bad("must be a non-empty string");
      return value;
    }
    case "host": {
      // One address, a comma-separated list (flags, environment) or a TOML list.
      const list = typeof value === "string" ? value.split(",").map((s) => s.trim()) : value;
      if (!Array.isArray(list) || list.length === 0 || list.some((a) => typeof a !== "string" || (isIP(a) === 0 && a !== "localhost")))
        throw bad("must be an IP address or a list of them");
      return [...new Set(list as string[])];
    }
    case "url": {
      if (typeof value !== "string" || !URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol)) throw bad("must be an http(s) URL");
      return value.replace(/\/+$/, "");
    }
    case "port":
    case "int": {
      const n = typeof value === "string" && /^\d+$/.test(value.trim()) ? Number(value) : value;
      if (typeof n !== "number" || !Number.isInteger(n) || n < 0) throw bad("must be a non-negative integer");
      if (k.kind === "port" && n > 65535) throw bad("must be a port number (0-65535)");
      if (k.min !== undefined && n < k.min) throw bad(`must be at least ${k.min}`);
      if (k.max !== undefined && n > k.max) throw bad(`must be at most ${k.max}`);
      return n;
    }
    case "fraction": {
      const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
      if (typeof n !== "number" || !(n > 0 && n <= 1)) throw bad("must be a number above 0 and at most 1");
      return n;
    }
    case "choice": {
      if (typeof value !== "string" || !k.choices!.includes(value)) throw bad(`must be one of ${k.choices!.join(", ")}`);
      return value;
    }
    case "bool": {
      if (typeof value === "boolean") return value;
      if (value === "true" || value === "1") return true;
      if (value === "false" || value === "0") return false;
      throw bad("must be true or false");
    }
    case "list": {
      const v = parseJsonList(value);
      if (!Array.isArray(v) || v.some((s) => typeof s !== "string")) throw bad("must be a list of strings");
      return v;
    }
    case "cidrs": {
      const v = parseJsonList(value);
      if (!Array.isArray(v) || v.some((s) => typeof s !== "string" || parseCidr(s) === null)) throw bad("must be a list of IP addresses or CIDRs");
      return v;
    }
    case "address": {
      if (typeof value !== "string" || (value !== "" && isIP(value) === 0)) throw bad('must be an IP address or ""');
      return value;
    }
    case "triples": {
      const v = parseJsonList(value);
      if (!Array.isArray(v) || v.some((t) => !Array.isArray(t) || t.length !== 3 || t.some((s) => typeof s !== "string")))
        throw bad("must be a list of [name, algorithm, secret] lists");
      return v;
    }
    case "pairs":
    case "nameservers": {
      const v = parseJsonList(value);
      if (!Array.isArray(v) || v.some((p) => !Array.isArray(p) || p.length < 1 || p.length > 2 || p.some((s) => typeof s !== "string")))
        throw bad("must be a list of [name, value] pairs");
      return v;
    }
  }
}

/** The TOML type a kind takes (strings, and "host", which is one address or a list, are checked by coerce). */
const TOML_TYPE: Partial<Record<Kind, "number" | "boolean" | "list">> = {
  port: "number",
  int: "number",
  fraction: "number",
  bool: "boolean",
  list: "list",
  cidrs: "list",
  pairs: "list",
  triples: "list",
  nameservers: "list",
};

function fqdn(name: string): string {
  return name.endsWith(".") ? name.toLowerCase() : `${name.toLowerCase()}.`;
}

/**
 * A static record's owner as the zone keys it: "@" (apex), "*" (every gateway) or a name relative
 * to the apex. A name ending in the zone, with or without the final dot (Rust-era files spelled
 * full names both ways), is made relative; a fully qualified name outside the zone is refused.
 * Any other name without the final dot is relative already.
 */
function ownerLabel(owner: string, domain: string, key: string, source: string): string {
  const name = owner.toLowerCase();
  if (name === "@" || name === "*") return name;
  const absolute = name.replace(/\.$/, "");
  if (absolute === domain) return "@";
  if (absolute.endsWith(`.${domain}`)) return absolute.slice(0, -domain.length - 1);
  if (name.endsWith(".")) throw new SettingsError(`${source}: ${key} owner ${JSON.stringify(owner)} is outside the zone ${domain}`);
  return name;
}

function parseSoa(text: string, source: string): DnsSettings["soa"] {
  const parts = text.trim().split(/\s+/);
  const nums = parts.slice(2).map(Number);
  if (parts.length !== 7 || nums.some((n) => !Number.isInteger(n) || n < 0 || n > 0xffffffff))
    throw new SettingsError(`${source}: dns.soa must be 'mname rname serial refresh retry expire minimum' (got ${JSON.stringify(text)})`);
  const [serial, refresh, retry, expire, minimum] = nums;
  return { mname: fqdn(parts[0]), rname: fqdn(parts[1]), serial, refresh, retry, expire, minimum };
}

function checkAddresses(key: string, list: string[], source: string): string[] {
  for (const a of list) if (isIP(a) === 0) throw new SettingsError(`${source}: ${key} has ${JSON.stringify(a)}, which is not an IP address`);
  return list;
}

/** A key or algorithm name as the wire and the digest have it: ASCII lower case with its trailing dot. */
const KEY_NAME = /^(?=.{1,254}$)([a-z0-9_-]{1,63}\.)+$/;

/** dns.tsig_keys, dns.transfer_acl, dns.notify, dns.journal_max_changes, dns.transfer_image_mb, dns.pagekite_address (docs/dns.md, "Zone transfers"). */
function transferSettings(
  get: <T>(key: string) => T,
  src: (key: string) => string,
): Pick<DnsSettings, "tsigKeys" | "transferAcl" | "notify" | "journalMaxChanges" | "transferImageMb" | "pagekiteAddress"> {
  const tsigKeys = get<string[][]>("dns.tsig_keys").map(([name, algorithm, secret]): TsigKey => {
    const where = `${src("dns.tsig_keys")}: dns.tsig_keys entry ${JSON.stringify(name)}`;
    const keyName = fqdn(name);
    if (!KEY_NAME.test(keyName)) throw new SettingsError(`${where}: the key name must be a DNS name of letters, digits, - and _`);
    const alg = algorithm.toLowerCase().replace(/\.$/, "");
    if (!(TSIG_ALGORITHMS as readonly string[]).includes(alg))
      throw new SettingsError(`${where}: algorithm ${JSON.stringify(algorithm)} is not one of ${TSIG_ALGORITHMS.join(", ")}`);
    const text = secret.trim();
    // the secret itself is never part of a message
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0)
      throw new SettingsError(`${where}: the secret is not base64 (e.g. from \`tsig-keygen -a ${alg} ${keyName}\` or \`openssl rand -base64 32\`)`);
    if (Buffer.from(text, "base64").length < 16) throw new SettingsError(`${where}: the secret must decode to at least 16 octets`);
    return { name: keyName, algorithm: alg as TsigKey["algorithm"], secret: text };
  });
  const names = new Set<string>();
  for (const { name } of tsigKeys) {
    if (names.has(name)) throw new SettingsError(`${src("dns.tsig_keys")}: dns.tsig_keys names ${name} twice`);
    names.add(name);
  }
  const keyOf = (key: string | undefined, setting: string): string => {
    if (key === undefined || key === "") return "";
    const name = fqdn(key);
    if (!names.has(name)) throw new SettingsError(`${src(setting)}: ${setting} names the key ${JSON.stringify(key)}, which is not in dns.tsig_keys`);
    return name;
  };
  const transferAcl = get<string[][]>("dns.transfer_acl").map(([cidr, key]) => {
    if (parseCidr(cidr) === null)
      throw new SettingsError(`${src("dns.transfer_acl")}: dns.transfer_acl has ${JSON.stringify(cidr)}, which is not an address or CIDR`);
    return { cidr: cidr.trim(), key: keyOf(key, "dns.transfer_acl") };
  });
  const notify = get<string[][]>("dns.notify").map(([target, key]) => {
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(target.trim()) ?? /^([^:]+)(?::(\d+))?$/.exec(target.trim()) ?? [target, target.trim()];
    const [host, port = "53"] = [m[1], m[2]];
    if (isIP(host) === 0 || !/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)
      throw new SettingsError(
        `${src("dns.notify")}: dns.notify target ${JSON.stringify(target)} is not address:port (e.g. "192.0.2.53:53" or "[2001:db8::53]:53")`,
      );
    return { host, port: Number(port), key: keyOf(key, "dns.notify") };
  });
  return {
    tsigKeys,
    transferAcl,
    notify,
    journalMaxChanges: get("dns.journal_max_changes"),
    transferImageMb: get("dns.transfer_image_mb"),
    pagekiteAddress: get("dns.pagekite_address"),
  };
}

/** A "host" key's value: a list once coerced, a single address as a default. */
const hostList = (value: string | string[]): string[] => [value].flat();

export interface LoadResult {
  settings: Settings;
  help: boolean;
  version: boolean;
  /** things that work but likely not as meant: serve logs each once at start-up, check-config prints them */
  warnings: string[];
}

export function loadSettings(argv: string[], env: Record<string, string | undefined> = process.env): LoadResult {
  const flags = parseFlags(argv);
  const layers: [Raw, string, boolean][] = [];
  const configPath = flags.config ?? env.REGISTRATION_CONFIG;
  const toml = configPath ? fromToml(configPath) : undefined;
  if (toml) layers.push([toml.raw, configPath!, true]);
  const { REGISTRATION_CONFIG: _ignored, ...rest } = env;
  layers.push([fromEnv(rest), "environment", false], [flags.raw, "command line", false]);

  const values = new Map<string, unknown>();
  const sources = new Map<string, string>();
  for (const [raw, source, typed] of layers) {
    for (const [key, value] of Object.entries(raw)) {
      const k = KEY_BY_NAME.get(key)!;
      values.set(key, coerce(k, value, source, typed));
      sources.set(key, source);
    }
  }
  let domain = "";
  // Each value was checked against its key's kind by coerce(), each default is of that kind.
  // biome-ignore lint/suspicious/noExplicitAny: the kind, not the type system, says what a key holds
  const get = <T = any>(key: string): T => {
    if (values.has(key)) return values.get(key) as T;
    const fallback = KEY_BY_NAME.get(key)!.default;
    return (isComputed(fallback) ? fallback.computed({ domain, get }) : fallback) as T;
  };
  const src = (key: string) => sources.get(key) ?? "default";

  domain = get<string>("domain").toLowerCase().replace(/\.$/, "");
  if (!/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(domain) || domain.length > 200)
    throw new SettingsError(`${src("domain")}: domain ${JSON.stringify(domain)} is not a valid DNS name`);
  const httpPort = get("http.port");
  const soaText = get("dns.soa");
  const nameservers = get<string[][]>("dns.nameservers").map(([name, ip]): [string, string | null] => {
    if (ip !== undefined) checkAddresses("dns.nameservers", [ip], src("dns.nameservers"));
    return [fqdn(name), ip ?? null];
  });
  const caa = get<string[]>("dns.caa").map((text): [number, string, string] => {
    const m = /^\s*(\d+)\s+([a-zA-Z0-9]+)\s+"?([^"]*)"?\s*$/.exec(text);
    if (!m || Number(m[1]) > 255) throw new SettingsError(`${src("dns.caa")}: dns.caa entry ${JSON.stringify(text)} is not 'flags tag "value"'`);
    return [Number(m[1]), m[2].toLowerCase(), m[3]];
  });
  const mx = get<string[][]>("dns.mx").map(([label, value]): [string, number, string] => {
    const m = /^\s*(\d+)\s+(\S+)\s*$/.exec(value ?? "");
    if (!m || Number(m[1]) > 65535)
      throw new SettingsError(`${src("dns.mx")}: dns.mx entry for ${label} must be "priority host" (got ${JSON.stringify(value)})`);
    return [ownerLabel(label, domain, "dns.mx", src("dns.mx")), Number(m[1]), fqdn(m[2])];
  });
  const txt = get<string[][]>("dns.txt").map(([label, text]): [string, string] => {
    if (text === undefined) throw new SettingsError(`${src("dns.txt")}: dns.txt entry for ${label} has no text`);
    return [ownerLabel(label, domain, "dns.txt", src("dns.txt")), text];
  });
  const cname = get<string[][]>("dns.cname").map(([name, target]): [string, string] => {
    if (target === undefined) throw new SettingsError(`${src("dns.cname")}: dns.cname entry for ${name} has no target`);
    return [fqdn(name), fqdn(target)];
  });
  const cnameTargets = new Map(cname);
  for (const [start] of cname) {
    let name: string | undefined = start;
    for (let hops = 0; name !== undefined; hops++) {
      if (hops > cname.length) throw new SettingsError(`${src("dns.cname")}: dns.cname entries loop through ${start}`);
      name = cnameTargets.get(name);
    }
  }
  const inactiveDays = get("expiry.inactive_days");
  const intervalSeconds = get("expiry.interval_seconds");
  const warnDays = get<number>("expiry.warn_days");
  if (warnDays >= inactiveDays && warnDays > 0)
    throw new SettingsError(
      `${src("expiry.warn_days")}: expiry.warn_days (${warnDays}) must be less than expiry.inactive_days (${inactiveDays}), or 0 for no warning`,
    );

  const settings: Settings = {
    domain,
    http: {
      host: hostList(get("http.host")),
      port: httpPort,
      publicUrl: get("http.public_url"),
      // trust_proxy (superseded): true = the default list, false = none; trusted_proxies wins when both are set
      trustedProxies: get("http.trusted_proxies"),
      accessLog: get<AccessLog>("http.access_log"),
    },
    dns: {
      domain,
      host: hostList(get("dns.host")),
      port: get("dns.port"),
      ttl: get("dns.ttl"),
      gatewayTtl: get("dns.gateway_ttl"),
      soa: parseSoa(soaText, src("dns.soa")),
      nameservers,
      tunnelAddresses: checkAddresses("dns.tunnel_addresses", get("dns.tunnel_addresses"), src("dns.tunnel_addresses")),
      wwwAddresses: checkAddresses("dns.www_addresses", get("dns.www_addresses"), src("dns.www_addresses")),
      caa,
      mx,
      txt,
      cname,
      rrl: { rate: get("dns.rrl_rate"), slip: get("dns.rrl_slip") },
      warmUpQueries: get("dns.warm_up_queries"),
      ...transferSettings(get, src),
      dnssec: get<boolean>("dns.dnssec"),
      dnssecAlgorithm: get<DnssecAlgorithm>("dns.dnssec_algorithm"),
    },
    admin: { host: hostList(get("admin.host")), port: get("admin.port") },
    database: { path: get("database.path"), checkSeconds: get("database.check_seconds") },
    expiry: { inactiveDays, intervalSeconds, maxFraction: get("expiry.max_fraction"), warnDays },
    email: {
      from: get<string | null>("email.from"),
      resendApiKey: get<string | null>("email.resend_api_key"),
      sendTimeoutSeconds: get("email.send_timeout_seconds"),
      reclamationSubject: get("email.reclamation_subject"),
      reclamationBody: get("email.reclamation_body"),
      confirmationSubject: get("email.confirmation_subject"),
      confirmationBody: get("email.confirmation_body"),
      warningSubject: get("email.warning_subject"),
      warningBody: get("email.warning_body"),
      successPage: get<string | null>("email.success_page"),
      errorPage: get<string | null>("email.error_page"),
    },
    limits: {
      subscribePerHour: get("limits.subscribe_per_hour"),
      emailRequestsPerHour: get("limits.email_requests_per_hour"),
      emailsPerRecipientPerHour: get("limits.emails_per_recipient_per_hour"),
      emailsPerRecipientPerDay: get("limits.emails_per_recipient_per_day"),
      reclaimEmailsPerNamePerHour: get("limits.reclaim_emails_per_name_per_hour"),
      updatesPerNamePerMinute: get("limits.updates_per_name_per_minute"),
      ipv6SiteFactor: get("limits.ipv6_site_factor"),
    },
    log: { format: get<LogFormat>("log.format"), level: get<LogLevel>("log.level") },
  };
  if (settings.email.resendApiKey && !settings.email.from)
    throw new SettingsError(`${src("email.resend_api_key")}: email.from must be set when email.resend_api_key is`);
  return {
    settings,
    help: flags.help,
    version: flags.version,
    warnings: settingsWarnings(settings, toml?.legacy && { ...toml.legacy, source: configPath!, publicUrlSet: values.has("http.public_url") }),
  };
}

/** What works but likely not as meant, one line each (the server logs them at start-up). */
function settingsWarnings(settings: Settings, legacy?: { smtpKeys: string[]; source: string; publicUrlSet: boolean }): string[] {
  const warnings: string[] = [];
  const zone = `${settings.domain}.`;
  for (const [name, address] of settings.dns.nameservers)
    if (address === null && (name === zone || name.endsWith(`.${zone}`)))
      warnings.push(
        `dns.nameservers: ${name} is inside the zone but has no address, so its A query answers NODATA (registrars and named-checkzone refuse such a delegation): give it one, e.g. [["${name}", "192.0.2.1"]]`,
      );
  if (settings.dns.tunnelAddresses.length === 0)
    warnings.push(
      "dns.tunnel_addresses is empty: a tunnel-mode name (every WebThings gateway's: it never sends mode) has no address until its first ping, and the gateway's PageKite connects to its name before it pings; set dns.tunnel_addresses to the tunnel front end's address",
    );
  if (settings.dns.notify.length > 0 && settings.dns.transferAcl.length === 0)
    warnings.push(
      "dns.notify names secondaries but dns.transfer_acl is empty, so none may transfer the zone: add their addresses (and keys) to dns.transfer_acl",
    );
  if (legacy && legacy.smtpKeys.length > 0)
    warnings.push(
      `${legacy.source}: [email] ${legacy.smtpKeys.join(", ")} (the Rust server's SMTP) cannot be used: ${
        settings.email.resendApiKey
          ? "emails are sent through Resend (email.resend_api_key)"
          : "emails are written to the log until email.resend_api_key (or RESEND_API_KEY) is set"
      }`,
    );
  if (legacy && !legacy.publicUrlSet)
    warnings.push(
      `${legacy.source}: no http.public_url (the Rust layout has none), so links in emails point at ${settings.http.publicUrl}; set public_url in an [http] section (or --public-url)`,
    );
  return warnings;
}
