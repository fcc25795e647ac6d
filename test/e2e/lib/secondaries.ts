// Real secondaries: Debian's NSD, Knot and BIND, each in its own directory on a free loopback
// port, transferring the zone from a primary (ours, or an NSD primary that proves the harness)
// with TSIG key xfr-key. (hmac-sha256), accepting its signed NOTIFY and asking IXFR.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { freePort } from "../../support/server.ts";
import { dig } from "./dig.ts";
import { run, spawnDaemon, waitFor, type Daemon } from "./proc.ts";

export type SecondaryKind = "nsd" | "knot" | "bind";
export const SECONDARY_KINDS: SecondaryKind[] = ["nsd", "knot", "bind"];

export interface TsigKey {
  /** lower case, with its trailing dot, as dns.tsig_keys names it */
  name: string;
  algorithm: "hmac-sha256" | "hmac-sha512";
  /** base64 */
  secret: string;
}

/** A fresh 32-byte hmac-sha256 key named xfr-key. (what `tsig-keygen xfr-key` prints). */
export function makeTsigKey(name = "xfr-key."): TsigKey {
  return { name, algorithm: "hmac-sha256", secret: randomBytes(32).toString("base64") };
}

/** The key name without its trailing dot, as the peers' configs spell it. */
const bare = (key: TsigKey) => key.name.replace(/\.$/, "");

/** `dig -y` form of a key: hmac-sha256:xfr-key:<secret>. */
export function digKeyArg(key: TsigKey): string {
  return `${key.algorithm}:${bare(key)}:${key.secret}`;
}

export interface Endpoint {
  host: string;
  port: number;
}

export interface Secondary {
  kind: SecondaryKind;
  port: number;
  /** host:port to ask */
  address: string;
  dir: string;
  daemon: Daemon;
  /** everything it logged so far (its output and its log file) */
  log(): string;
  /** the SOA serial it serves now, or null while it has no zone (SERVFAIL) or does not answer */
  serial(): Promise<number | null>;
  stop(): Promise<number | null>;
  /** starts it again on the same port and directory (it keeps the zone copy it had) */
  restart(): Promise<void>;
}

export interface SecondaryOptions {
  kind: SecondaryKind;
  /** its own directory (created) */
  dir: string;
  zone: string;
  primary: Endpoint;
  key: TsigKey;
  /** default: a free one */
  port?: number;
}

/** The part of an NSD config a secondary and the stand-in primary share: a server of its own in `o.dir` on `port`, the key, the zone. */
function nsdCommon(o: { dir: string; zone: string; key: TsigKey }, port: number, logFile: string): string {
  return `server:
  ip-address: 127.0.0.1@${port}
  do-ip6: no
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "${o.dir}"
  database: ""
  zonelistfile: "${join(o.dir, "zone.list")}"
  xfrdfile: "${join(o.dir, "xfrd.state")}"
  xfrdir: "${o.dir}"
  pidfile: "${join(o.dir, "nsd.pid")}"
  logfile: "${logFile}"
  verbosity: 2
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: no
key:
  name: "${bare(o.key)}"
  algorithm: ${o.key.algorithm}
  secret: "${o.key.secret}"
zone:
  name: "${o.zone}"
  zonefile: "${o.zone}.zone"
`;
}

function nsdConfig(o: SecondaryOptions, port: number): { config: string; logFile: string; command: string[] } {
  const logFile = join(o.dir, "nsd.log");
  const config = join(o.dir, "nsd.conf");
  writeFileSync(
    config,
    `${nsdCommon(o, port, logFile)}  request-xfr: ${o.primary.host}@${o.primary.port} ${bare(o.key)}
  allow-notify: 127.0.0.0/8 ${bare(o.key)}
  # transfers leave from 127.0.0.1 (what a transfer ACL of 127.0.0.1/32 lets in)
  outgoing-interface: 127.0.0.1
  # the tests compare its copy with the primary's by AXFR
  provide-xfr: 127.0.0.1 NOKEY
`,
  );
  return { config, logFile, command: ["nsd", "-d", "-c", config] };
}

