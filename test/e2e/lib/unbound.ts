// A real recursive resolver: Debian's unbound on a free loopback port, with a stub-zone that
// sends every question about the zone to our DNS port (as the zone's delegation would).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../../support/server.ts";
import { dig } from "./dig.ts";
import { run, spawnDaemon, waitFor, type Daemon } from "./proc.ts";

export interface Unbound {
  daemon: Daemon;
  /** host:port to ask */
  address: string;
}

/**
 * options.exec runs it inside a network namespace (netns.ts), where it can take port 53.
 * options.trustAnchor (a DS line, as `dnssec ds` prints it) makes it validate the zone: ad on
 * what verifies, SERVFAIL on what does not; without one the zone is taken as unsigned.
 */
export async function startUnbound(
  dir: string,
  zone: string,
  authoritative: string,
  options: { port?: number; exec?: string[]; trustAnchor?: string } = {},
): Promise<Unbound> {
  const port = options.port ?? (await freePort());
  const [authHost, authPort] = authoritative.split(":");
  const config = join(dir, "unbound.conf");
  writeFileSync(
    config,
    `server:
  interface: 127.0.0.1
  port: ${port}
  do-ip4: yes
  do-ip6: no
  do-udp: yes
  do-tcp: yes
  access-control: 127.0.0.0/8 allow
  do-daemonize: no
  use-syslog: no
  logfile: ""
  verbosity: 1
  chroot: ""
  username: ""
  directory: "${dir}"
  pidfile: "${join(dir, "unbound.pid")}"
  # our server listens on loopback, which unbound refuses to query by default
  do-not-query-localhost: no
${
  options.trustAnchor
    ? `  # the zone is signed: validate it from its DS, and say why when it fails
  trust-anchor: "${options.trustAnchor}"
  val-log-level: 2
`
    : `  # the test zone is not signed and has no trust anchor
  domain-insecure: "${zone}"
`
}  # .test is one of unbound's built-in blocked local zones (RFC 6761)
  local-zone: "test." nodefault
  qname-minimisation: no
remote-control:
  control-enable: no
stub-zone:
  name: "${zone}"
  stub-addr: ${authHost}@${authPort}
`,
  );
  const checked = await run(["unbound-checkconf", config], { timeoutMs: 10_000 });
  if (checked.code !== 0) throw new Error(`unbound-checkconf: ${checked.stdout}${checked.stderr}`);
  const daemon = spawnDaemon("unbound", [...(options.exec ?? []), "unbound", "-d", "-c", config], { cwd: dir });
  const address = `127.0.0.1:${port}`;
  // localhost is answered by unbound itself, so this waits for unbound only, not for our server
  await waitFor(
    "unbound to answer",
    15_000,
    async () => {
      if (daemon.exited()) throw new Error(`unbound exited: ${daemon.output()}`);
      const r = await dig(address, "localhost", "A", { exec: options.exec });
      return r.status === "NOERROR" ? true : undefined;
    },
    200,
  );
  return { daemon, address };
}
