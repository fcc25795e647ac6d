// Starts the real server as a child process on loopback ports it binds itself (port 0, read back
// from its ready line), with a real SQLite file. The child is the compiled binary, built once per
// state of the sources (test/support/server-binary.ts): what ships, and faster to start than source.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { createSocket } from "node:dgram";
import { tmpdir } from "node:os";
import { afterAll, beforeAll } from "bun:test";
import { resendEnv, startResendStandIn, type ResendStandIn } from "./resend.ts";
import { join } from "node:path";
import { serverCommand } from "./server-binary.ts";

/** `bun src/main.ts` as `npm start` runs it, for the tests that pin running from source. */
export const SOURCE_COMMAND = [process.execPath, join(import.meta.dir, "..", "..", "src", "main.ts")];

/** The kernel's ephemeral port range: what a connect() or a bind to port 0 may take at any moment. */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (low > 0 && high >= low) return [low, high];
  } catch {
    // not Linux: the IANA range
  }
  return [49152, 65535];
}

/** Ports this process handed out already: never twice. */
const handedOut = new Set<number>();

/**
 * A port free on loopback for both TCP and UDP, for tests that must name a port before the
 * server starts (a config file, a daemon such as NSD that cannot report the port it took).
 * Taken below the kernel's ephemeral range: a port from that range (listen on 0, then close)
 * could be taken by any outgoing connection or socket on port 0 before the daemon binds it,
 * which once made NSD fail with "Address already in use" in the e2e suite. Still checked by
 * binding it; racy only against another process picking the same port by chance.
 */
export async function freePort(): Promise<number> {
  const [ephemeralLow] = ephemeralRange();
  const low = 10_000;
  const high = Math.max(low + 1000, ephemeralLow - 1);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (handedOut.has(port)) continue;
    const tcpFree = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once("error", () => resolve(false));
      srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
    if (!tcpFree) continue;
    const udpFree = await new Promise<boolean>((resolve) => {
      const sock = createSocket("udp4");
      sock.once("error", () => resolve(false));
      sock.bind(port, "127.0.0.1", () => sock.close(() => resolve(true)));
    });
    if (!udpFree) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error("no free port");
}

/** The test runner's environment without any REGISTRATION_* or RESEND_* variable. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("REGISTRATION_") && !k.startsWith("RESEND_")) env[k] = v;
  return env;
}

/** Runs the server command line to completion (for --help, --version and settings that must stop start-up). */
export async function runCli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number; command?: string[] } = {},
): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  const command = options.command ?? (await serverCommand());
  const proc = Bun.spawn([...command, ...args], {
    cwd: options.cwd ?? tmpdir(),
    env: { ...cleanEnv(), ...SPAWN_ENV, ...options.env },
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, options.timeoutMs ?? 15_000);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code: timedOut ? null : code, stdout, stderr, timedOut };
}

export interface RunningServer {
  url: string;
  httpPort: number;
  dnsPort: number;
  dir: string;
  dbPath: string;
  proc: ReturnType<typeof Bun.spawn>;
  /** everything the process printed so far (stdout + stderr) */
  output(): string;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  stop(signal?: NodeJS.Signals): Promise<number>;
  cleanup(): Promise<void>;
}

export interface StartOptions {
  args?: string[];
  env?: Record<string, string>;
  /** reuse an existing directory/database (e.g. after kill -9) */
  dir?: string;
  dbPath?: string;
  /** command to run instead of the compiled binary (test/support/server-binary.ts), e.g. SOURCE_COMMAND */
  command?: string[];
  /** a command that runs the server's command (its arguments follow), e.g. a shell that sets `ulimit -n` first */
  wrapper?: string[];
  cwd?: string;
  readyTimeoutMs?: number;
  /** ports to pass instead of 0 (the server's own pick); with defaultFlags false, where a config file names them */
  httpPort?: number;
  dnsPort?: number;
  /**
   * true: keep the limits.* quotas and dns.rrl_rate at their defaults. Otherwise they are off,
   * since a suite's tests all come from 127.0.0.1 and would share one client's budget (test/abuse pins them).
   */
  limits?: boolean;
  /** false: pass only `args` (no --domain/--host/--http-port/--dns-host/--dns-port/--db), to test config files and defaults */
  defaultFlags?: boolean;
}

/**
 * The limits.* quotas and DNS response-rate limiting off, as environment variables (also for
 * tests that spawn the server themselves): every test client is 127.0.0.1, one client's budget.
 */
export const LIMITS_OFF_ENV: Record<string, string> = {
  ...Object.fromEntries(
    ["SUBSCRIBE_PER_HOUR", "EMAIL_REQUESTS_PER_HOUR", "EMAILS_PER_RECIPIENT_PER_HOUR", "EMAILS_PER_RECIPIENT_PER_DAY", "RECLAIM_EMAILS_PER_NAME_PER_HOUR"].map(
      (k) => [`REGISTRATION_LIMITS_${k}`, "0"],
    ),
  ),
  REGISTRATION_DNS_RRL_RATE: "0",
};

