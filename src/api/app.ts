// The HTTP application: CORS, request logs, and the one place where errors become status
// codes and JSON bodies.
import { cors } from "@elysiajs/cors";
import { Elysia } from "elysia";
import { createGateways } from "../gateways.ts";
import { errorText, maskedPath, queryOf, requestPath } from "../log.ts";
import { displayName } from "../names.ts";
import { createClientIp, type IpSource } from "./client-ip.ts";
import type { ApiDeps } from "./context.ts";
import { HttpCounters } from "./counters.ts";
import { domainRoutes } from "./domains.ts";
import { dyndnsRoutes, dyndnsText, isDyndnsUrl } from "./dyndns.ts";
import { emailRoutes } from "./email.ts";
import { ApiError } from "./errors.ts";
import { hasRepeatedParameter } from "./params.ts";

const ALLOWED_METHODS = "GET, OPTIONS";
/**
 * A gateway's routine calls. With http.access_log = "changes" (the default) their successes are
 * counted into one line a minute instead of a line each: a thousand gateways pinging every
 * minute would otherwise write 1.4 million lines a day, and the line cost a sixth of /info's
 * throughput. Their failures, and every other request, keep their own line.
 */
const ROUTINE_PATHS = new Set(["/ping", "/info"]);
const SUMMARY_INTERVAL_MS = 60_000;
/** Calls that carry a gateway's token: their request lines name the gateway (never the token). */
const TOKEN_PATHS = new Set(["/ping", "/info", "/dnsconfig", "/setemail", "/revokeemail", "/unsubscribe"]);

function errorBody(error: ApiError, set: { status?: number | string; headers: Record<string, string | number> }) {
  set.status = error.status;
  if (error.retryAfterSeconds) set.headers["retry-after"] = String(error.retryAfterSeconds);
  return { error: error.code };
}

