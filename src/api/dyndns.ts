// dyndns2, the update protocol of ddclient, inadyn and most routers' DDNS pages: /nic/update
// (and /v3/update, No-IP's path). Plain-text answers, never JSON: these clients read the body
// word by word. Credentials in, answer lines out; the rules are src/gateways.ts's (dynUpdate).
import { isIP } from "node:net";
import { Elysia } from "elysia";
import { publishableFamily, unmapIPv4 } from "../addresses.ts";
import type { DynUpdate, Gateways } from "../gateways.ts";
import { errorText, maskedPath, queryOf, requestPath } from "../log.ts";
import { createClientIp, type IpSource } from "./client-ip.ts";
import type { ApiDeps } from "./context.ts";

export const DYNDNS_PATHS = ["/nic/update", "/v3/update"] as const;
const DYNDNS_PATH_SET = new Set<string>(DYNDNS_PATHS);

/** Whether a request URL is a dyndns2 endpoint (its errors are plain text too). */
export function isDyndnsUrl(url: string): boolean {
  return DYNDNS_PATH_SET.has(requestPath(url));
}

/** Seconds a client is told to wait after a `911`. */
const RETRY_AFTER_911 = 300;
/** The parameters dyndns2 reads; a repeated one is ambiguous, so the request is refused. */
const PARAMS = ["hostname", "myip", "myipv6", "username", "password"] as const;

/** A dyndns2 answer: text/plain, one line per hostname. */
export function dyndnsText(lines: string[], status = 200, headers: Record<string, string> = {}): Response {
  return new Response(`${lines.join("\n")}\n`, { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers } });
}

/** The Basic credentials of a request (user, password), or undefined when it sends none or they are unreadable. */
function basicCredentials(request: Request): { user: string; password: string } | undefined {
  const header = request.headers.get("authorization");
  const m = header === null ? null : /^basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const text = Buffer.from(m[1], "base64").toString("utf8");
  const colon = text.indexOf(":");
  return colon < 0 ? undefined : { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/**
 * The addresses to publish: the first IPv4 and the first IPv6 among `myip` (comma-separated)
 * and `myipv6`. Parts that are no address (an empty one, a placeholder a router left in) are
 * ignored, as dyndns2 servers do (an IPv6 address with a zone index too); none at all = the
 * client's own address.
 */
export function updateAddresses(myip: string, clientAddress: string): Pick<DynUpdate, "ipv4" | "ipv6"> {
  const out: Pick<DynUpdate, "ipv4" | "ipv6"> = {};
  for (const part of myip.split(",")) {
    const address = unmapIPv4(part.trim());
    const family = publishableFamily(address);
    if (family === 4) out.ipv4 ??= address;
    else if (family === 6) out.ipv6 ??= address.toLowerCase();
  }
  if (out.ipv4 === undefined && out.ipv6 === undefined) {
    const family = isIP(clientAddress);
    if (family === 4) out.ipv4 = clientAddress;
    else if (family === 6) out.ipv6 = clientAddress;
  }
  return out;
}

export function dyndnsRoutes(deps: ApiDeps, gateways: Gateways) {
  const clientIp = createClientIp(deps);

  const update = async ({ request, server }: { request: Request; server: IpSource | null }): Promise<Response> => {
    const query = queryOf(request.url);
    if (PARAMS.some((name) => query.getAll(name).length > 1)) return dyndnsText(["badagent"], 400);
    const value = (name: (typeof PARAMS)[number]) => query.get(name) ?? "";
    const credentials =
      basicCredentials(request) ?? (value("username") || value("password") ? { user: value("username"), password: value("password") } : undefined);
    // No credentials at all: a challenge, for clients (wget, curl --anyauth) that send them only when asked.
    if (!credentials) return dyndnsText(["badauth"], 401, { "www-authenticate": 'Basic realm="dyndns", charset="UTF-8"' });
    try {
      const answers = await gateways.dynUpdate(
        {
          ...credentials,
          hostnames: value("hostname")
            .split(",")
            .filter((h) => h.trim() !== ""),
          ...updateAddresses(`${value("myip")},${value("myipv6")}`, clientIp(request, server)),
        },
        deps.now(),
      );
      return dyndnsText(answers);
    } catch (error) {
      // Ours (the database failed or stayed locked): 5xx so inadyn retries later; ddclient reports the failure.
      const code = (error as { code?: unknown })?.code;
      const detail = typeof code === "string" && code.startsWith("SQLITE") ? code : errorText(error);
      deps.log(`error GET ${maskedPath(request.url)}: ${detail}, answering 911`, { level: "error" });
      return dyndnsText(["911"], 503, { "retry-after": String(RETRY_AFTER_911) });
    }
  };

  const app = new Elysia({ name: "dyndns" });
  for (const path of DYNDNS_PATHS) app.get(path, update);
  return app;
}