/** The flags every test server starts with: example.test on loopback, this database, ports 0 unless given. */
export function loopbackArgs(dbPath: string, ports: { http?: number; dns?: number } = {}): string[] {
  const http = String(ports.http ?? 0);
  const dns = String(ports.dns ?? 0);
  return ["--domain", "example.test", "--host", "127.0.0.1", "--http-port", http, "--dns-host", "127.0.0.1", "--dns-port", dns, "--db", dbPath];
}

/**
 * Every spawned test server, unless a test says otherwise: no admin listener (its default port is
 * one for the whole host) and no DNS warm-up (dns.warm_up_queries: ~0.45 s of CPU and ~0.3 s
 * a start, for ~40 starts a run; test/dns/thread.test.ts and metrics pin the warm-up in process).
 */
const SPAWN_ENV: Record<string, string> = { REGISTRATION_ADMIN_PORT: "0", REGISTRATION_DNS_WARM_UP_QUERIES: "0" };

/** The environment of a test server a test spawns itself: quotas, RRL, the admin listener and the DNS warm-up off. */
export const TEST_SERVER_ENV: Record<string, string> = { ...LIMITS_OFF_ENV, ...SPAWN_ENV };

export async function startServer(options: StartOptions = {}): Promise<RunningServer> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "regsrv-"));
  const dbPath = options.dbPath ?? join(dir, "registration.sqlite");
  const httpPort = options.httpPort ?? 0;
  const dnsPort = options.dnsPort ?? 0;
  const command = [...(options.wrapper ?? []), ...(options.command ?? (await serverCommand()))];
  const env = cleanEnv();
  const limitsOff = { ...SPAWN_ENV, ...(options.limits ? {} : LIMITS_OFF_ENV) };
  const defaults = options.defaultFlags === false ? [] : loopbackArgs(dbPath, { http: httpPort, dns: dnsPort });
  const proc = Bun.spawn([...command, ...defaults, ...(options.args ?? [])], {
    cwd: options.cwd ?? dir,
    env: { ...env, ...limitsOff, ...options.env },
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  let text = "";
  const waiters = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      for (const w of waiters) w();
    }
  };
  pump(proc.stdout as ReadableStream<Uint8Array>);
  pump(proc.stderr as ReadableStream<Uint8Array>);
  let exited = false;
  proc.exited.then(() => {
    exited = true;
    for (const w of waiters) w();
  });

  const waitForOutput = (pattern: RegExp, timeoutMs = 10_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const m = text.match(pattern);
        if (m) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(m);
        } else if (exited) {
          waiters.delete(check);
          clearTimeout(timer);
          reject(new Error(`server exited (${proc.exitCode}) before printing ${pattern}; output:\n${text}`));
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${pattern}; output:\n${text}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });

  const server: RunningServer = {
    url: "",
    httpPort,
    dnsPort,
    dir,
    dbPath,
    proc,
    output: () => text,
    waitForOutput,
    async stop(signal = "SIGTERM") {
      if (!exited) proc.kill(signal);
      return await proc.exited;
    },
    async cleanup() {
      if (!exited) {
        proc.kill("SIGKILL");
        await proc.exited;
      }
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  const ready = await waitForOutput(/ready: http=\S+:(\d+) dns=\S+:(\d+)/, options.readyTimeoutMs ?? 15_000);
  server.httpPort = Number(ready[1]);
  server.dnsPort = Number(ready[2]);
  server.url = `http://127.0.0.1:${server.httpPort}`;
  return server;
}

/** GET a path on the server (a process, or an in-process app: test/support/app.ts) and parse the body (JSON when it is JSON). */
export async function get(server: { url: string; handle?: (path: string, init?: RequestInit) => Promise<Response> }, path: string, init?: RequestInit) {
  const res = server.handle ? await server.handle(path, init) : await fetch(server.url + path, init);
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, text, json };
}

/**
 * One server process for a file or describe block: started in beforeAll, stopped and removed in
 * afterAll. With `resend: true`, a Resend stand-in is started first and the server sends through it.
 */
export function useServer(options: StartOptions & { resend?: boolean } = {}): { readonly server: RunningServer; readonly standIn: ResendStandIn } {
  let server: RunningServer | undefined;
  let standIn: ResendStandIn | undefined;
  beforeAll(async () => {
    if (options.resend) standIn = startResendStandIn();
    server = await startServer({ ...options, env: { ...(standIn ? resendEnv(standIn) : {}), ...options.env } });
  });
  afterAll(async () => {
    await server?.cleanup();
    standIn?.stop();
  });
  return {
    get server() {
      if (!server) throw new Error("useServer: the server is not started yet (use it inside a test or hook)");
      return server;
    },
    get standIn() {
      if (!standIn) throw new Error("useServer: no Resend stand-in (pass resend: true)");
      return standIn;
    },
  };
}
