// The gateway's own calls: claim a name, keep it alive, prove ownership to ACME, read it, give
// it up. Parameters in, answers out; the rules are src/gateways.ts's.
import { Elysia, t } from "elysia";
import type { Gateways } from "../gateways.ts";
import type { DomainInfo } from "../store/domains.ts";
import type { ApiDeps } from "./context.ts";
import { ApiError } from "./errors.ts";
import { given, param } from "./params.ts";
import { createClientIp, type IpSource } from "./client-ip.ts";
import { ClientBudget } from "./rate-limit.ts";

// The store hands out the same DomainInfo object until the row changes, so its JSON is made once.
const infoBodies = new WeakMap<DomainInfo, string>();
function infoJson(domain: DomainInfo): string {
  let body = infoBodies.get(domain);
  if (body === undefined) {
    body = JSON.stringify({
      name: domain.name,
      token: domain.token,
      description: domain.description,
      timestamp: domain.timestamp,
      dns_challenge: domain.dnsChallenge,
      verified: domain.verified,
      email: domain.verified ? domain.email : "",
      optout: domain.optout,
      continent: domain.continent,
      mode: domain.mode,
      last_ip: domain.lastIp,
      last_ipv4: domain.lastIpv4,
      last_ipv6: domain.lastIpv6,
    });
    infoBodies.set(domain, body);
  }
  return body;
}

export function domainRoutes(deps: ApiDeps, gateways: Gateways) {
  const { settings, now } = deps;
  const clientIp = createClientIp(deps);
  // Every /subscribe counts, failures included: that bounds taking names in bulk and guessing an
  // owner's address through UnavailableNameReclamationPossible.
  // Budgets are read on each call: a settings reload changes them in place (src/ops/reload.ts).
  const subscriptions = new ClientBudget(
    () => settings.limits.subscribePerHour,
    3600,
    () => settings.limits.ipv6SiteFactor,
  );
  const limitSubscribe = ({ request, server }: { request: Request; server: IpSource | null }) => {
    const wait = subscriptions.take(clientIp(request, server), now());
    if (wait > 0) throw new ApiError("TooManyRequests", undefined, wait);
  };

  return new Elysia({ name: "domains" })
    .get(
      "/subscribe",
      ({ query }) => {
        const mode = given(query.mode);
        const { label, token } = gateways.subscribe(
          {
            name: query.name,
            description: given(query.desc),
            mode: mode === undefined ? undefined : Number(mode),
            email: given(query.email),
            reclamationToken: given(query.reclamationToken),
          },
          now(),
        );
        return { name: label, token };
      },
      {
        query: t.Object({
          name: param.required,
          desc: param.description,
          email: param.optional,
          reclamationToken: param.optional,
          mode: param.mode,
        }),
        transform: limitSubscribe,
      },
    )
    .get(
      "/unsubscribe",
      ({ query }) => {
        gateways.unsubscribe({ token: given(query.token), reclamationToken: given(query.reclamationToken) }, now());
        return {};
      },
      { query: t.Object({ token: param.optional, reclamationToken: param.optional }) },
    )
    .get(
      "/ping",
      async ({ query, request, server }) => {
        await gateways.ping(query.token, clientIp(request, server), now());
        return {};
      },
      { query: t.Object({ token: param.required }) },
    )
    .get(
      "/dnsconfig",
      ({ query }) => {
        gateways.setDnsChallenge(query.token, query.challenge);
        return {};
      },
      { query: t.Object({ token: param.required, challenge: param.challenge }) },
    )
    .get(
      "/info",
      ({ query, set }) => {
        const body = infoJson(gateways.info(query.token));
        set.headers["content-type"] = "application/json;charset=utf-8"; // as Response.json sets it for the other routes
        return body;
      },
      { query: t.Object({ token: param.required }) },
    );
}
