// The query parameters the API accepts, declared once. A failed check becomes
// MissingParameter (absent or empty) or InvalidParameter in app.ts, and so does a repeated one.
import { t } from "elysia";
import { MODE } from "../gateway-data.ts";

/**
 * A plain RFC 5321 mailbox, `local@domain`: a dot-atom local part (at most 64 octets) and a
 * host name. No quoted local parts or address literals: quotes, spaces, commas and angle
 * brackets would reach the log's mail line and the provider's `to`, which reads
 * `"a,b <victim@evil.example>"@example.org` as a display name and another recipient.
 */
const MAILBOX =
  "^(?=.{1,64}@[^@]+$)" +
  "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*" +
  "@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$";

export const param = {
  required: t.String({ minLength: 1 }),
  /** optional: present but empty counts as absent */
  optional: t.Optional(t.String()),
  /** shown in the gateway's UI; a sane bound keeps rows small */
  description: t.Optional(t.String({ maxLength: 255 })),
  mode: t.Optional(t.String({ pattern: `^(|${Object.values(MODE).join("|")})$` })),
  optout: t.Optional(t.String({ pattern: "^(|0|1|true|false)$" })),
  /** ACME DNS-01 value: printable ASCII, one TXT string */
  challenge: t.String({ minLength: 1, maxLength: 255, pattern: "^[\\x20-\\x7e]+$" }),
  email: t.String({ minLength: 1, maxLength: 254, pattern: MAILBOX }),
};

/** The value of an optional parameter, or undefined when absent or empty. */
export const given = (value: string | undefined): string | undefined => (value === undefined || value === "" ? undefined : value);

/**
 * Whether a query parameter occurs more than once in a request URL. Elysia keeps only the last
 * value of a repeated key checked as a string, so `token=A&token=B` would act on B unnoticed.
 * Keys are decoded as Elysia decodes them ("+" is a space, then percent-decoding).
 */
export function hasRepeatedParameter(url: string): boolean {
  const start = url.indexOf("?");
  if (start < 0 || url.indexOf("&", start) < 0) return false; // at most one parameter: nothing to repeat
  const seen = new Set<string>();
  for (const pair of url.slice(start + 1).split("&")) {
    if (pair === "") continue;
    const key = decodeKey(pair.split("=", 1)[0]);
    if (seen.has(key)) return true;
    seen.add(key);
  }
  return false;
}

function decodeKey(raw: string): string {
  const key = raw.includes("+") ? raw.replaceAll("+", " ") : raw;
  if (!key.includes("%")) return key;
  try {
    return decodeURIComponent(key);
  } catch {
    return key; // Elysia keeps a key it cannot decode as it is
  }
}
