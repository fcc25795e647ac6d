// The server's life after its settings are read: what to close on SIGTERM or SIGINT (in
// reverse order of starting), and SIGHUP's reloads. main.ts installs the handlers before the
// server's code loads, so a signal during start-up still ends in a clean exit 0, and a SIGHUP
// then is acted on once start-up is done. A subcommand (domains, backup...) never installs them:
// Ctrl-C ends it as any command line tool (backup removes its unfinished copy first).
import { SettingsError } from "./config.ts";
import { errorText, oneLine, stdoutLog as log } from "./log.ts";

const closers: (() => unknown)[] = [];
let stopping = false;
let reload: (() => Promise<void>) | null = null;
let reloadAsked = false;
let reloading = Promise.resolve();

/** Ends start-up: one line on stderr naming what failed, and exit 2 (bad settings, a port taken...) or 1 (a passing state). */
export function fail(message: string, code = 2): never {
  process.stderr.write(`registration-server: ${oneLine(message)}\n`);
  process.exit(code);
}

/**
 * Runs one step of start-up: a SettingsError ends it with its own line, anything else with
 * `what` first; exit 2, or the error's `exitCode` (a lock another connection holds passes: 1).
 */
export async function orFail<T>(what: string, start: () => T | Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (e) {
    if (e instanceof SettingsError) fail(e.message);
    fail(`${what}: ${(e as Error).message}`, (e as { exitCode?: number }).exitCode ?? 2);
  }
}

/** Runs `close` at shutdown, before everything registered earlier. */
export function onShutdown(close: () => unknown): void {
  closers.push(close);
}

/** True once a SIGTERM or SIGINT began the shutdown. */
export function isStopping(): boolean {
  return stopping;
}

async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log(`${signal}: shutting down`);
  const deadline = setTimeout(() => {
    log("shutdown took over 4.5s, exiting anyway");
    process.exit(0);
  }, 4500);
  for (const close of closers.reverse()) {
    try {
      await close();
    } catch (e) {
      log(`shutdown: ${errorText(e)}`);
    }
  }
  clearTimeout(deadline);
  log("stopped");
  process.exit(0);
}

/** Queues a reload; one that fails (a thread gone, a mailer that cannot be built) is logged, and the next SIGHUP still runs. */
function queueReload() {
  const run = reload;
  if (!run) return;
  reloading = reloading.then(run).catch((e) => log(`settings reload failed part-way, the next SIGHUP tries again: ${errorText(e)}`));
}

export function installSignalHandlers(): void {
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGHUP", () => {
    if (!reload) reloadAsked = true;
    else queueReload();
  });
}

/** Start-up is done: SIGHUP runs `run` from now on (one after another), and one that came during start-up runs now. */
export function acceptReloads(run: () => Promise<void>): void {
  reload = run;
  if (reloadAsked) queueReload();
}
