// One place that writes log lines, and the one rule for secrets in them.
export type Log = (line: string) => void;

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
    lines.unshift(`${timestamp()} log: ${dropped} line(s) dropped: the reader of this log was not reading\n`);
    dropped = 0;
  }
  const text = lines.join("");
  unwritten += text.length;
  process.stdout.write(text, () => {
    unwritten -= text.length;
  });
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
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (stdoutGone) return;
  stdoutGone = true;
  pending = [];
  process.stderr.write(`registration-server: stdout failed (${e.code ?? e.message}): the log is no longer written\n`);
});
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

export const stdoutLog: Log = (line) => {
  if (stdoutGone) return;
  if (pending.push(`${timestamp()} ${line}\n`) === 1) setImmediate(flush);
};

/** A secret shown by its first 4 characters only, enough to tell two apart in a log. */
export function maskSecret(secret: string): string {
  return secret.length <= 4 ? "…" : `${secret.slice(0, 4)}…`;
}

const SECRET_PARAMS = new Set(["token", "reclamationtoken", "s", "password"]);
/** Every secret we issue is a UUID: one is masked under whatever parameter name it arrives. */
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** What encodeURIComponent leaves as it is, and the ellipsis of maskSecret. */
const PLAIN = /^[A-Za-z0-9\-_.!~*'()…]*$/;

function decoded(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch {
    return text;
  }
}

/**
 * The path and query of a request URL with the value of every secret parameter masked, and any
 * UUID masked under whatever name it arrives. Works on the raw text: no URL object per request.
 */
export function maskedPath(url: string): string {
  const pathStart = url.indexOf("/", url.indexOf("//") + 2);
  const path = pathStart < 0 ? "/" : url.slice(pathStart);
  const q = path.indexOf("?");
  if (q < 0) return path;
  const parts = path
    .slice(q + 1)
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      if (eq < 0) return pair;
      const key = pair.slice(0, eq);
      const raw = pair.slice(eq + 1);
      // The common case, nothing encoded: the same result without decoding and re-encoding.
      if (!pair.includes("%") && !pair.includes("+")) {
        if (SECRET_PARAMS.has(key.toLowerCase())) {
          const shown = maskSecret(raw);
          if (PLAIN.test(shown)) return `${key}=${shown}`;
        } else if (raw.length < 36) return pair; // too short to hold a UUID
      }
      const value = decoded(raw);
      if (SECRET_PARAMS.has(decoded(key).toLowerCase())) return `${key}=${encodeURIComponent(maskSecret(value)).replace(/%E2%80%A6/g, "…")}`;
      const masked = value.replace(UUID, maskSecret);
      return masked === value ? pair : `${key}=${encodeURIComponent(masked).replace(/%E2%80%A6/g, "…")}`;
    });
  return `${path.slice(0, q)}?${parts.join("&")}`;
}
