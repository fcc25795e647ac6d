// The admin listener: loopback by default, on a port of its own (admin.port; 0 = off), never
// facing the internet. It answers /healthz here; the command line's endpoints and /metrics are
// plugins that serve.ts mounts.
import type { Database } from "bun:sqlite";
import { type AnyElysia, Elysia } from "elysia";

export interface HealthReport {
  ok: boolean;
  /** "ok", or why the probe failed (one line) */
  read: string;
  write: string;
}

/**
 * A read and a write probe on the server's own connection. The write takes the write lock and
 * inserts a row inside a transaction that is rolled back: it fails, as every API write would,
 * when the file is read-only, was replaced or deleted (writes refused), or stays locked past
 * the busy timeout, and it leaves nothing behind.
 */
export function probeDatabase(sqlite: Database): HealthReport {
  const attempt = (probe: () => void): string => {
    try {
      probe();
      return "ok";
    } catch (e) {
      return String((e as Error).message ?? e).split("\n")[0];
    }
  };
  const read = attempt(() => {
    sqlite.query("SELECT count(*) FROM domains WHERE id = 0").get();
  });
  const write = attempt(() => {
    sqlite.run("BEGIN IMMEDIATE");
    try {
      sqlite.run("INSERT INTO accounts (email, optout) VALUES ('healthz-probe@invalid', 1)");
    } finally {
      sqlite.run("ROLLBACK");
    }
  });
  return { ok: read === "ok" && write === "ok", read, write };
}

/** The admin application: /healthz, plus whatever `plugins` add (the CLI's endpoints, /metrics). */
export function createAdmin(options: { sqlite: Database; plugins?: AnyElysia[] }) {
  const app = new Elysia().get("/healthz", ({ set }) => {
    const report = probeDatabase(options.sqlite);
    set.status = report.ok ? 200 : 503;
    return report;
  });
  for (const plugin of options.plugins ?? []) app.use(plugin);
  return app;
}
