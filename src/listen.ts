// An Elysia app on one or more addresses at one port. Elysia's listen binds one address; the
// others get a Bun server each over the same fetch (a request's peer is found through any of
// them: Bun's requestIP reads the request's own socket).
import type { AnyElysia } from "elysia";
import { hostPort } from "./addresses.ts";

export interface Listening {
  /** the port bound on every address (the system's pick for the first when 0 was asked) */
  port: number;
  /** "http://127.0.0.1:8080", "http://[::1]:8080", ... */
  urls: string[];
  /** stops accepting on every address; in-flight requests finish */
  stop(): Promise<void>;
}

/** Elysia asks for SO_REUSEPORT by default: a second server on the same port would then start
 * and take half the requests, answering them from another database. Every endpoint is a GET,
 * so a body is never needed: 413 past 16 KB instead of buffering 128 MB. */
const SERVE_OPTIONS = { reusePort: false, maxRequestBodySize: 16 * 1024 } as const;

/** Rejects when an address cannot be bound (naming it, past the first); whatever was bound is stopped then. */
export async function listenOn(app: AnyElysia, hosts: readonly string[], port: number): Promise<Listening> {
  const [first, ...others] = hosts;
  app.listen({ hostname: first, port, ...SERVE_OPTIONS });
  const bound = app.server!.port!;
  const extra: ReturnType<typeof Bun.serve>[] = [];
  for (const hostname of others) {
    try {
      extra.push(Bun.serve({ hostname, port: bound, ...SERVE_OPTIONS, idleTimeout: 30, development: false, fetch: app.fetch }));
    } catch (e) {
      await Promise.allSettled([app.stop(), ...extra.map((s) => s.stop())]);
      throw new Error(`${hostPort(hostname, bound)}: ${(e as Error).message}`);
    }
  }
  return {
    port: bound,
    urls: hosts.map((h) => `http://${hostPort(h, bound)}`),
    async stop() {
      await Promise.allSettled([app.stop(), ...extra.map((s) => s.stop())]);
    },
  };
}
