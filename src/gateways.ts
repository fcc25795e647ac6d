// The rules of a gateway's life, whoever asks: the HTTP routes, dyndns2 and the CLI. Functions take plain values (names, tokens, a client address, the time in Unix
// seconds), never a Request. A rule that fails throws ApiError with the code the contract
// gives it (docs/api.md); api/app.ts alone turns codes into statuses. Quotas that protect a
// mailbox or a name's owner are rules, counted here; per-client quotas are HTTP's (api/).
import { timingSafeEqual } from "node:crypto";
import { publishableFamily, unmapIPv4 } from "./addresses.ts";
import { ApiError } from "./api/errors.ts";
import { RateLimiter, takeAll } from "./api/rate-limit.ts";
import type { Settings } from "./config.ts";
import { MODE } from "./gateway-data.ts";
import { errorText, type Log, maskEmail } from "./log.ts";
import type { Mailer } from "./mail/mailer.ts";
import { confirmationEmail, reclamationEmail, warningEmail, type Email } from "./mail/templates.ts";
import { displayName, fullName, labelProblem, normalizeLabel } from "./names.ts";
import type { WarnResult } from "./expiry.ts";
import type { DomainInfo, KeepOutcome, QuietName, Store, VerificationOutcome } from "./store/domains.ts";

const HOUR = 3600;
const DAY = 24 * HOUR;
export const RECLAMATION_LIFETIME = DAY;
export const VERIFICATION_LIFETIME = 7 * DAY;

export interface GatewayDeps {
  settings: Settings;
  store: Store;
  mailer: Mailer;
  log: Log;
  /** labels reserved by configured static records, computed once at start-up */
  reserved: Set<string>;
}

export interface Subscription {
  /** the requested name, as given (trimmed and lower-cased here) */
  name: string;
  description?: string;
  mode?: number;
  /** an address the caller claims to own the name with (the owner-email hint) */
  email?: string;
  reclamationToken?: string;
}

/**
 * The mailbox an address delivers to, as the per-recipient quota counts it: lower case, without
 * a +subaddress, and without dots for Gmail (which ignores them), so spelling variants of one
 * inbox share its budget.
 */
export function recipientKey(address: string): string {
  const at = address.lastIndexOf("@");
  let domain = address.slice(at + 1).toLowerCase();
  let local = address.slice(0, at).toLowerCase().split("+")[0];
  if (domain === "gmail.com" || domain === "googlemail.com") {
    domain = "gmail.com"; // one inbox under either name
    local = local.replaceAll(".", "");
  }
  return `${local}@${domain}`;
}

/** A dyndns2 update (/nic/update): who asks, for which names, with which addresses. */
export interface DynUpdate {
  /** the Basic auth user (or `username`): a label or a full name, case and trailing dot as given */
  user: string;
  /** the Basic auth password (or `password`): the name's API token */
  password: string;
  /** `hostname` split at its commas, as given; none = the user's own name */
  hostnames: string[];
  /** the IPv4 and IPv6 address to publish; a family left out keeps its address */
  ipv4?: string;
  ipv6?: string;
}

/** The dyndns2 answers, one line per hostname; `911` (our failure) is the route's. */
export type DynAnswer = "good" | "nochg" | `good ${string}` | `nochg ${string}` | "badauth" | "nohost" | "notfqdn" | "abuse" | "numhost";

/** Hostnames one update may name; more answer `numhost` (dyndns2's limit is 20). */
export const MAX_UPDATE_HOSTNAMES = 20;

/** Equal strings, compared in time that does not depend on where they differ. */
function sameSecret(given: string, stored: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(stored);
  return a.length === b.length && stored !== "" && timingSafeEqual(a, b);
}

export type Gateways = ReturnType<typeof createGateways>;

/** A dyndns2 user or hostname as compared: trimmed, lower-cased, without its trailing dot; undefined when empty. */
function dynName(text: string): string | undefined {
  const name = text.trim().toLowerCase().replace(/\.$/, "");
  return name === "" ? undefined : name;
}

