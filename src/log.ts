// One place that writes log lines, and the one rule for secrets in them. A line is one event:
// whatever a caller hands in (an error's message, a stack) leaves here on one line of ASCII.
import { fstatSync } from "node:fs";
import type { LogFormat, LogLevel } from "./config.ts";

/** Fields of a request line, written as such in log.format = json. */
export interface LogFields {
  level?: "info" | "error";
  method?: string;
  path?: string;
  status?: number;
  ms?: number;
  client?: string;
  name?: string;
}
export type Log = (line: string, fields?: LogFields) => void;

export interface LogOptions {
  format: LogFormat;
  level: LogLevel;
  /** stdout is journald's stream: it stamps each line, so text lines carry no time of ours */
  journald: boolean;
}
const options: LogOptions = { format: "text", level: "info", journald: false };

/** Sets how stdoutLog writes (at start-up and on a settings reload). */
export function configureLog(next: Partial<LogOptions>): void {
  Object.assign(options, next);
}

/**
 * Whether stdout is connected to journald: JOURNAL_STREAM names its device and inode
 * (systemd.exec(5)); a child of a service whose stdout was redirected (`| head`) inherits the
 * variable but not the stream, so the two are compared.
 */
export function stdoutIsJournal(env: Record<string, string | undefined> = process.env): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? "");
  if (!m) return false;
  try {
    const stat = fstatSync(1, { bigint: true });
    return stat.dev === BigInt(m[1]) && stat.ino === BigInt(m[2]);
  } catch {
    return false;
  }
}