function knotConfig(o: SecondaryOptions, port: number): { config: string; logFile: string; command: string[] } {
  const config = join(o.dir, "knot.conf");
  writeFileSync(
    config,
    `server:
  listen: 127.0.0.1@${port}
  rundir: "${o.dir}"
  pidfile: "${join(o.dir, "knot.pid")}"
log:
  - target: stderr
    any: info
database:
  storage: "${o.dir}"
control:
  listen: "${join(o.dir, "knot.sock")}"
key:
  - id: ${bare(o.key)}
    algorithm: ${o.key.algorithm}
    secret: ${o.key.secret}
remote:
  - id: primary
    address: ${o.primary.host}@${o.primary.port}
    via: 127.0.0.1
    key: ${bare(o.key)}
acl:
  - id: notify-from-primary
    address: 127.0.0.0/8
    key: ${bare(o.key)}
    action: notify
  - id: transfer-to-tests
    address: 127.0.0.1
    action: transfer
zone:
  - domain: ${o.zone}
    storage: "${o.dir}"
    file: "${o.zone}.zone"
    master: primary
    acl: [notify-from-primary, transfer-to-tests]
`,
  );
  return { config, logFile: "", command: ["knotd", "-c", config] };
}

function bindConfig(o: SecondaryOptions, port: number): { config: string; logFile: string; command: string[] } {
  const config = join(o.dir, "named.conf");
  writeFileSync(
    config,
    `options {
  directory "${o.dir}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  pid-file "${join(o.dir, "named.pid")}";
  session-keyfile "${join(o.dir, "session.key")}";
  managed-keys-directory "${o.dir}";
  recursion no;
  notify no;
  dnssec-validation no;
  allow-query { any; };
  request-ixfr yes;
  transfer-source 127.0.0.1;
  allow-transfer { 127.0.0.1; };
  rate-limit { responses-per-second 0; };
};
controls { };
key "${bare(o.key)}" { algorithm ${o.key.algorithm}; secret "${o.key.secret}"; };
zone "${o.zone}" {
  type secondary;
  file "${o.zone}.db";
  masterfile-format text;
  primaries port ${o.primary.port} { ${o.primary.host} key "${bare(o.key)}"; };
  allow-notify { key "${bare(o.key)}"; };
};
`,
  );
  // -g: foreground, everything logged to stderr; -4: IPv4 only (loopback)
  return { config, logFile: "", command: ["named", "-g", "-4", "-c", config] };
}

const CHECKERS: Record<SecondaryKind, (config: string) => string[]> = {
  nsd: (config) => ["nsd-checkconf", config],
  knot: (config) => ["knotc", "-c", config, "conf-check"],
  bind: (config) => ["named-checkconf", config],
};

/**
 * Starts one secondary and waits until it answers on its port (it may still have no zone).
 * It accepts NOTIFY from loopback signed with the key, transfers from 127.0.0.1, and gives
 * its own copy by AXFR to 127.0.0.1 without a key (the tests compare copies).
 */
export async function startSecondary(o: SecondaryOptions): Promise<Secondary> {
  mkdirSync(o.dir, { recursive: true });
  const port = o.port ?? (await freePort());
  const { config, logFile, command } = { nsd: nsdConfig, knot: knotConfig, bind: bindConfig }[o.kind](o, port);
  const checked = await run(CHECKERS[o.kind](config), { timeoutMs: 15_000 });
  if (checked.code !== 0) throw new Error(`${o.kind} config check failed: ${checked.stdout}${checked.stderr}`);
  const address = `127.0.0.1:${port}`;
  let daemon: Daemon;
  let earlier = "";
  const launch = async () => {
    daemon = spawnDaemon(o.kind, command, { cwd: o.dir });
    await waitFor(
      `${o.kind} to answer on ${address}`,
      20_000,
      async () => {
        if (daemon.exited()) throw new Error(`${o.kind} exited: ${daemon.output()}${logFile && existsSync(logFile) ? readFileSync(logFile, "utf8") : ""}`);
        await dig(address, o.zone, "SOA", { recurse: false });
        return true;
      },
      200,
    );
  };
  await launch();
  const secondary: Secondary = {
    kind: o.kind,
    port,
    address,
    dir: o.dir,
    get daemon() {
      return daemon;
    },
    log: () => earlier + daemon.output() + (logFile && existsSync(logFile) ? readFileSync(logFile, "utf8") : ""),
    serial: () => soaSerial(address, o.zone),
    stop: () => daemon.stop(5000),
    async restart() {
      if (!daemon.exited()) await daemon.stop(5000);
      earlier += daemon.output();
      await launch();
    },
  };
  return secondary;
}

/** The serial in the SOA a server answers for zone, or null when it has none to give. */
export async function soaSerial(address: string, zone: string, options: { tcp?: boolean } = {}): Promise<number | null> {
  try {
    const r = await dig(address, zone, "SOA", { recurse: false, tcp: options.tcp });
    const soa = r.answer.find((rr) => rr.type === "SOA");
    if (r.status !== "NOERROR" || !soa) return null;
    return Number(soa.data.split(/\s+/)[2]);
  } catch {
    return null;
  }
}

