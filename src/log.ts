// One place that writes log lines, and the one rule for secrets in them.
export type Log = (line: string) => void;

export const stdoutLog: Log = (line) => {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
};

/** A secret shown by its first 4 characters only, enough to tell two apart in a log. */
export function maskSecret(secret: string): string {
  return secret.length <= 4 ? "…" : `${secret.slice(0, 4)}…`;
}

const SECRET_PARAMS = new Set(["token", "reclamationtoken", "s"]);
/** Every secret we issue is a UUID: one is masked under whatever parameter name it arrives. */
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** The request path with the value of every secret query parameter masked. */
export function maskedPath(url: URL): string {
  if (!url.search) return url.pathname;
  const parts: string[] = [];
  for (const [key, value] of url.searchParams) {
    const shown = SECRET_PARAMS.has(key.toLowerCase()) ? maskSecret(value) : value.replace(UUID, maskSecret);
    parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(shown).replace(/%E2%80%A6/g, "…")}`);
  }
  return `${url.pathname}?${parts.join("&")}`;
}
