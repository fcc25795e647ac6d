// Turns the configured templates into the two emails we send. Values placed into HTML are escaped.
import type { EmailSettings } from "../config.ts";

export interface Email {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key) => values[key] ?? whole);
}

/** HTML twin of a plain-text body: escaped, paragraphs kept, URLs made into links. */
function toHtml(text: string): string {
  const escaped = escapeHtml(text).replace(/https?:\/\/[^\s<]+/g, (url) => `<a href="${url}">${url}</a>`);
  return `<!doctype html><html><body>${escaped.split(/\n{2,}/).map((p) => `<p>${p.replace(/\n/g, "<br>")}</p>`).join("")}</body></html>`;
}

export function confirmationEmail(settings: EmailSettings, to: string, link: string, domain: string): Email {
  const text = fill(settings.confirmationBody, { link, domain });
  return { to, subject: fill(settings.confirmationSubject, { domain }), text, html: toHtml(text) };
}

export function reclamationEmail(settings: EmailSettings, to: string, token: string, domain: string): Email {
  const text = fill(settings.reclamationBody, { token, domain });
  return { to, subject: fill(settings.reclamationSubject, { domain }), text, html: toHtml(text) };
}