export function createGateways({ settings, store, mailer, log, reserved }: GatewayDeps) {
  const { limits } = settings;

  /** Sends before writing (or, for reclaim, undoes its write), so a provider failure leaves the database as it was. */
  const send = async (email: Email) => {
    try {
      await mailer.send(email);
    } catch (e) {
      log(`mail to ${maskEmail(email.to)} failed: ${errorText(e)}`, { level: "error" });
      throw new ApiError("InternalError");
    }
  };

  // Across all callers: an inbox, and a name's owner, get only so many emails whoever asks.
  // Verification, reclamation and expiry warning emails are counted apart: anyone may send the
  // first kind to any address, and must not use up the budget an owner's reclaim needs, nor
  // hold back the warnings the server sends by itself (an owner of many quiet names gets the
  // rest at later sweeps).
  // Budgets are read on each call: a settings reload changes `limits` in place (src/ops/reload.ts).
  const perRecipient = () => ({
    hour: new RateLimiter(() => limits.emailsPerRecipientPerHour, HOUR),
    day: new RateLimiter(() => limits.emailsPerRecipientPerDay, DAY),
  });
  const verifications = perRecipient();
  const reclamations = perRecipient();
  const warnings = perRecipient();
  const reclaimsPerName = new RateLimiter(() => limits.reclaimEmailsPerNamePerHour, HOUR);
  // Whoever holds its token: a router stuck in a loop must not write a name's row without end.
  const updatesPerName = new RateLimiter(() => limits.updatesPerNamePerMinute, 60);
  const limitRecipient = (to: string, counters: ReturnType<typeof perRecipient>, now: number, extra: [RateLimiter, string][] = []) => {
    const key = recipientKey(to);
    const wait = takeAll([[counters.hour, key], [counters.day, key], ...extra], now);
    if (wait > 0) throw new ApiError("TooManyRequests", undefined, wait);
  };

  const domainByToken = (token: string) => {
    const domain = store.findDomainByToken(token);
    if (!domain) throw new ApiError("UnknownToken");
    return domain;
  };

  return {
    /**
     * Registers a free valid name; else hands a taken one to the holder of its live reclamation
     * token; else says why not (docs/api.md, "Endpoints": `/subscribe` in order). Returns the label and the
     * new API token.
     */
    subscribe(request: Subscription, now: number): { label: string; token: string } {
      const label = normalizeLabel(request.name);
      if (labelProblem(label, settings.domain, reserved)) throw new ApiError("UnavailableName");
      const name = fullName(label, settings.domain);
      const token = crypto.randomUUID();
      const description = request.description ?? `${label}'s server`;
      const mode = request.mode ?? MODE.tunnel;
      if (store.insertDomain({ name, token, description, mode, timestamp: now })) return { label, token };

      if (request.reclamationToken) {
        if (store.reclaimDomain(name, request.reclamationToken, token, description, mode, now)) return { label, token };
        throw new ApiError("ReclamationTokenMismatch");
      }
      const taken = store.findDomainByName(name);
      const owner = taken && store.verifiedEmail(taken);
      if (request.email && owner && owner.toLowerCase() === request.email.trim().toLowerCase()) throw new ApiError("UnavailableNameReclamationPossible");
      throw new ApiError("UnavailableName");
    },

    /** Frees a name by its API token, or else by its live reclamation token (`token` wins). */
    unsubscribe({ token, reclamationToken }: { token?: string; reclamationToken?: string }, now: number): void {
      if (token) {
        // 400, not UnknownToken's usual 404: the contract of /unsubscribe (docs/api.md).
        if (!store.deleteByToken(token)) throw new ApiError("UnknownToken", 400);
      } else if (reclamationToken) {
        if (!store.deleteByReclamationToken(reclamationToken, now)) throw new ApiError("UnknownReclamationToken");
      } else throw new ApiError("MissingParameter");
    },

    /**
     * Keeps a name alive and records where its gateway is: `address` is what DNS then answers
     * (A or AAAA by its family); an IPv4 address seen as ::ffff:a.b.c.d is stored as a.b.c.d.
     * Resolves once committed.
     */
    async ping(token: string, address: string, now: number): Promise<void> {
      if (!(await store.recordPingGrouped(token, now, unmapIPv4(address).toLowerCase()))) throw new ApiError("UnknownToken");
    },

    /**
     * A dyndns2 update (docs/api.md, "/nic/update"): the user's name and token must match, else
     * one `badauth` and nothing changes. Then each hostname in order: `notfqdn` unless it is a
     * full name, `nohost` unless it is the user's name, `abuse` past the per-name quota, else a
     * ping that stores the addresses given: `good` when one changed, `nochg` when none did.
     */
    async dynUpdate(request: DynUpdate, now: number): Promise<DynAnswer[]> {
      const userName = dynName(request.user);
      const domain = userName && store.findDomainByName(userName.includes(".") ? `${userName}.` : fullName(userName, settings.domain));
      if (!domain || !sameSecret(request.password, domain.token)) return ["badauth"];
      const hostnames = request.hostnames.length > 0 ? request.hostnames : [domain.name];
      if (hostnames.length > MAX_UPDATE_HOSTNAMES) return ["numhost"];
      // Whoever calls: only an address of the right family is stored.
      const ipv4 = request.ipv4 !== undefined && publishableFamily(unmapIPv4(request.ipv4)) === 4 ? unmapIPv4(request.ipv4) : undefined;
      const ipv6 = request.ipv6 !== undefined && publishableFamily(request.ipv6) === 6 ? request.ipv6.toLowerCase() : undefined;
      const shown = [ipv4, ipv6].filter((a) => a !== undefined).join(",");
      let current = { v4: domain.lastIpv4, v6: domain.lastIpv6 };
      const answers: DynAnswer[] = [];
      for (const hostname of hostnames) {
        const name = dynName(hostname);
        if (!name?.includes(".")) answers.push("notfqdn");
        else if (`${name}.` !== domain.name) answers.push("nohost");
        else if (updatesPerName.take(domain.name, now) > 0) answers.push("abuse");
        else {
          const changed = (ipv4 !== undefined && ipv4 !== current.v4) || (ipv6 !== undefined && ipv6 !== current.v6);
          const written = await store.recordUpdate({
            token: domain.token,
            timestamp: now,
            ip: ipv4 ?? ipv6 ?? domain.lastIp,
            ipv4: ipv4 ?? null,
            ipv6: ipv6 ?? null,
          });
          if (!written)
            answers.push("nohost"); // unsubscribed or reclaimed meanwhile
          else {
            current = { v4: ipv4 ?? current.v4, v6: ipv6 ?? current.v6 };
            answers.push(`${changed ? "good" : "nochg"} ${shown}`.trimEnd() as DynAnswer);
          }
        }
      }
      return answers;
    },

    /** The TXT answer of _acme-challenge.<name> (ACME DNS-01). */
    setDnsChallenge(token: string, challenge: string): void {
      if (!store.setDnsChallenge(token, challenge)) throw new ApiError("UnknownToken");
    },

    /** What the owner may read of a name; the same object until the row changes. */
    info(token: string): DomainInfo {
      const info = store.findInfoByToken(token);
      if (!info) throw new ApiError("UnknownToken");
      return info;
    },

    /**
     * Stores `email` as the name's pending address, then sends it the verification link: no
     * email goes out with a link a failed write left dead, and a failed send puts back what was there.
     */
    async setEmail(token: string, email: string, optout: boolean, now: number): Promise<void> {
      const domain = domainByToken(token);
      const link = crypto.randomUUID();
      limitRecipient(email, verifications, now);
      store.setPendingEmail(domain.id, email, optout, link, now + VERIFICATION_LIFETIME);
      try {
        await send(confirmationEmail(settings.email, email, `${settings.http.publicUrl}/verifyemail?s=${link}`, displayName(domain.name)));
      } catch (e) {
        const previous = { email: domain.pendingEmail, optout: domain.pendingOptout, link: domain.verificationToken, expires: domain.verificationExpires };
        store.withdrawPendingEmail(domain.id, link, previous);
        throw e;
      }
    },

    /**
     * Follows a verification link: "verified", "already" (followed before, within its lifetime:
     * a mail scanner may have opened it first), "expired" or "unknown"; `name` as people read it.
     */
    verifyEmail(link: string, now: number): VerificationOutcome {
      const result = store.verifyEmail(link, now);
      return "name" in result ? { ...result, name: displayName(result.name) } : result;
    },

    /** Cancels a pending link and unties the name from its address. */
    revokeEmail(token: string): void {
      store.revokeEmail(domainByToken(token).id);
    },

    /**
     * Sends the expiry warning of a quiet name (src/expiry.ts) to its verified owner, with a link
     * that keeps the name until it would be freed. At most once per silence: the link is stored
     * first (an earlier attempt's is reused, so every attempt is the same email under the same
     * idempotency key: a retry after a lost answer is not delivered again), and the silence is
     * marked warned only once the provider took it, so a failed send is retried at the next sweep.
     */
    async warnQuiet(quiet: QuietName, now: number): Promise<WarnResult> {
      const freeAt = quiet.timestamp + settings.expiry.inactiveDays * DAY;
      const key = recipientKey(quiet.email);
      if (
        takeAll(
          [
            [warnings.hour, key],
            [warnings.day, key],
          ],
          now,
        ) > 0
      )
        return "deferred";
      const token = quiet.keepToken !== "" && quiet.keepExpires === freeAt ? quiet.keepToken : crypto.randomUUID();
      if (!store.prepareWarning(quiet.id, quiet.timestamp, token, freeAt)) return "gone";
      const link = `${settings.http.publicUrl}/keep?s=${token}`;
      const email = warningEmail(settings.email, quiet.email, link, displayName(quiet.name), quiet.timestamp, freeAt, `expiry-warning/${token}`);
      try {
        await mailer.send(email);
      } catch (e) {
        log(`mail to ${maskEmail(email.to)} failed: ${errorText(e)}`, { level: "error" });
        return "failed";
      }
      store.markWarned(quiet.id, token, quiet.timestamp);
      return "sent";
    },

    /**
     * Follows an expiry warning's keep link: "kept" (counts as a ping, the address stays),
     * "already" (followed before), "expired" or "unknown"; `name` as people read it and
     * `until`, when the name is now freed unless it pings.
     */
    keepName(link: string, now: number): { outcome: KeepOutcome["outcome"]; name?: string; until?: number } {
      const result = store.keepName(link, now);
      if (!("name" in result)) return result;
      return { outcome: result.outcome, name: displayName(result.name), until: result.timestamp + settings.expiry.inactiveDays * DAY };
    },

    /**
     * Emails the name's live reclamation token (a new one when none is live) to its verified
     * owner, never to an address the caller gives.
     */
    async reclaim(requestedName: string, now: number): Promise<void> {
      const label = normalizeLabel(requestedName);
      const domain = store.findDomainByName(fullName(label, settings.domain));
      if (!domain) throw new ApiError("NoSuchName");
      const owner = store.verifiedEmail(domain);
      if (!owner) throw new ApiError("NoEmail");
      limitRecipient(owner, reclamations, now, [[reclaimsPerName, domain.name]]);
      // Stored before it is sent, so a reclaim meanwhile re-sends this one instead of making another.
      const live = store.issueReclamationToken(domain.id, crypto.randomUUID(), now + RECLAMATION_LIFETIME, now);
      if (!live) throw new ApiError("NoSuchName");
      try {
        await send(reclamationEmail(settings.email, owner, live.token, displayName(domain.name)));
      } catch (e) {
        if (live.issued) store.withdrawReclamationToken(domain.id, live.token, { token: domain.reclamationToken, expires: domain.reclamationExpires });
        throw e;
      }
    },
  };
}
