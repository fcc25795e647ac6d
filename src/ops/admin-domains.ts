// The admin listener's endpoints for the command line (`domains list|show|delete`): changes made
// while the server runs go through its own store, so the DNS answer cache and /info's rows
// hear of them like any API write. Names arrive as the operator typed them (ops/domains.ts).
import { existsSync, realpathSync } from "node:fs";
import { isIP } from "node:net";
import { resolve } from "node:path";
import { Elysia, t } from "elysia";
import type { Log } from "../log.ts";
import { displayName } from "../names.ts";
import type { Store } from "../store/domains.ts";
import { findDetails, LIST_PAGE_MAX, listPage, storedName } from "./domains.ts";

/** A database path as both sides compare it: absolute, links resolved where the file exists. */
export function databaseIdentity(path: string): string {
  const absolute = resolve(path);
  return existsSync(absolute) ? realpathSync(absolute) : absolute;
}

/** Whether a request's Host is an IP address or localhost (with or without a port). */
function namesAddress(request: Request): boolean {
  const header = request.headers.get("host") ?? URL.parse(request.url)?.host ?? "";
  const host = header.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1");
  return isIP(host) !== 0 || host.toLowerCase() === "localhost";
}

export function adminDomains(options: { store: Store; zone: string; dbPath: string; log: Log }) {
  const { store, zone } = options;
  const database = databaseIdentity(options.dbPath);
  const notFound = (typed: string, set: { status?: number | string }) => {
    set.status = 404;
    return { error: `no such name: ${typed}` };
  };
  return (
    new Elysia()
      // a failed write (file read-only, lock held past the busy timeout) is one JSON line, never a 404 or a stack
      .onError(({ code, error, set }) => {
        if (code === "VALIDATION" || code === "NOT_FOUND" || code === "PARSE") return;
        set.status = 500;
        return { error: `database: ${String((error as Error)?.message ?? error).split("\n")[0]}` };
      })
      // A web page can point a name of its own at 127.0.0.1 (DNS rebinding) and then call this
      // listener from the operator's browser as its own origin: only a request that names an
      // address or localhost, as the command line's do, reads or deletes names.
      .onBeforeHandle(({ request, set }) => {
        if (namesAddress(request)) return;
        set.status = 403;
        return { error: "the Host header must name this listener's address (or localhost)" };
      })
      // the CLI checks it works on the file its own settings name, not another server's
      .get("/database", () => ({ path: database }))
      .get("/domains", ({ query }) => listPage(store, query.after ?? 0, query.limit ?? LIST_PAGE_MAX), {
        query: t.Object({
          after: t.Optional(t.Numeric({ minimum: 0 })),
          limit: t.Optional(t.Numeric({ minimum: 1, maximum: LIST_PAGE_MAX })),
        }),
      })
      .get("/domains/:name", ({ params, set }) => {
        const name = storedName(params.name, zone);
        const found = name ? findDetails(store, name) : undefined;
        return found ?? notFound(params.name, set);
      })
      .delete("/domains/:name", ({ params, set }) => {
        const name = storedName(params.name, zone);
        const deleted = name ? store.deleteByName(name) : undefined;
        if (!deleted) return notFound(params.name, set);
        options.log(`admin: deleted ${displayName(deleted)} (domains delete)`);
        return { deleted: displayName(deleted) };
      })
  );
}
