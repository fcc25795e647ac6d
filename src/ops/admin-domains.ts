// The admin listener's endpoints for the command line (`domains list|show|delete`): changes made
// while the server runs go through its own store, so the DNS answer cache and /info's rows
// hear of them like any API write. Names arrive as the operator typed them (ops/domains.ts).
import { Elysia, t } from "elysia";
import { displayName } from "../names.ts";
import type { Store } from "../store/domains.ts";
import { findDetails, LIST_PAGE_MAX, listPage, storedName } from "./domains.ts";

export function adminDomains(options: { store: Store; zone: string }) {
  const { store, zone } = options;
  const notFound = (typed: string, set: { status?: number | string }) => {
    set.status = 404;
    return { error: `no such name: ${typed}` };
  };
  return new Elysia()
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
      return deleted ? { deleted: displayName(deleted) } : notFound(params.name, set);
    });
}
