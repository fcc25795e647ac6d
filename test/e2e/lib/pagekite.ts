// Debian's pagekite (pagekite.py 1.5.2) as a real peer: a front end that authenticates kites
// through our DNS (--authdomain), and back ends that fly kites to it. Both run inside a
// network namespace (netns.ts) because pagekite only asks the system resolver on port 53.
import type { NetNs } from "./netns.ts";
import { spawnDaemon, waitFor, type Daemon } from "./proc.ts";

/** A front end for `http` kites on 127.0.0.1:port; fail closed: a failed lookup refuses the kite. */
export async function startFrontEnd(ns: NetNs, port: number, authDomain: string): Promise<Daemon> {
  const fe = spawnDaemon("pagekite-fe", [
    ...ns.exec(),
    "pagekite",
    "--clean", // no ~/.pagekite.rc, no /etc/pagekite.d
    "--isfrontend",
    "--host=127.0.0.1",
    `--ports=${port}`,
    "--protos=http",
    `--authdomain=${authDomain}`,
    "--authfail_closed",
    "--nullui",
    "--logfile=stdio",
  ]);
  await waitFor(
    "the pagekite front end to listen",
    20_000,
    () => {
      if (fe.output().includes(`listen=127.0.0.1:${port}`)) return true;
      if (fe.exited()) throw new Error(`pagekite front end exited: ${fe.output()}`);
    },
    100,
  );
  return fe;
}

export interface Kite {
  /** the kite name, e.g. gw.example.test or *.example.test */
  name: string;
  secret: string;
}

/** A back end flying `http` kites to the front end, each forwarding to 127.0.0.1:localPort. */
export function startBackEnd(ns: NetNs, name: string, frontEndPort: number, localPort: number, kites: Kite[]): Daemon {
  return spawnDaemon(name, [
    ...ns.exec(),
    "pagekite",
    "--clean",
    `--frontend=127.0.0.1:${frontEndPort}`,
    ...kites.map((k) => `--service_on=http:${k.name}:127.0.0.1:${localPort}:${k.secret}`),
    "--nullui",
    "--logfile=stdio",
  ]);
}

export interface Verdict {
  accepted: boolean;
  /** the back end's log line that says so */
  line: string;
}

/**
 * What the front end told the back end about a kite, from the back end's log (pk.py,
 * Tunnel._Connect): `FE=...; proto=http; domain=<kite>; ssl=False` when accepted,
 * `FE=...; err=Rejected; proto=http; reason=...; domain=<kite>` when refused
 * (`err=Duplicate` when another back end holds it).
 */
export function kiteVerdict(log: string, kite: string): Verdict | undefined {
  for (const line of log.split("\n")) {
    const fields = new Map(line.split("; ").map((f) => [f.slice(0, f.indexOf("=")), f.slice(f.indexOf("=") + 1)] as [string, string]));
    if (fields.get("domain") !== kite || !fields.has("FE") || fields.get("proto") !== "http") continue;
    if (fields.has("err")) return { accepted: false, line };
    if (fields.has("ssl")) return { accepted: true, line };
  }
  return undefined;
}

/** Waits until the back end's log has the front end's verdict on the kite. */
export function waitForVerdict(backEnd: Daemon, kite: string, timeoutMs: number): Promise<Verdict> {
  return waitFor(
    `the front end's verdict on ${kite}`,
    timeoutMs,
    () => {
      const verdict = kiteVerdict(backEnd.output(), kite);
      if (verdict) return verdict;
      if (backEnd.exited()) throw new Error(`${backEnd.name} exited: ${backEnd.output()}`);
    },
    100,
  );
}

/** A tiny HTTP server behind the back ends: its page names a nonce and the Host it was asked for. */
export async function startKitePage(ns: NetNs, port: number, nonce: string): Promise<Daemon> {
  const script = `const s = Bun.serve({ hostname: "127.0.0.1", port: ${port}, fetch: (req) => new Response("kite-page ${nonce} host=" + req.headers.get("host")) }); console.log("listening " + s.port);`;
  const page = spawnDaemon("kite-page", [...ns.exec(), process.execPath, "-e", script]);
  await waitFor(
    "the kite page server",
    10_000,
    () => {
      if (page.output().includes(`listening ${port}`)) return true;
      if (page.exited()) throw new Error(`kite page server exited: ${page.output()}`);
    },
    50,
  );
  return page;
}
