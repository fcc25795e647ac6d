// The pages a person sees after clicking a verification link, often on a phone: readable on
// any screen, in light and dark, and self-contained (no script, no external resource), so a
// strict Content-Security-Policy holds and the page renders offline. Operators' own pages
// (email.success_page / email.error_page) are served instead when set.
import type { EmailSettings } from "../config.ts";
import { escapeHtml, utcDate } from "../mail/templates.ts";
import type { KeepOutcome, VerificationOutcome } from "../store/domains.ts";

/** The states of /verifyemail: "missing" is a link without its `s`; "failed", our database failed. */
export type PageState = VerificationOutcome["outcome"] | "missing" | "failed";

const STATUS: Record<PageState, number> = { verified: 200, already: 200, missing: 400, unknown: 404, expired: 404, failed: 501 };

/** Nothing may load but the page's own inline style and data: images (its icon). */
const STRICT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/** An operator's page may load its own styles, fonts and images over https; never a script. */
const CUSTOM_CSP =
  "default-src 'none'; style-src 'unsafe-inline' https:; img-src data: https:; font-src data: https:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function pageHeaders(csp: string): Record<string, string> {
  return {
    "content-type": "text/html; charset=utf-8",
    "content-security-policy": csp,
    // The URL holds the link's secret and the page an address: neither goes to another site or a cache.
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
  };
}

const ICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="16" cy="16" r="15" fill="#1f6feb"/><path d="M9 16.5l4.5 4.5L23 11.5" fill="none" stroke="#fff" stroke-width="3.2" stroke-linecap="round" stroke-linejoin="round"/></svg>';
const ICON_DATA_URL = `data:image/svg+xml,${encodeURIComponent(ICON_SVG)}`;

/** GET /favicon.ico: browsers ask for it on each visit of the pages above; an icon, not a JSON 404. */
export function faviconResponse(): Response {
  return new Response(ICON_SVG, {
    headers: { "content-type": "image/svg+xml", "cache-control": "public, max-age=86400", "x-content-type-options": "nosniff" },
  });
}

const STYLE = `
:root{color-scheme:light dark;--bg:#f3f5f8;--fg:#1b1f24;--card:#fff;--muted:#4d5763;--line:#d4dae1;--ok:#1a7f37;--bad:#b42318}
@media (prefers-color-scheme:dark){:root{--bg:#0f1317;--fg:#e8edf2;--card:#181d23;--muted:#a8b3bf;--line:#2f3740;--ok:#4ac26b;--bad:#ff7b72}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;padding:24px 16px;background:var(--bg);color:var(--fg);font:18px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;overflow-wrap:anywhere}
main{max-width:36rem;margin:6vh auto 0;padding:28px 24px;background:var(--card);border:1px solid var(--line);border-radius:14px}
.mark{display:block;width:48px;height:48px;margin:0 0 12px}
.ok .mark{color:var(--ok)}.bad .mark{color:var(--bad)}
h1{font-size:1.6rem;line-height:1.25;margin:0 0 16px}
p{margin:0 0 14px}
.value{font-weight:600}
footer{margin-top:22px;padding-top:14px;border-top:1px solid var(--line);color:var(--muted);font-size:16px}
`;

const MARK_OK =
  '<svg class="mark" viewBox="0 0 48 48" aria-hidden="true"><circle cx="24" cy="24" r="22" fill="none" stroke="currentColor" stroke-width="3"/><path d="M14 25l7 7 13-15" fill="none" stroke="currentColor" stroke-width="3.5" stroke-linecap="round" stroke-linejoin="round"/></svg>';
const MARK_BAD =
  '<svg class="mark" viewBox="0 0 48 48" aria-hidden="true"><circle cx="24" cy="24" r="22" fill="none" stroke="currentColor" stroke-width="3"/><path d="M24 13v14" stroke="currentColor" stroke-width="3.5" stroke-linecap="round"/><circle cx="24" cy="34" r="2.3" fill="currentColor"/></svg>';

interface Confirmed {
  /** the gateway's name as people read it (demo.example.org) */
  name: string;
  email: string;
}