/** RFC 1982: a is newer than b. */
export function serialGreater(a: number, b: number): boolean {
  return a !== b && ((a > b && a - b < 2 ** 31) || (a < b && b - a > 2 ** 31));
}

/** Waits until the secondary serves serial `atLeast` or a newer one; returns what it serves. */
export function waitForSerial(s: Secondary, atLeast: number, timeoutMs: number): Promise<number> {
  return waitFor(
    `${s.kind} to serve serial ${atLeast} or newer`,
    timeoutMs,
    async () => {
      const serial = await s.serial();
      return serial !== null && (serial === atLeast || serialGreater(serial, atLeast)) ? serial : undefined;
    },
    50,
  );
}

export interface NsdPrimary {
  port: number;
  address: string;
  dir: string;
  daemon: Daemon;
  log(): string;
  /** writes a new zone file and reloads it (SIGHUP); NSD then NOTIFYs every secondary */
  update(zoneText: string): Promise<void>;
  stop(): Promise<number | null>;
}

/**
 * An NSD primary serving zoneText from a file: TSIG-keyed provide-xfr for loopback, NOTIFY to
 * each of `notify`, IXFR made from the difference of successive zone files (create-ixfr).
 */
export async function startNsdPrimary(o: {
  dir: string;
  zone: string;
  zoneText: string;
  key: TsigKey;
  notify: Endpoint[];
  port?: number;
}): Promise<NsdPrimary> {
  mkdirSync(o.dir, { recursive: true });
  const port = o.port ?? (await freePort());
  const zoneFile = join(o.dir, `${o.zone}.zone`);
  writeFileSync(zoneFile, o.zoneText);
  const logFile = join(o.dir, "nsd.log");
  const config = join(o.dir, "nsd.conf");
  writeFileSync(
    config,
    `${nsdCommon(o, port, logFile)}  provide-xfr: 127.0.0.0/8 ${bare(o.key)}
  store-ixfr: yes
  create-ixfr: yes
${o.notify.map((n) => `  notify: ${n.host}@${n.port} ${bare(o.key)}\n`).join("")}`,
  );
  const checked = await run(["nsd-checkconf", config], { timeoutMs: 15_000 });
  if (checked.code !== 0) throw new Error(`nsd-checkconf: ${checked.stdout}${checked.stderr}`);
  const daemon = spawnDaemon("nsd-primary", ["nsd", "-d", "-c", config], { cwd: o.dir });
  const address = `127.0.0.1:${port}`;
  const log = () => daemon.output() + (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");
  await waitFor(
    "the NSD primary to serve the zone",
    20_000,
    async () => {
      if (daemon.exited()) throw new Error(`nsd exited: ${log()}`);
      return (await soaSerial(address, o.zone)) !== null ? true : undefined;
    },
    200,
  );
  return {
    port,
    address,
    dir: o.dir,
    daemon,
    log,
    async update(zoneText: string) {
      writeFileSync(zoneFile, zoneText);
      process.kill(daemon.pid, "SIGHUP");
    },
    stop: () => daemon.stop(5000),
  };
}

/** `dig AXFR` (signed with key when given): the records in order, or the failure dig printed. */
export async function digAxfr(
  address: string,
  zone: string,
  options: { key?: TsigKey; type?: "AXFR" | string; timeoutMs?: number } = {},
): Promise<{ ok: boolean; records: string[]; raw: string }> {
  const [host, port] = address.split(":");
  const args = ["dig", `@${host}`, "-p", port, zone, options.type ?? "AXFR", "+time=10", "+tries=1", "+nocookie", "+nocomments", "+nostats", "+nocmd"];
  if (options.key) args.push("-y", digKeyArg(options.key));
  const result = await run(args, { timeoutMs: options.timeoutMs ?? 60_000 });
  const raw = `${result.stdout}${result.stderr}`;
  const records = result.stdout
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith(";"))
    .map((l) => l.split(/\s+/));
  const ok = result.code === 0 && !/Transfer failed|failed|connection refused|timed out|; (NOTAUTH|REFUSED|SERVFAIL)/i.test(raw);
  return {
    ok,
    // TSIG records dig prints after a signed transfer are not zone data
    records: records.filter((f) => f[3] !== "TSIG").map((f) => [f[0].toLowerCase(), f[1], f[2], f[3], f.slice(4).join(" ")].join(" ")),
    raw,
  };
}
