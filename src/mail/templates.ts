// Turns the configured templates into the two emails we send. Body templates are HTML (as
// the Rust server's were): the values put into them are escaped, the template is not.
// The plain-text part is derived from that HTML.
import type { EmailSettings } from "../config.ts";

export interface Email {
  /** which of the two emails (counted by /metrics) */
  kind: "verification" | "reclamation";
  to: string;
  subject: string;
  text: string;
  html: string;
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

function render(kind: Email["kind"], to: string, subject: string, body: string, values: Record<string, string>): Email {
  const escaped = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, escapeHtml(v)]));
  const html = fill(body, escaped);
  return { kind, to, subject: fill(subject, values).replace(/[\r\n]+/g, " "), html, text: htmlToText(html) };
}

/** `domain` is the gateway's own name (e.g. demo.example.org), as in the Rust server's templates. */
export function confirmationEmail(settings: EmailSettings, to: string, link: string, domain: string): Email {
  return render("verification", to, settings.confirmationSubject, settings.confirmationBody, { link, domain });
}

export function reclamationEmail(settings: EmailSettings, to: string, token: string, domain: string): Email {
  return render("reclamation", to, settings.reclamationSubject, settings.reclamationBody, { token, domain });
}
