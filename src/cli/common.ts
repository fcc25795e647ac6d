// What every subcommand shares: its failure type, its parsed invocation, and the way to the
// running server's admin listener.
import type { Settings } from "../config.ts";
import { replacedFileProblem } from "../ops/serving-marker.ts";

/** A failure with its exit code (1 failed, 2 bad usage) and one line for stderr. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code: 1 | 2,
  ) {
    super(message);
  }
}

/**
 * Refuses (exit 1) to open a database file put in place of the one a running server has open:
 * even a read of it would take the served file's WAL frames as its own pages.
 */
export function refuseReplacedDatabase(path: string): void {
  const replaced = replacedFileProblem(path);
  if (replaced) throw new CliError(`${replaced}, and run this again`, 1);
}

export interface Invocation {
  /** positional arguments after the subcommand's name(s) */
  args: string[];
  /** the subcommand's own switches that were given (e.g. "--json") */
  switches: Set<string>;
  settings: Settings;
  /** loadSettings' warnings (check-config prints them) */
  warnings: string[];
}

/**
 * Writes to stdout and resolves once the text is handed to the OS: process.exit drops what a
 * pipe has not taken yet (a long `domains list | less` came out cut short).
 */
export function out(text: string): Promise<void> {
  return new Promise((resolve, reject) =>
    process.stdout.write(text, (error) => {
      if ((error as NodeJS.ErrnoException | null | undefined)?.code === "EPIPE") process.exit(0); // see quietOnClosedStdout
      error ? reject(error) : resolve();
    }),
  );
}

/**
 * A reader that went away (`domains list | head`) has what it wanted: end quietly with 0, as
 * the server's own "stdout failed" line (log.ts) would only be noise here.
 */
export function quietOnClosedStdout(): void {
  process.stdout.removeAllListeners("error");
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
  });
}

/** Exactly `count` positional arguments, or a usage error naming the command's usage. */
export function positionals(invocation: Invocation, count: number, usage: string): string[] {
  if (invocation.args.length !== count) throw new CliError(`usage: registration-server ${usage}`, 2);
  return invocation.args;
}

/** How long the CLI waits for the admin listener to answer before it works on the file itself. */
const PROBE_TIMEOUT_MS = 1500;
const REQUEST_TIMEOUT_MS = 30_000;

/** The admin listener's base URL as a client reaches it: a wildcard address means this host's loopback. */
function adminBase(settings: Settings): string {
  const configured = String([settings.admin.host].flat()[0]).split(",")[0].trim();
  const host = configured === "0.0.0.0" ? "127.0.0.1" : configured === "::" ? "::1" : configured;
  return `http://${host.includes(":") ? `[${host}]` : host}:${settings.admin.port}`;
}

/**
 * The running server's admin URL when its listener answers /healthz (any status) with its
 * report, else null: another program on the port (9153 is CoreDNS's metrics port too) is none.
 */
export async function runningServer(settings: Settings): Promise<string | null> {
  if (settings.admin.port === 0) return null;
  const base = adminBase(settings);
  try {
    const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    const report = (await res.json()) as { ok?: unknown } | null;
    return typeof report?.ok === "boolean" ? base : null;
  } catch {
    return null;
  }
}

/** One admin request: its status and JSON body; a lost connection fails the command. */
export async function adminRequest(base: string, method: string, path: string): Promise<{ status: number; body: unknown }> {
  try {
    const res = await fetch(`${base}${path}`, { method, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {}
    return { status: res.status, body };
  } catch (e) {
    throw new CliError(`the server at ${base} did not answer ${method} ${path}: ${(e as Error).message}`, 1);
  }
}

/** The one-line reason an admin request failed, from its body. */
export function adminFailure(status: number, body: unknown): CliError {
  const fields = typeof body === "object" && body !== null ? (body as { error?: unknown; message?: unknown }) : undefined;
  const why = fields ? (fields.error ?? fields.message ?? JSON.stringify(body)) : String(body);
  return new CliError(String(why).split("\n")[0] || `the server answered ${status}`, 1);
}