/** The built-in page of each state; values are escaped here. */
export function builtInPage(state: PageState, zone: string, confirmed?: Confirmed): string {
  const name = `<span class="value">${escapeHtml(confirmed?.name ?? "")}</span>`;
  const email = `<span class="value">${escapeHtml(confirmed?.email ?? "")}</span>`;
  const bodies: Record<PageState, [string, string]> = {
    verified: [
      "Email address confirmed",
      `<p>${email} is now the email address of ${name}.</p><p>If you ever set up this gateway again, you can get the name back with a reclamation token sent to this address.</p><p>You can close this page.</p>`,
    ],
    already: [
      "Already confirmed",
      `<p>${email} was already confirmed for ${name} with this link. There is nothing more to do.</p><p>You can close this page.</p>`,
    ],
    missing: [
      "This link is incomplete",
      '<p>The code that comes after <span class="value">?s=</span> is missing from this address.</p><p>Open the link in the email again. If you copied it, copy the whole link, up to its last character.</p>',
    ],
    unknown: [
      "This link is not valid",
      "<p>This server did not send this link, or it was replaced by a newer one: only the link in the most recent email works.</p><p>Check that the whole link was copied, or ask your gateway to send a new confirmation email.</p>",
    ],
    failed: [
      "Something went wrong on our side",
      "<p>The link was not checked: this server could not read or write its database just now. Nothing has changed.</p><p>Try the same link again in a few minutes; it stays valid for 7 days.</p>",
    ],
    expired: [
      "This link has expired",
      "<p>Confirmation links work for 7 days, and this one is older.</p><p>Ask your gateway to send a new confirmation email from its settings page, then open the new link.</p>",
    ],
  };
  const [title, body] = bodies[state];
  return page(title, body, state === "verified" || state === "already", zone);
}

/** A whole page around `body` (HTML, values escaped already): ok or not, in the style above. */
function page(title: string, body: string, good: boolean, zone: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="no-referrer">
<title>${title} · ${escapeHtml(zone)}</title>
<link rel="icon" href="${ICON_DATA_URL}">
<style>${STYLE}</style>
</head>
<body>
<main class="${good ? "ok" : "bad"}">
${good ? MARK_OK : MARK_BAD}
<h1>${title}</h1>
${body}
<footer>Gateway names under ${escapeHtml(zone)}</footer>
</main>
</body>
</html>
`;
}

/** The answer of /verifyemail: the operator's page when one is set, else the built-in one. */
export function verificationPage(state: PageState, settings: EmailSettings, zone: string, confirmed?: Confirmed): Response {
  const status = STATUS[state];
  const custom = status === 200 ? settings.successPage : settings.errorPage;
  if (custom) return new Response(custom, { status, headers: pageHeaders(CUSTOM_CSP) });
  return new Response(builtInPage(state, zone, confirmed), { status, headers: pageHeaders(STRICT_CSP) });
}

/** The states of /keep, as of /verifyemail. */
export type KeepState = KeepOutcome["outcome"] | "missing" | "failed";

const KEEP_STATUS: Record<KeepState, number> = { kept: 200, already: 200, missing: 400, unknown: 404, expired: 404, failed: 501 };

/** The answer of /keep (an expiry warning's link): always the built-in page, which says until when the name is kept. */
export function keepPage(state: KeepState, zone: string, kept?: { name: string; until: number }): Response {
  const name = `<span class="value">${escapeHtml(kept?.name ?? "")}</span>`;
  const until = `<span class="value">${kept ? utcDate(kept.until) : ""}</span>`;
  const bodies: Record<KeepState, [string, string]> = {
    kept: [
      "Name kept",
      `<p>${name} is kept until ${until}.</p><p>This counts as a sign of life from your gateway; the address the name points to has not changed. If the gateway stays silent, you will be warned again before that date.</p><p>You can close this page.</p>`,
    ],
    already: ["Already kept", `<p>This link was used already: ${name} is kept until ${until}. There is nothing more to do.</p><p>You can close this page.</p>`],
    missing: [
      "This link is incomplete",
      '<p>The code that comes after <span class="value">?s=</span> is missing from this address.</p><p>Open the link in the email again. If you copied it, copy the whole link, up to its last character.</p>',
    ],
    unknown: [
      "This link is not valid",
      "<p>This server did not send this link, a newer warning replaced it, or the name was freed already.</p><p>Check that the whole link was copied. If the name was freed, your gateway can register it again.</p>",
    ],
    expired: [
      "This link has expired",
      "<p>A keep link works until the name is due to be freed, and that time has passed.</p><p>Bring your gateway back online: if the name is still there, it is kept; if it was freed, the gateway can register it again.</p>",
    ],
    failed: [
      "Something went wrong on our side",
      "<p>The link was not checked: this server could not read or write its database just now. Nothing has changed.</p><p>Try the same link again in a few minutes.</p>",
    ],
  };
  const [title, body] = bodies[state];
  return new Response(page(title, body, KEEP_STATUS[state] === 200, zone), { status: KEEP_STATUS[state], headers: pageHeaders(STRICT_CSP) });
}
