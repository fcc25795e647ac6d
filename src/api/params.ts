// The query parameters the API accepts, declared once. A failed check becomes
// MissingParameter (absent or empty) or InvalidParameter in app.ts.
import { t } from "elysia";
import { MODE } from "../store/schema.ts";

/** RFC 5321 mailbox: dot-atom or quoted local part (at most 64 octets) @ a domain or address literal. */
const MAILBOX =
  // the local part (before the last @: domains hold none) is at most 64 octets
  "^(?=.{1,64}@[^@]+$)" +
  "(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*|\"(?:[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]|\\\\[\\x20-\\x7e])*\")" +
  "@(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?|\\[(?:\\d{1,3}\\.){3}\\d{1,3}\\])$";

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
