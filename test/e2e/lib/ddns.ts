// The dynamic-DNS clients routers and home servers run, speaking dyndns2 to our /nic/update:
// Debian's ddclient (3.10) and inadyn (2.10), each run once in the foreground, bounded in time.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run, type RunResult } from "./proc.ts";

export interface DdnsAccount {
  /** host:port of our HTTP API */
  server: string;
  /** the name's label (the dyndns2 user) */
  login: string;
  /** its API token (the dyndns2 password) */
  password: string;
  /** the full name to update */
  hostname: string;
  /** the address the client reports, through its "detect my address" command */
  address: string;
}

let runs = 0;

/** ddclient once (-daemon=0), protocol dyndns2 over plain HTTP, the address from `use=cmd`. */
export async function runDdclient(work: string, account: DdnsAccount): Promise<RunResult> {
  const dir = join(work, `ddclient-${++runs}`);
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, "ddclient.conf");
  writeFileSync(
    conf,
    [
      "daemon=0",
      "ssl=no",
      `use=cmd, cmd='echo ${account.address}'`,
      "protocol=dyndns2",
      `server=${account.server}`,
      `login=${account.login}`,
      `password='${account.password}'`,
      account.hostname,
      "",
    ].join("\n"),
  );
  chmodSync(conf, 0o600); // ddclient warns about a configuration others can read
  return await run(["ddclient", "-foreground", "-daemon=0", "-verbose", "-file", conf, "-cache", join(dir, "ddclient.cache")], { timeoutMs: 30_000 });
}

/** inadyn once (--once --force), a custom provider pointed at our /nic/update, the address from `checkip-command`. */
export async function runInadyn(work: string, account: DdnsAccount): Promise<RunResult> {
  const dir = join(work, `inadyn-${++runs}`);
  mkdirSync(join(dir, "cache"), { recursive: true });
  const conf = join(dir, "inadyn.conf");
  writeFileSync(
    conf,
    [
      "period = 300",
      "allow-ipv6 = true",
      "custom e2e {",
      "    ssl = false",
      `    username = ${account.login}`,
      `    password = ${account.password}`,
      `    ddns-server = ${account.server}`,
      '    ddns-path = "/nic/update?hostname=%h&myip=%i"',
      `    checkip-command = "echo ${account.address}"`,
      `    hostname = ${account.hostname}`,
      "}",
      "",
    ].join("\n"),
  );
  return await run(["inadyn", "--once", "--force", "--foreground", "--no-pidfile", "--cache-dir", join(dir, "cache"), "-f", conf, "-l", "debug"], {
    timeoutMs: 30_000,
  });
}

/** A run's output for failure messages. */
export function said(name: string, result: RunResult): string {
  return `\n--- ${name} (exit ${result.timedOut ? "timed out" : result.code}) ---\n${result.stdout}${result.stderr}`;
}
