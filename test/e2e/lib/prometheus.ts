// A real Prometheus (Debian's `prometheus`) on a free loopback port, scraping one target every
// second, and its HTTP query API as the test reads it back.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../../support/server.ts";
import { spawnDaemon, waitFor, type Daemon } from "./proc.ts";

export interface Prometheus {
  daemon: Daemon;
  url: string;
  /** an instant query's samples: labels (without __name__) and value */
  query(expr: string): Promise<{ metric: Record<string, string>; value: number }[]>;
}

export async function startPrometheus(dir: string, job: string, target: string): Promise<Prometheus> {
  const port = await freePort();
  const config = join(dir, "prometheus.yml");
  writeFileSync(
    config,
    `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: ${job}
    static_configs:
      - targets: ["${target}"]
`,
  );
  const data = join(dir, "prometheus-data");
  mkdirSync(data, { recursive: true });
  const binary = ["/usr/bin/prometheus", "/usr/sbin/prometheus"].find((p) => Bun.file(p).size > 0) ?? "prometheus";
  const daemon = spawnDaemon(
    "prometheus",
    [binary, `--config.file=${config}`, `--storage.tsdb.path=${data}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
    { cwd: dir },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor("prometheus to be ready", 30_000, async () => {
    if (daemon.exited()) throw new Error(`prometheus exited:\n${daemon.output()}`);
    const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) }).catch(() => null);
    return res?.status === 200 ? true : undefined;
  });
  return {
    daemon,
    url,
    async query(expr) {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(5000) });
      const body = (await res.json()) as { status: string; error?: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      if (body.status !== "success") throw new Error(`prometheus query ${expr}: ${body.error}`);
      return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
  };
}
