// One place that writes log lines, and the one rule for secrets in them.
export type Log = (line: string) => void;

// Lines of one event-loop turn go out in one write: a write per line cost a tenth of a request.
let pending: string[] = [];
function flush() {
  if (pending.length === 0) return;
  const text = pending.join("");
  pending = [];
  process.stdout.write(text);
}
process.on("exit", flush);

export const stdoutLog: Log = (line) => {
  if (pending.push(`${new Date().toISOString()} ${line}\n`) === 1) setImmediate(flush);
};

/** A secret shown by its first 4 characters only, enough to tell two apart in a log. */
export function maskSecret(secret: string): string {
  return secret.length <= 4 ? "…" : `${secret.slice(0, 4)}…`;
}

const SECRET_PARAMS = new Set(["token", "reclamationtoken", "s"]);
/** Every secret we issue is a UUID: one is masked under whatever parameter name it arrives. */
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

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
  const parts = path.slice(q + 1).split("&").map((pair) => {
    const eq = pair.indexOf("=");
    if (eq < 0) return pair;
    const key = pair.slice(0, eq);
    const value = decoded(pair.slice(eq + 1));
    if (SECRET_PARAMS.has(decoded(key).toLowerCase())) return `${key}=${encodeURIComponent(maskSecret(value)).replace(/%E2%80%A6/g, "…")}`;
    const masked = value.replace(UUID, maskSecret);
    return masked === value ? pair : `${key}=${encodeURIComponent(masked).replace(/%E2%80%A6/g, "…")}`;
  });
  return `${path.slice(0, q)}?${parts.join("&")}`;
}
