// SIGHUP: the settings read again from where they came from at start-up. What the running
// parts read on each use (records, TTLs, templates, sender, limits, log settings, the public
// URL and trusted proxies) changes in place; what needs new sockets or another database keeps
// its running value and is named in the log as needing a restart.
import type { Settings } from "../config.ts";
import type { Mailer } from "../mail/mailer.ts";

/** Settings bound to sockets, the database file, the expiry timer or every stored name: read at start-up only. */
const RESTART_KEYS: ReadonlySet<string> = new Set([
  "domain",
  "http.host",
  "http.port",
  "dns.host",
  "dns.port",
  // the signing key reaches the DNS thread at its start
  "dns.dnssec",
  "dns.dnssec_algorithm",
  "admin.host",
  "admin.port",
  "database.path",
  "database.check_seconds",
  "expiry.inactive_days",
  "expiry.interval_seconds",
  "expiry.max_fraction",
  "expiry.warn_days",
]);

/** The sections a reload changes in place: every part holding `settings` sees the new values. */
const LIVE_SECTIONS = ["http", "dns", "email", "limits", "log"] as const;

const snake = (field: string) => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Every setting under its TOML key (dns.rrl_rate, email.reclamation_body...), as comparable text. */
function byKey(settings: Settings): Map<string, string> {
  const out = new Map<string, string>([["domain", JSON.stringify(settings.domain)]]);
  for (const [section, fields] of Object.entries(settings)) {
    if (typeof fields !== "object" || fields === null) continue;
    for (const [field, value] of Object.entries(fields as Record<string, unknown>)) {
      if (section === "dns" && field === "domain") continue; // the same fact as `domain`
      if (section === "dns" && field === "rrl") {
        for (const [k, v] of Object.entries(value as object)) out.set(`dns.rrl_${k}`, JSON.stringify(v));
        continue;
      }
      out.set(`${section}.${snake(field)}`, JSON.stringify(value));
    }
  }
  return out;
}

export interface ReloadPlan {
  /** keys that change now */
  changed: string[];
  /** keys that changed in the file but keep their running value until a restart */
  needRestart: string[];
}

/** Which keys differ between the running settings and the ones just read, and which of them can change now. */
export function planReload(running: Settings, next: Settings): ReloadPlan {
  const before = byKey(running);
  const differ = [...byKey(next)].filter(([key, value]) => before.get(key) !== value).map(([key]) => key);
  // Every record is written relative to the domain: a new one takes the whole zone with it.
  if (differ.includes("domain")) return { changed: [], needRestart: differ.filter((k) => RESTART_KEYS.has(k)) };
  return { changed: differ.filter((k) => !RESTART_KEYS.has(k)), needRestart: differ.filter((k) => RESTART_KEYS.has(k)) };
}

/** Puts the reloadable part of `next` into `running` in place; listen addresses and ports stay. */
export function applyReload(running: Settings, next: Settings): void {
  if (next.domain !== running.domain) return;
  const kept = {
    http: { host: running.http.host, port: running.http.port },
    dns: {
      host: running.dns.host,
      port: running.dns.port,
      dnssec: running.dns.dnssec,
      dnssecAlgorithm: running.dns.dnssecAlgorithm,
    },
  };
  for (const section of LIVE_SECTIONS) Object.assign(running[section], next[section]);
  Object.assign(running.http, kept.http);
  Object.assign(running.dns, kept.dns);
}

/** A mailer whose transport is built again when the settings are reloaded (a new sender or API key). */
export function reloadableMailer(build: () => Mailer): Mailer & { rebuild(): void } {
  let current = build();
  return {
    get kind() {
      return current.kind;
    },
    send: (email) => current.send(email),
    rebuild() {
      current = build();
    },
  };
}

/** One line for a reload: what changed, or nothing. */
export function reloadedLine(plan: ReloadPlan): string {
  return `settings reloaded: ${plan.changed.length ? plan.changed.join(", ") : "nothing changed"}`;
}

/** One line naming what changed but waits for a restart, or null. */
export function restartLine(plan: ReloadPlan): string | null {
  if (plan.needRestart.length === 0) return null;
  return `settings reload: ${plan.needRestart.join(", ")} changed but need a restart (new sockets, database or domain); the running values stay until then`;
}
