// A private network + mount namespace (root only) for peers that can only use the system
// resolver on port 53 (pagekite): loopback up, /etc/resolv.conf bind-mounted to a file naming
// 127.0.0.1. One holder process keeps it alive; every child joins it with nsenter, which execs
// the program in place, so the PID a test tracks and stops is the program's own.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { run, spawnDaemon, waitFor, type Daemon } from "./proc.ts";

export interface NetNs {
  holder: Daemon;
  /** a command prefix that runs a program inside the namespace, in directory cwd (absolute) */
  exec(cwd?: string): string[];
  stop(): Promise<void>;
}

/** Starts the holder; it ends by itself after lifetimeSeconds (a bound should every stop be missed). */
export async function startNetNs(dir: string, lifetimeSeconds: number): Promise<NetNs> {
  const resolvConf = join(dir, "resolv.conf");
  writeFileSync(resolvConf, "nameserver 127.0.0.1\noptions timeout:2 attempts:2\n");
  const script = `ip link set lo up && mount --bind '${resolvConf}' /etc/resolv.conf && echo netns-ready && exec sleep ${lifetimeSeconds}`;
  // Without --fork, unshare execs sh, which execs sleep: the holder's PID stays the same.
  const holder = spawnDaemon("netns", ["unshare", "--net", "--mount", "--", "sh", "-c", script]);
  await waitFor(
    "the network namespace",
    10_000,
    () => {
      if (holder.output().includes("netns-ready")) return true;
      if (holder.exited()) throw new Error(`unshare failed (root is needed): ${holder.output()}`);
    },
    50,
  );
  return {
    holder,
    exec: (cwd = dir) => ["nsenter", "--no-fork", `--target=${holder.pid}`, "--net", "--mount", `--wd=${cwd}`, "--"],
    stop: async () => {
      await holder.stop(1000);
    },
  };
}

export interface NsReply {
  status: number;
  body: string;
}

// node:http sends the Host header it is given (a kite is chosen by Host, not by address).
const GET_SCRIPT = `
import { request } from "node:http";
const url = new URL(process.env.NS_GET_URL);
const req = request({ host: url.hostname, port: url.port, path: url.pathname + url.search, headers: process.env.NS_GET_HOST ? { host: process.env.NS_GET_HOST } : {}, timeout: 8000 }, (res) => {
  let body = "";
  res.setEncoding("utf8");
  res.on("data", (c) => (body += c));
  res.on("end", () => console.log(JSON.stringify({ status: res.statusCode, body })));
});
req.on("timeout", () => req.destroy(new Error("timed out")));
req.on("error", (e) => console.log(JSON.stringify({ error: e.message })));
req.end();
`;

/** GET url from inside the namespace (with bun itself, no curl needed); host overrides the Host header. */
export async function nsGet(ns: NetNs, url: string, host?: string): Promise<NsReply> {
  const result = await run([...ns.exec(), process.execPath, "-e", GET_SCRIPT], { env: { NS_GET_URL: url, NS_GET_HOST: host }, timeoutMs: 15_000 });
  const line = result.stdout.trim().split("\n").pop() ?? "";
  let parsed: { status?: number; body?: string; error?: string } = {};
  try {
    parsed = JSON.parse(line);
  } catch {}
  if (parsed.status === undefined)
    throw new Error(`GET ${url} (Host: ${host ?? "-"}) failed: ${parsed.error ?? `exit ${result.code}`} ${result.stdout}${result.stderr}`);
  return { status: parsed.status, body: parsed.body ?? "" };
}
