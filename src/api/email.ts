// Tying an email address to a name, and getting the name back through it. Parameters in,
// answers out; the rules, and the quotas that protect an inbox or an owner, are src/gateways.ts's.
import { errorText } from "../log.ts";
import { Elysia, t } from "elysia";
import type { Gateways } from "../gateways.ts";
import type { ApiDeps } from "./context.ts";
import { ApiError } from "./errors.ts";
import { faviconResponse, keepPage, verificationPage } from "./pages.ts";
import { given, param } from "./params.ts";
import { createClientIp, type IpSource } from "./client-ip.ts";
import { ClientBudget } from "./rate-limit.ts";

const HOUR = 3600;

/** A failed database call as one log line: its code, then errorText (a stack only at log.level = debug). */
const oneLine = (e: unknown) => `${(e as { code?: string })?.code ?? "Error"}: ${errorText(e)}`;

export function emailRoutes(deps: ApiDeps, gateways: Gateways) {
  const { settings, now } = deps;
  const { limits } = settings;
  const clientIp = createClientIp(deps);
  // Read on each call: a settings reload changes them in place (src/ops/reload.ts).
  const perClient = new ClientBudget(
    () => limits.emailRequestsPerHour,
    HOUR,
    () => limits.ipv6SiteFactor,
  );
  /** For the routes that send an email: every call counts, whatever it answers. */
  const limitClient = ({ request, server }: { request: Request; server: IpSource | null }) => {
    const wait = perClient.take(clientIp(request, server), now());
    if (wait > 0) throw new ApiError("TooManyRequests", undefined, wait);
  };

  return new Elysia({ name: "email" })
    .get(
      "/setemail",
      async ({ query }) => {
        const optout = query.optout === "1" || query.optout === "true";
        await gateways.setEmail(query.token, query.email, optout, now());
        return {};
      },
      { query: t.Object({ token: param.required, email: param.email, optout: param.optout }), transform: limitClient },
    )
    .get(
      "/verifyemail",
      ({ query }) => {
        // A person opened this link in a browser: every answer is a page (src/api/pages.ts).
        const link = given(query.s);
        if (!link) return verificationPage("missing", settings.email, settings.domain);
        let result: ReturnType<typeof gateways.verifyEmail>;
        try {
          result = gateways.verifyEmail(link, now());
        } catch (e) {
          // The database failed (the link is a secret: not logged): still a page, not JSON.
          deps.log(`error GET /verifyemail: ${oneLine(e)}, answering 501`);
          return verificationPage("failed", settings.email, settings.domain);
        }
        return verificationPage(result.outcome, settings.email, settings.domain, "name" in result ? result : undefined);
      },
      { query: t.Object({ s: param.optional }) },
    )
    .get(
      "/keep",
      ({ query }) => {
        // An expiry warning's link, opened in a browser: every answer is a page, as for /verifyemail.
        const link = given(query.s);
        if (!link) return keepPage("missing", settings.domain);
        let result: ReturnType<typeof gateways.keepName>;
        try {
          result = gateways.keepName(link, now());
        } catch (e) {
          deps.log(`error GET /keep: ${oneLine(e)}, answering 501`);
          return keepPage("failed", settings.domain);
        }
        const kept = result.name !== undefined && result.until !== undefined ? { name: result.name, until: result.until } : undefined;
        return keepPage(result.outcome, settings.domain, kept);
      },
      { query: t.Object({ s: param.optional }) },
    )
    .get(
      "/revokeemail",
      ({ query }) => {
        gateways.revokeEmail(query.token);
        return {};
      },
      { query: t.Object({ token: param.required }) },
    )
    .get(
      "/reclaim",
      async ({ query }) => {
        await gateways.reclaim(query.name, now());
        return {};
      },
      { query: t.Object({ name: param.required }), transform: limitClient },
    )
    .get("/favicon.ico", faviconResponse);
}
