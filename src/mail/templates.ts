// Turns the configured templates into the three emails we send. Body templates are HTML (as
// the Rust server's were): the values put into them are escaped, the template is not.
// The plain-text part is derived from that HTML.
import type { EmailSettings } from "../config.ts";

export interface Email {
  /** which of the three emails (counted by /metrics) */
  kind: "verification" | "reclamation" | "warning";
  to: string;
  subject: string;
  text: string;
  html: string;
  /** sent as Resend's Idempotency-Key: a retry with the same key within 24 hours is not delivered again */
  idempotencyKey?: string;
}

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

function unescapeHtml(text: string): string {
  return text.replace(/&nbsp;/g, " ").replace(/&(lt|gt|quot|#39|amp);/g, (entity) => Object.entries(ENTITIES).find(([, e]) => e === entity)![0]);
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key) => values[key] ?? whole);
}

/** Readable plain text of an HTML body: links as "label (url)" unless the label is the url. */
export function htmlToText(html: string): string {
  return unescapeHtml(
    html
      .replace(/<a\s[^>]*href\s*=\s*["']([^"']*)["'][^>]*>([\s\S]*?)<\/a>/gi, (_, href: string, label: string) => {
        const text = label.replace(/<[^>]+>/g, "").trim();
        return text === href || text === "" ? href : `${text} (${href})`;
      })
      .replace(/\r?\n/g, " ")
      .replace(/<br\s*\/?>/gi, "\n")
      .replace(/<\/?(p|div|h[1-6]|li|tr|table)(\s[^>]*)?>/gi, "\n\n")
      .replace(/<[^>]+>/g, ""),
  )
    .replace(/[ \t]+/g, " ")
    .replace(/ *\n */g, "\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

/**
 * A body that is not a whole document is put in one, so phones show it at a readable size
 * (a viewport, 16px text) and long links wrap instead of widening the message.
 */
function asDocument(body: string, subject: string): string {
  if (/<html[\s>]/i.test(body)) return body;
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>${escapeHtml(subject)}</title></head>` +
    "<body style=\"margin:0;padding:16px;font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;font-size:16px;line-height:1.5;overflow-wrap:anywhere;word-break:break-word\">" +
    `${body}</body></html>`
  );
}

function render(kind: Email["kind"], to: string, subject: string, body: string, values: Record<string, string>): Email {
  const escaped = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, escapeHtml(v)]));
  const filled = fill(body, escaped);
  const line = fill(subject, values).replace(/[\r\n]+/g, " ");
  return { kind, to, subject: line, html: asDocument(filled, line), text: htmlToText(filled) };
}

/** `domain` is the gateway's own name (e.g. demo.example.org), as in the Rust server's templates. */
export function confirmationEmail(settings: EmailSettings, to: string, link: string, domain: string): Email {
  return render("verification", to, settings.confirmationSubject, settings.confirmationBody, { link, domain });
}

export function reclamationEmail(settings: EmailSettings, to: string, token: string, domain: string): Email {
  return render("reclamation", to, settings.reclamationSubject, settings.reclamationBody, { token, domain });
}

const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/** A moment as people read it, in UTC: "Friday 4 December 2026, 09:40 UTC". */
export function utcDate(seconds: number): string {
  const d = new Date(seconds * 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${WEEKDAYS[d.getUTCDay()]} ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}, ${two(d.getUTCHours())}:${two(d.getUTCMinutes())} UTC`;
}

/**
 * The expiry warning: `domain` was last seen at `lastSeen` and is freed at `freeAt` (Unix
 * seconds) unless it pings or `link` is followed. `idempotencyKey` is the same for every attempt
 * at one warning, so a retry after a lost answer is not delivered twice.
 */
export function warningEmail(
  settings: EmailSettings,
  to: string,
  link: string,
  domain: string,
  lastSeen: number,
  freeAt: number,
  idempotencyKey: string,
): Email {
  const values = { link, domain, date: utcDate(freeAt), last_seen: utcDate(lastSeen) };
  return { ...render("warning", to, settings.warningSubject, settings.warningBody, values), idempotencyKey };
}
