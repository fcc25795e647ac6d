// Tying an email address to a name, and getting the name back through it.
import { Elysia, t } from "elysia";
import { displayName, fullName, normalizeLabel } from "../names.ts";
import { confirmationEmail, reclamationEmail, type Email } from "../mail/templates.ts";
import { ApiDeps, RECLAMATION_LIFETIME, VERIFICATION_LIFETIME } from "./context.ts";
import { ApiError } from "./errors.ts";
import { given, param } from "./params.ts";
import { createClientIp, type IpSource } from "./client-ip.ts";
import { ClientBudget, RateLimiter, takeAll } from "./rate-limit.ts";

const HOUR = 3600;

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

const html = (body: string, status: number) =>
  new Response(body, { status, headers: { "content-type": "text/html; charset=utf-8" } });

export function emailRoutes(deps: ApiDeps) {
  const { store, settings, mailer, now, log } = deps;

  /** Sends before writing (or, for /reclaim, undoes its write), so a provider failure leaves the database as it was. */
  const send = async (email: Email) => {
    try {
      await mailer.send(email);
    } catch (e) {
      log(`mail to ${email.to} failed: ${(e as Error).message}`);
      throw new ApiError("InternalError");
    }
  };

  const { limits } = settings;
  const clientIp = createClientIp(deps);
  const perClient = new ClientBudget(limits.emailRequestsPerHour, HOUR, limits.ipv6SiteFactor);
  /** For the routes that send an email: every call counts, whatever it answers. */
  const limitClient = ({ request, server }: { request: Request; server: IpSource | null }) => {
    const wait = perClient.take(clientIp(request, server), now());
    if (wait > 0) throw new ApiError("TooManyRequests", undefined, wait);
  };
  // Across all clients: an inbox, and a name's owner, get only so many emails whoever asks.
  // Verification and reclamation emails are counted apart: anyone may send the first kind to
  // any address, and must not use up the budget an owner's /reclaim needs.
  const perRecipient = () => ({
    hour: new RateLimiter(limits.emailsPerRecipientPerHour, HOUR),
    day: new RateLimiter(limits.emailsPerRecipientPerDay, 24 * HOUR),
  });
  const verifications = perRecipient();
  const reclamations = perRecipient();
  const reclaimsPerName = new RateLimiter(limits.reclaimEmailsPerNamePerHour, HOUR);
  const limitRecipient = (to: string, counters: ReturnType<typeof perRecipient>, extra: [RateLimiter, string][] = []) => {
    const key = recipientKey(to);
    const wait = takeAll([[counters.hour, key], [counters.day, key], ...extra], now());
    if (wait > 0) throw new ApiError("TooManyRequests", undefined, wait);
  };

  return new Elysia({ name: "email" })
    .get(
      "/setemail",
      async ({ query }) => {
        const domain = store.findDomainByToken(query.token);
        if (!domain) throw new ApiError("UnknownToken");
        const link = crypto.randomUUID();
        const optout = query.optout === "1" || query.optout === "true";
        limitRecipient(query.email, verifications);
        await send(confirmationEmail(settings.email, query.email, `${settings.http.publicUrl}/verifyemail?s=${link}`, displayName(domain.name)));
        store.setPendingEmail(domain.id, query.email, optout, link, now() + VERIFICATION_LIFETIME);
        return {};
      },
      { query: t.Object({ token: param.required, email: param.email, optout: param.optout }), transform: limitClient },
    )
    .get(
      "/verifyemail",
      ({ query }) => {
        // A person opened this link in a browser: every answer is a page.
        const link = given(query.s);
        if (!link) return html(settings.email.errorPage, 400);
        return store.verifyEmail(link, now()) ? html(settings.email.successPage, 200) : html(settings.email.errorPage, 404);
      },
      { query: t.Object({ s: param.optional }) },
    )
    .get(
      "/revokeemail",
      ({ query }) => {
        const domain = store.findDomainByToken(query.token);
        if (!domain) throw new ApiError("UnknownToken");
        store.revokeEmail(domain.id);
        return {};
      },
      { query: t.Object({ token: param.required }) },
    )
    .get(
      "/reclaim",
      async ({ query }) => {
        const label = normalizeLabel(query.name);
        const domain = store.findDomainByName(fullName(label, settings.domain));
        if (!domain) throw new ApiError("NoSuchName");
        const owner = store.verifiedEmail(domain);
        if (!owner) throw new ApiError("NoEmail");
        limitRecipient(owner, reclamations, [[reclaimsPerName, domain.name]]);
        // Stored before it is sent, so a /reclaim meanwhile re-sends this one instead of making another.
        const live = store.issueReclamationToken(domain.id, crypto.randomUUID(), now() + RECLAMATION_LIFETIME, now());
        if (!live) throw new ApiError("NoSuchName");
        try {
          await send(reclamationEmail(settings.email, owner, live.token, displayName(domain.name)));
        } catch (e) {
          if (live.issued) store.withdrawReclamationToken(domain.id, live.token, { token: domain.reclamationToken, expires: domain.reclamationExpires });
          throw e;
        }
        return {};
      },
      { query: t.Object({ name: param.required }), transform: limitClient },
    );
}
