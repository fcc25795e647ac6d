// The gateway's own calls: claim a name, keep it alive, prove ownership to ACME, read it, give it up.
import { Elysia, t } from "elysia";
import { fullName, labelProblem, normalizeLabel } from "../names.ts";
import type { DomainInfo } from "../store/domains.ts";
import { ApiDeps } from "./context.ts";
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
    });
    infoBodies.set(domain, body);
  }
  return body;
}

export function domainRoutes(deps: ApiDeps) {
  const { store, settings, now } = deps;
  const clientIp = createClientIp(deps);
  // Every /subscribe counts, failures included: that bounds taking names in bulk and guessing an
  // owner's address through UnavailableNameReclamationPossible.
  const subscriptions = new ClientBudget(settings.limits.subscribePerHour, 3600, settings.limits.ipv6SiteFactor);
  const limitSubscribe = ({ request, server }: { request: Request; server: IpSource | null }) => {
    const wait = subscriptions.take(clientIp(request, server), now());
    if (wait > 0) throw new ApiError("TooManyRequests", undefined, wait);
  };

  return new Elysia({ name: "domains" })
    .get(
      "/subscribe",
      ({ query }) => {
        const label = normalizeLabel(query.name);
        if (labelProblem(label, settings.domain, deps.reserved)) throw new ApiError("UnavailableName");
        const name = fullName(label, settings.domain);
        const token = crypto.randomUUID();
        const description = given(query.desc) ?? `${label}'s server`;
        const mode = Number(given(query.mode) ?? 0);
        if (store.insertDomain({ name, token, description, mode, timestamp: now() })) return { name: label, token };

        const reclamationToken = given(query.reclamationToken);
        if (reclamationToken) {
          if (store.reclaimDomain(name, reclamationToken, token, description, mode, now())) return { name: label, token };
          throw new ApiError("ReclamationTokenMismatch");
        }
        const email = given(query.email);
        const taken = store.findDomainByName(name);
        const owner = taken && store.verifiedEmail(taken);
        if (email && owner && owner.toLowerCase() === email.trim().toLowerCase()) throw new ApiError("UnavailableNameReclamationPossible");
        throw new ApiError("UnavailableName");
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
        const token = given(query.token);
        const reclamationToken = given(query.reclamationToken);
        if (token) {
          if (!store.deleteByToken(token)) throw new ApiError("UnknownToken", 400);
        } else if (reclamationToken) {
          if (!store.deleteByReclamationToken(reclamationToken, now())) throw new ApiError("UnknownReclamationToken");
        } else throw new ApiError("MissingParameter");
        return {};
      },
      { query: t.Object({ token: param.optional, reclamationToken: param.optional }) },
    )
    .get(
      "/ping",
      async ({ query, request, server }) => {
        if (!(await store.recordPingGrouped(query.token, now(), clientIp(request, server)))) throw new ApiError("UnknownToken");
        return {};
      },
      { query: t.Object({ token: param.required }) },
    )
    .get(
      "/dnsconfig",
      ({ query }) => {
        if (!store.setDnsChallenge(query.token, query.challenge)) throw new ApiError("UnknownToken");
        return {};
      },
      { query: t.Object({ token: param.required, challenge: param.challenge }) },
    )
    .get(
      "/info",
      ({ query, set }) => {
        const domain = store.findInfoByToken(query.token);
        if (!domain) throw new ApiError("UnknownToken");
        set.headers["content-type"] = "application/json;charset=utf-8"; // as Response.json sets it for the other routes
        return infoJson(domain);
      },
      { query: t.Object({ token: param.required }) },
    );
}
