// Tying an email address to a name, and getting the name back through it.
import { Elysia, t } from "elysia";
import { displayName, fullName, normalizeLabel } from "../names.ts";
import { confirmationEmail, reclamationEmail, type Email } from "../mail/templates.ts";
import { ApiDeps, RECLAMATION_LIFETIME, VERIFICATION_LIFETIME } from "./context.ts";
import { ApiError } from "./errors.ts";
import { given, param } from "./params.ts";
import { clientIp } from "./client-ip.ts";
import { RateLimiter } from "./rate-limit.ts";

/** Each address may trigger this many emails per hour. */
const EMAILS_PER_HOUR = 60;

const html = (body: string, status: number) =>
  new Response(body, { status, headers: { "content-type": "text/html; charset=utf-8" } });

export function emailRoutes(deps: ApiDeps) {
  const { store, settings, mailer, now, log } = deps;

  /** Sends before writing, so a provider failure leaves the database as it was. */
  const send = async (email: Email) => {
    try {
      await mailer.send(email);
    } catch (e) {
      log(`mail to ${email.to} failed: ${(e as Error).message}`);
      throw new ApiError("InternalError");
    }
  };

  const limiter = new RateLimiter(EMAILS_PER_HOUR, 3600);
  /** For the routes that send an email: without a limit anyone could make us mail an address in a loop. */
  const limitEmails = ({ request, server }: { request: Request; server: Parameters<typeof clientIp>[1] }) => {
    const wait = limiter.take(clientIp(request, server, settings.http.trustProxy), now());
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
        await send(confirmationEmail(settings.email, query.email, `${settings.http.publicUrl}/verifyemail?s=${link}`, displayName(domain.name)));
        store.setPendingEmail(domain.id, query.email, optout, link, now() + VERIFICATION_LIFETIME);
        return {};
      },
      { query: t.Object({ token: param.required, email: param.email, optout: param.optout }), beforeHandle: limitEmails },
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
        const token = crypto.randomUUID();
        await send(reclamationEmail(settings.email, owner, token, displayName(domain.name)));
        store.setReclamationToken(domain.id, token, now() + RECLAMATION_LIFETIME);
        return {};
      },
      { query: t.Object({ name: param.required }), beforeHandle: limitEmails },
    );
}
