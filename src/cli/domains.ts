// `domains list|show|delete`: through the running server's admin listener when it answers (its
// caches then stay exact), else on the database file itself.
import { servingProcess } from "../ops/serving-marker.ts";
import { existsSync } from "node:fs";
import { displayName } from "../names.ts";
import { databaseIdentity } from "../ops/admin-domains.ts";
import { type DomainDetails, type DomainSummary, findDetails, LIST_PAGE_MAX, listPage, storedName } from "../ops/domains.ts";
import { openDatabase } from "../store/db.ts";
import { createStore, type Store } from "../store/domains.ts";
import { adminFailure, adminRequest, CliError, type Invocation, out, positionals, refuseReplacedDatabase, runningServer } from "./common.ts";
import type { Settings } from "../config.ts";

type Page = { domains: DomainSummary[]; next: number | null };

/** The two ways to the data: the running server, or the file when none answers. */
interface Backend {
  page(after: number): Promise<Page>;
  show(typed: string): Promise<DomainDetails | undefined>;
  /** the removed name, or undefined when there was none */
  remove(typed: string): Promise<string | undefined>;
  where: string;
  close(): void;
}

export async function runDomains(action: "list" | "show" | "delete", invocation: Invocation): Promise<void> {
  const { settings, switches } = invocation;
  if (action === "list") positionals(invocation, 0, "domains list [--json]");
  const typed = action === "list" ? "" : positionals(invocation, 1, action === "show" ? "domains show NAME [--json]" : "domains delete NAME")[0];
  if (action !== "list" && storedName(typed, settings.domain) === null) throw new CliError(`not a name: '${typed}'`, 2);
  const backend = await connect(settings);
  try {
    if (action === "list") return await list(backend, switches.has("--json"));
    if (action === "show") {
      const found = await backend.show(typed);
      if (!found) throw new CliError(`no such name: ${typed}`, 1);
      const json = switches.has("--json");
      await out(
        json
          ? `${JSON.stringify(found, null, 2)}\n`
          : Object.entries(found)
              .map(([k, v]) => `${k}: ${v ?? "-"}\n`)
              .join(""),
      );
      return;
    }
    const removed = await backend.remove(typed);
    if (!removed) throw new CliError(`no such name: ${typed}`, 1);
    await out(`deleted ${removed} (${backend.where})\n`);
  } finally {
    backend.close();
  }
}

async function list(backend: Backend, json: boolean): Promise<void> {
  let after: number | null = 0;
  let first = true;
  if (json) await out("[");
  while (after !== null) {
    const page: Page = await backend.page(after);
    // one write a page: a million names stay a few hundred writes
    let text = "";
    for (const d of page.domains) {
      text += json ? `${first ? "\n" : ",\n"}  ${JSON.stringify(d)}` : `${d.name} ${d.mode} ${d.lastPing} ${d.email || "-"}\n`;
      first = false;
    }
    if (text) await out(text);
    after = page.next;
  }
  if (json) await out(first ? "]\n" : "\n]\n");
}

async function connect(settings: Settings): Promise<Backend> {
  const base = await runningServer(settings);
  if (!base) return onFile(settings);
  // A server on this admin port that serves another file: changing its data would surprise.
  const { status, body } = await adminRequest(base, "GET", "/database");
  if (status !== 200) throw adminFailure(status, body);
  const served = (body as { path: string }).path;
  const mine = databaseIdentity(settings.database.path);
  if (served !== mine) throw new CliError(`the server at ${base} serves ${served}, not ${mine} (check --db and --admin-port)`, 1);
  return throughServer(base);
}

function throughServer(base: string): Backend {
  const path = (typed: string) => `/domains/${encodeURIComponent(typed)}`;
  return {
    where: `through the running server at ${base}`,
    async page(after) {
      const { status, body } = await adminRequest(base, "GET", `/domains?after=${after}&limit=${LIST_PAGE_MAX}`);
      if (status !== 200) throw adminFailure(status, body);
      return body as Page;
    },
    async show(typed) {
      const { status, body } = await adminRequest(base, "GET", path(typed));
      if (status === 404) return undefined;
      if (status !== 200) throw adminFailure(status, body);
      return body as DomainDetails;
    },
    async remove(typed) {
      const { status, body } = await adminRequest(base, "DELETE", path(typed));
      if (status === 404) return undefined;
      if (status !== 200) throw adminFailure(status, body);
      return (body as { deleted: string }).deleted;
    },
    close() {},
  };
}

function onFile(settings: Settings): Backend {
  const path = settings.database.path;
  if (path === ":memory:" || !existsSync(path)) throw new CliError(`no database at ${path} (and no server answered on the admin listener)`, 1);
  refuseReplacedDatabase(path);
  let store: Store;
  let close: () => void;
  try {
    const db = openDatabase(path, { migrate: false });
    store = createStore(db, { cacheInfo: false });
    close = () => db.$client.close();
  } catch (e) {
    throw new CliError(`cannot open database ${path}: ${(e as Error).message.split("\n")[0]}`, 1);
  }
  const name = (typed: string) => storedName(typed, settings.domain)!;
  return {
    where: `in ${path}; no server answered on the admin listener`,
    page: async (after) => listPage(store, after, LIST_PAGE_MAX),
    show: async (typed) => findDetails(store, name(typed)),
    async remove(typed) {
      const serving = servingProcess(path);
      if (serving)
        throw new CliError(
          `a server (pid ${serving.pid}) has ${path} open ${serving.admin ? `but its admin listener at ${serving.admin} did not answer` : "with no admin listener (admin.port = 0)"}: deleting here would leave its DNS and /info caches stale; stop it first, or give it an admin port`,
          1,
        );
      const removed = store.deleteByName(name(typed));
      return removed ? displayName(removed) : undefined;
    },
    close,
  };
}