export function createApp(deps: ApiDeps) {
  // One line per request, written where its status is known: after the handler, in onError,
  // or where onRequest answers by itself. (onAfterResponse would cost a setImmediate and an
  // async closure per request: a tenth of the throughput of /info.)
  const started = new WeakMap<Request, number>();
  const clientIp = createClientIp(deps);
  /** /unsubscribe's name, looked up before the call removes it. */
  const names = new WeakMap<Request, string>();
  /** The name a token is for, as people read it; none when the database cannot say (the line still goes out). */
  const nameOfToken = (request: Request): string | undefined => {
    const token = queryOf(request.url).get("token");
    if (!token) return undefined;
    try {
      const name = deps.store.findInfoByToken(token)?.name;
      return name === undefined ? undefined : displayName(name);
    } catch {
      return undefined;
    }
  };
  /** The gateway a token call was about: the store's /info cache, a point read on a miss. */
  const nameOf = (request: Request, path: string): string | undefined => {
    const known = names.get(request);
    return known !== undefined || !TOKEN_PATHS.has(path) ? known : nameOfToken(request);
  };
  const logRequest = (request: Request, status: number | string | undefined, server: IpSource | null) => {
    const ms = (performance.now() - (started.get(request) ?? performance.now())).toFixed(1);
    const path = maskedPath(request.url);
    const client = clientIp(request, server) || "unknown";
    const name = nameOf(request, requestPath(request.url));
    const code = Number(status ?? 200);
    deps.log(`${request.method} ${path} ${code} ${ms}ms client=${client}${name ? ` name=${name}` : ""}`, {
      level: code >= 500 ? "error" : "info",
      method: request.method,
      path,
      status: code,
      ms: Number(ms),
      client,
      ...(name ? { name } : {}),
    });
  };
  const routine = createRoutineCounter(deps);
  const gateways = deps.gateways ?? createGateways(deps);
  const counts = deps.httpCounters ?? new HttpCounters();

  const app = new Elysia()
    .use(
      cors({
        origin: "*",
        // Allow-Methods means something on a preflight only, answered below: not on every answer.
        methods: false,
        allowedHeaders: ["Content-Type"],
        exposeHeaders: ["Retry-After"],
        credentials: false,
        // Preflights are answered below: the plugin's own would carry `Vary: *`.
        preflight: false,
      }),
    )
    .onRequest(({ request, set, server }) => {
      started.set(request, performance.now());
      // The plugin marks every answer `Vary: *`, which no cache can use; our answers do not vary by Origin.
      delete set.headers.vary;
      if (request.method === "OPTIONS") {
        set.headers["access-control-allow-methods"] = ALLOWED_METHODS;
        set.headers["access-control-max-age"] = "86400";
        logRequest(request, 204, server);
        counts.count(requestPath(request.url), 204);
        return new Response(null, { status: 204 });
      }
      // Answers carry new tokens, a name's token and addresses, an update's result: no cache keeps one.
      set.headers["cache-control"] = "no-store";
      // Every endpoint is a GET with side effects: a HEAD (link scanners) or POST must not run it.
      if (request.method !== "GET") {
        set.headers.allow = ALLOWED_METHODS;
        if (isDyndnsUrl(request.url)) {
          logRequest(request, 405, server);
          counts.count(requestPath(request.url), 405);
          return dyndnsText(["badagent"], 405, { allow: ALLOWED_METHODS });
        }
        const body = errorBody(new ApiError("MethodNotAllowed"), set);
        logRequest(request, set.status, server);
        counts.count(requestPath(request.url), set.status);
        return body;
      }
      if (request.url.includes("/unsubscribe?")) {
        const name = nameOfToken(request);
        if (name) names.set(request, name);
      }
    })
    .onError(({ code, error, set, request, route, server }) => {
      let failure: ApiError;
      if (error instanceof ApiError) failure = error;
      else if (code === "VALIDATION") {
        const first = error.all[0] as { value?: unknown } | undefined;
        const missing = first === undefined || first.value === undefined || first.value === "";
        failure = new ApiError(missing ? "MissingParameter" : "InvalidParameter");
      } else if (code === "NOT_FOUND") failure = new ApiError("NotFound");
      else if (code === "PARSE") failure = new ApiError("InvalidParameter");
      // The database file went away and writes are refused (store/file-watch.ts logs it once a minute).
      else if ((error as { code?: unknown })?.code === "SQLITE_READONLY") failure = new ApiError("InternalError");
      else if (String((error as { code?: unknown })?.code).startsWith("SQLITE_BUSY")) {
        // Another connection held the write lock past the busy timeout (2 s): the transaction
        // rolled back. Expected under load from outside, so one line, no stack.
        deps.log(
          `error ${request.method} ${maskedPath(request.url)}: the database stayed locked by another connection (${(error as { code: string }).code}), answering 501`,
          { level: "error" },
        );
        failure = new ApiError("InternalError");
      } else if (String((error as { code?: unknown })?.code).startsWith("SQLITE_")) {
        // The database failed (a damaged page, a full disk): the transaction rolled back; one line, no stack.
        deps.log(`error ${request.method} ${maskedPath(request.url)}: database: ${(error as { code: string }).code}: ${errorText(error)}, answering 501`, {
          level: "error",
        });
        failure = new ApiError("InternalError");
      } else {
        // Anything else is ours: one line (its stack too with log.level = debug), nothing for the client.
        deps.log(`error ${request.method} ${maskedPath(request.url)}: ${errorText(error)}`, { level: "error" });
        failure = new ApiError("InternalError");
      }
      if (isDyndnsUrl(request.url)) {
        // dyndns2 clients read words, not JSON: our failure is 911, anything else a bad request.
        const reply = failure.code === "InternalError" ? dyndnsText(["911"], 503) : dyndnsText(["badagent"], failure.status);
        logRequest(request, reply.status, server);
        counts.count(route, reply.status);
        return reply;
      }
      const body = errorBody(failure, set);
      logRequest(request, set.status, server);
      counts.count(route, set.status);
      return body;
    })
    .onAfterHandle(({ request, set, responseValue, path, route, server }) => {
      const status = responseValue instanceof Response ? responseValue.status : set.status;
      counts.count(route, status);
      if (routine.counting && ROUTINE_PATHS.has(path) && (status === undefined || Number(status) < 400)) routine.count(path);
      else logRequest(request, status, server);
    })
    .onStop(() => routine.stop())
    .get("/connectivity-check", () => new Response("OK", { headers: { "content-type": "text/plain; charset=utf-8" } }))
    // Before the repeated-parameter check, whose answer is JSON: dyndns2 checks its own.
    .use(dyndnsRoutes(deps, gateways))
    .onTransform(({ request }) => {
      if (hasRepeatedParameter(request.url)) throw new ApiError("InvalidParameter");
    })
    .use(domainRoutes(deps, gateways))
    .use(emailRoutes(deps, gateways));
  // Requests are counted by these paths as registered; any other path is "other".
  counts.addRoutes(app.routes.map((r) => r.path));
  return app;
}

/** Counts of routine successes by path, written as one line a minute (and at shutdown) while there are any. */
function createRoutineCounter(deps: ApiDeps) {
  const counts = new Map<string, number>();
  const report = () => {
    if (counts.size === 0) return;
    const parts = [...counts].map(([path, n]) => `${n} x GET ${path} 200`);
    counts.clear();
    deps.log(`http: ${parts.join(", ")} since the last such line (routine successes are counted, not logged one by one: http.access_log)`);
  };
  // Always running (a settings reload may turn counting on); a minute with nothing counted writes nothing.
  const timer = setInterval(report, SUMMARY_INTERVAL_MS);
  timer.unref();
  return {
    get counting() {
      return deps.settings.http.accessLog === "changes";
    },
    count(path: string) {
      counts.set(path, (counts.get(path) ?? 0) + 1);
    },
    stop() {
      clearInterval(timer);
      report();
    },
  };
}