const NOT_PLAIN = /[^\x20-\x7e]/;
const NOT_PLAIN_ALL = /[^\x20-\x7e]/g;
const escapeChar = (c: string) => (c === "\n" ? "\\n" : c === "\r" ? "\\r" : c === "\t" ? "\\t" : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
/**
 * Text as one line of printable ASCII: a newline becomes `\n`, any other control or non-ASCII
 * character `\uXXXX` (as JSON writes them, so a JSON string in a line still parses).
 */
export function oneLine(text: string): string {
  return NOT_PLAIN.test(text) ? text.replace(NOT_PLAIN_ALL, escapeChar) : text;
}

/**
 * An error for a log line: its message on one line; with log.level = debug its stack follows on
 * the same line (its frames joined by " | ").
 */
export function errorText(error: unknown): string {
  const e = error as { message?: unknown; stack?: unknown } | null;
  const message = typeof e?.message === "string" ? e.message : String(error);
  const text = message.replace(/\s*\n\s*/g, " ");
  if (options.level !== "debug" || typeof e?.stack !== "string") return text;
  const frames = e.stack
    .split("\n")
    .map((frame) => frame.trim())
    .filter((frame) => frame.startsWith("at "));
  return frames.length === 0 ? text : `${text} stack: ${frames.join(" | ")}`;
}

/** A worker thread's uncaught error for a log line: Bun's message is the source excerpt, the error and its stack; the error line. */
export function workerErrorLine(message: unknown): string {
  const lines = String(message)
    .split("\n")
    .map((line) => line.trim());
  return lines.find((line) => /^\w*error\b/i.test(line)) ?? lines[0];
}

/** A line as stdoutLog writes it, newline included. */
export function formatLine(line: string, fields: LogFields | undefined, opts: LogOptions, time: string): string {
  if (opts.format === "json") {
    const { level = "info", ...rest } = fields ?? {};
    return `${oneLine(JSON.stringify({ time, level, msg: line, ...rest }))}\n`;
  }
  return opts.journald ? `${oneLine(line)}\n` : `${time} ${oneLine(line)}\n`;
}

// Lines of one event-loop turn go out in one write: a write per line cost a tenth of a request.
let pending: string[] = [];
function flush() {
  if (pending.length === 0) return;
  const lines = pending;
  pending = [];
  if (stdoutGone) return;
  if (unwritten > MAX_UNWRITTEN) {
    dropped += lines.length;
    return;
  }
  if (dropped > 0) {
    lines.unshift(formatLine(`log: ${dropped} line(s) dropped: the reader of this log was not reading`, undefined, options, timestamp()));
    dropped = 0;
  }
  const text = lines.join("");
  unwritten += text.length;
  try {
    process.stdout.write(text, () => {
      unwritten -= text.length;
    });
  } catch (e) {
    stdoutFailed(e as NodeJS.ErrnoException); // a write that throws instead of emitting "error"
  }
}
process.on("exit", flush);

/**
 * Characters handed to stdout that its reader has not taken yet, at most: Bun queues them in
 * memory without bound, so a stalled reader (a hung log shipper) would grow the process.
 */
const MAX_UNWRITTEN = 4 * 1024 * 1024;
let unwritten = 0;
let dropped = 0;
// The reader went away (`| head`, a dead shipper): EPIPE must not end the process.
let stdoutGone = false;
function stdoutFailed(e: NodeJS.ErrnoException) {
  if (stdoutGone) return;
  stdoutGone = true;
  pending = [];
  try {
    process.stderr.write(`registration-server: stdout failed (${oneLine(String(e?.code ?? e?.message))}): the log is no longer written\n`);
  } catch {}
}
process.stdout.on("error", stdoutFailed);
process.stderr.on("error", () => {});

// Lines of one millisecond share their timestamp text.
let stampedAt = 0;
let stamp = "";
function timestamp(): string {
  const now = Date.now();
  if (now !== stampedAt) {
    stampedAt = now;
    stamp = new Date(now).toISOString();
  }
  return stamp;
}

export const stdoutLog: Log = (line, fields) => {
  if (stdoutGone) return;
  if (pending.push(formatLine(line, fields, options, timestamp())) === 1) setImmediate(flush);
};

/** What stands for the hidden part of a masked value (ASCII: log lines are). */
export const MASK = "...";

/** A secret shown by its first 4 characters only, enough to tell two apart in a log. */
export function maskSecret(secret: string): string {
  return secret.length <= 4 ? MASK : `${secret.slice(0, 4)}${MASK}`;
}

/** An email address shown by the first 2 characters of its mailbox only: `al...@...`. */
export function maskEmail(address: string): string {
  const at = address.lastIndexOf("@");
  const local = at < 0 ? address : address.slice(0, at);
  return `${local.length <= 2 ? "" : local.slice(0, 2)}${MASK}@${MASK}`;
}

const SECRET_PARAMS = new Set(["token", "reclamationtoken", "s", "password"]);
const EMAIL_PARAMS = new Set(["email"]);
/** Every secret we issue is a UUID: one is masked under whatever parameter name it arrives. */
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** What encodeURIComponent leaves as it is (MASK included). */
const PLAIN = /^[A-Za-z0-9\-_.!~*'()]*$/;
/** A masked email address as it goes in a query: its two characters encoded, the rest as it is. */
const maskedEmailParam = (value: string) => {
  const shown = maskEmail(value);
  const at = shown.indexOf(MASK);
  return `${encodeURIComponent(shown.slice(0, at))}${shown.slice(at)}`;
};

function decoded(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch {
    return text;
  }
}

/**
 * Where the path of a request URL starts (-1: none). Bun hands over a URL without scheme and host
 * ("/ping?token=...") when the Host header is empty (RFC 9112 3.2 allows it) or is no host name.
 */
function pathStart(url: string): number {
  return url.startsWith("/") ? 0 : url.indexOf("/", url.indexOf("//") + 2);
}

/** The path of a request URL without its query ("/" when it has none), from the raw text. */
export function requestPath(url: string): string {
  const start = pathStart(url);
  const query = url.indexOf("?", start);
  return start < 0 ? "/" : url.slice(start, query < 0 ? undefined : query);
}

/** A request URL's query parameters, as URL.searchParams reads them, from any URL text (pathStart): never throws. */
export function queryOf(url: string): URLSearchParams {
  const q = url.indexOf("?");
  if (q < 0) return new URLSearchParams();
  const hash = url.indexOf("#", q);
  return new URLSearchParams(url.slice(q + 1, hash < 0 ? undefined : hash));
}

/**
 * The path and query of a request URL with the value of every secret parameter masked, and any
 * UUID masked under whatever name it arrives. Works on the raw text: no URL object per request.
 */
export function maskedPath(url: string): string {
  const start = pathStart(url);
  const path = start < 0 ? "/" : url.slice(start);
  const q = path.indexOf("?");
  if (q < 0) return bareUuidsMasked(path);
  const parts = path
    .slice(q + 1)
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      // No "=" as sent (a mail client wrote `s%3D<link>`, a client put its token alone): any UUID still goes.
      if (eq < 0) return bareUuidsMasked(pair);
      const key = pair.slice(0, eq);
      const raw = pair.slice(eq + 1);
      // The common case, nothing encoded: the same result without decoding and re-encoding.
      if (!pair.includes("%") && !pair.includes("+")) {
        if (EMAIL_PARAMS.has(key.toLowerCase())) return `${key}=${maskedEmailParam(raw)}`;
        if (SECRET_PARAMS.has(key.toLowerCase())) {
          const shown = maskSecret(raw);
          if (PLAIN.test(shown)) return `${key}=${shown}`;
        } else if (raw.length < 36) return pair; // too short to hold a UUID
      }
      const value = decoded(raw);
      const name = decoded(key).toLowerCase();
      if (EMAIL_PARAMS.has(name)) return `${key}=${maskedEmailParam(value)}`;
      if (SECRET_PARAMS.has(name)) return `${key}=${encodeURIComponent(maskSecret(value))}`;
      const masked = value.replace(UUID, maskSecret);
      return masked === value ? pair : `${key}=${encodeURIComponent(masked)}`;
    });
  return `${bareUuidsMasked(path.slice(0, q))}?${parts.join("&")}`;
}

/** Text of a URL outside any key=value pair (a path, a bare query part) with every UUID in it masked. */
function bareUuidsMasked(text: string): string {
  if (text.length < 36) return text; // too short to hold a UUID
  const value = decoded(text);
  const masked = value.replace(UUID, maskSecret);
  return masked === value ? text : encodeURIComponent(masked).replaceAll("%2F", "/");
}
