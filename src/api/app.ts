// The HTTP application: CORS, request logs, rate limits, and the one place where errors
// become status codes and JSON bodies.
import { cors } from "@elysiajs/cors";
import { Elysia } from "elysia";
import { maskedPath } from "../log.ts";
import { clientIp } from "./client-ip.ts";
import type { ApiDeps } from "./context.ts";
import { domainRoutes } from "./domains.ts";
import { emailRoutes } from "./email.ts";
import { ApiError } from "./errors.ts";
import { hasRepeatedParameter } from "./params.ts";
import { RateLimiter } from "./rate-limit.ts";

/** Each address may trigger this many emails per hour. */
const EMAILS_PER_HOUR = 60;
const EMAIL_PATHS = new Set(["/setemail", "/reclaim"]);
const ALLOWED_METHODS = "GET, OPTIONS";

function errorBody(error: ApiError, set: { status?: number | string; headers: Record<string, string | number> }) {
  set.status = error.status;
  if (error.retryAfterSeconds) set.headers["retry-after"] = String(error.retryAfterSeconds);
  return { error: error.code };
}

export function createApp(deps: ApiDeps) {
  const started = new WeakMap<Request, number>();
  const emailLimiter = new RateLimiter(EMAILS_PER_HOUR, 3600);

  return new Elysia()
    .onRequest(({ request }) => {
      started.set(request, performance.now());
    })
    .use(
      cors({
        origin: "*",
        methods: ALLOWED_METHODS,
        allowedHeaders: ["Content-Type"],
        exposeHeaders: ["Retry-After"],
        credentials: false,
        // Preflights are answered below: the plugin's own would carry `Vary: *`.
        preflight: false,
      }),
    )
    .onRequest(({ request, set }) => {
      // The plugin marks every answer `Vary: *`, which no cache can use; our answers do not vary by Origin.
      delete set.headers.vary;
      if (request.method === "OPTIONS") {
        set.headers["access-control-allow-methods"] = ALLOWED_METHODS;
        set.headers["access-control-max-age"] = "86400";
        return new Response(null, { status: 204 });
      }
      // Every endpoint is a GET with side effects: a HEAD (link scanners) or POST must not run it.
      if (request.method !== "GET") {
        set.headers.allow = ALLOWED_METHODS;
        return errorBody(new ApiError("MethodNotAllowed"), set);
      }
    })
    .onError(({ code, error, set, request }) => {
      if (error instanceof ApiError) return errorBody(error, set);
      if (code === "VALIDATION") {
        const first = error.all[0] as { value?: unknown } | undefined;
        const missing = first === undefined || first.value === undefined || first.value === "";
        return errorBody(new ApiError(missing ? "MissingParameter" : "InvalidParameter"), set);
      }
      if (code === "NOT_FOUND") return errorBody(new ApiError("NotFound"), set);
      if (code === "PARSE") return errorBody(new ApiError("InvalidParameter"), set);
      // Anything else is ours: log it whole, tell the client nothing about it.
      deps.log(`error ${request.method} ${maskedPath(request.url)}: ${(error as Error)?.stack ?? String(error)}`);
      return errorBody(new ApiError("InternalError"), set);
    })
    .onAfterResponse(({ request, set, responseValue }) => {
      const ms = performance.now() - (started.get(request) ?? performance.now());
      const status = responseValue instanceof Response ? responseValue.status : (set.status ?? 200);
      deps.log(`${request.method} ${maskedPath(request.url)} ${status} ${ms.toFixed(1)}ms`);
    })
    .onBeforeHandle(({ request, server, path }) => {
      if (!EMAIL_PATHS.has(path)) return;
      const wait = emailLimiter.take(clientIp(request, server, deps.settings.http.trustProxy), deps.now());
      if (wait > 0) throw new ApiError("TooManyRequests", undefined, wait);
    })
    .get("/connectivity-check", () => new Response("OK", { headers: { "content-type": "text/plain; charset=utf-8" } }))
    .onTransform(({ request }) => {
      if (hasRepeatedParameter(request.url)) throw new ApiError("InvalidParameter");
    })
    .use(domainRoutes(deps))
    .use(emailRoutes(deps));
}
