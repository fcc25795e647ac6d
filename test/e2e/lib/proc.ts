// Child processes of the e2e suite: every one is tracked by its PID, bounded in time,
// and stopped by that PID when its test ends (or when the suite does).
import type { Subprocess } from "bun";

export interface Daemon {
  name: string;
  pid: number;
  proc: Subprocess;
  /** everything it printed so far (stdout + stderr) */
  output(): string;
  exited(): boolean;
  /** SIGTERM, then SIGKILL after graceMs; resolves with the exit code */
  stop(graceMs?: number): Promise<number | null>;
}

/** Extra environment for a child; undefined removes a variable the runner has. */
export type Env = Record<string, string | undefined>;

function childEnv(extra: Env = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...extra })) if (v !== undefined) env[k] = v;
  return env;
}

const running = new Set<{ pid: number }>();

/** Also stop this process (e.g. the server under test) if the suite itself is ended early. */
export function trackPid(pid: number): () => void {
  const entry = { pid };
  running.add(entry);
  return () => running.delete(entry);
}

// If the runner is ended (SIGTERM from an outer timeout, Ctrl-C) no afterAll runs: stop every child by its PID.
const killRemaining = () => {
  for (const { pid } of running) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
  running.clear();
};
process.on("exit", killRemaining);
for (const signal of ["SIGTERM", "SIGINT"] as const)
  process.once(signal, () => {
    killRemaining();
    process.exit(signal === "SIGTERM" ? 143 : 130);
  });

/** Starts a long-running peer (pebble, unbound) and records its output. */
export function spawnDaemon(name: string, cmd: string[], options: { env?: Env; cwd?: string } = {}): Daemon {
  const proc = Bun.spawn(cmd, {
    cwd: options.cwd,
    env: childEnv(options.env),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let text = "";
  let done = false;
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  pump(proc.stdout as ReadableStream<Uint8Array>);
  pump(proc.stderr as ReadableStream<Uint8Array>);
  proc.exited.then(() => (done = true));
  const daemon: Daemon = {
    name,
    pid: proc.pid,
    proc,
    output: () => text,
    exited: () => done,
    async stop(graceMs = 3000) {
      running.delete(daemon);
      if (done) return proc.exitCode;
      process.kill(proc.pid, "SIGTERM");
      const timer = setTimeout(() => {
        if (!done) process.kill(proc.pid, "SIGKILL");
      }, graceMs);
      const code = await proc.exited;
      clearTimeout(timer);
      return code;
    },
  };
  running.add(daemon);
  return daemon;
}

/** Stops every daemon still running (an afterAll safety net; each test stops its own first). */
export async function stopAllDaemons(): Promise<void> {
  await Promise.allSettled([...running].map((d) => ("stop" in d ? (d as Daemon).stop() : undefined)));
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
}

/** Runs a command to completion; after timeoutMs it is killed (by PID) and reported as timed out. */
export async function run(cmd: string[], options: { env?: Env; cwd?: string; timeoutMs: number }): Promise<RunResult> {
  const started = performance.now();
  const proc = Bun.spawn(cmd, {
    cwd: options.cwd,
    env: childEnv(options.env),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const untrack = trackPid(proc.pid);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    process.kill(proc.pid, "SIGKILL");
  }, options.timeoutMs);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout as ReadableStream).text(),
    new Response(proc.stderr as ReadableStream).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  untrack();
  return { code: timedOut ? null : code, stdout, stderr, timedOut, ms: Math.round(performance.now() - started) };
}

/** The last lines of a log, for failure messages. */
export function tail(text: string, lines = 40): string {
  const all = text.trimEnd().split("\n");
  return all.slice(-lines).join("\n");
}

/** Polls until check() returns a value (not undefined) or the deadline passes. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined> | T | undefined, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ""}`);
    await Bun.sleep(intervalMs);
  }
}
