// /metrics on the admin listener, in the Prometheus text format (prom-client renders it).
// The hot paths count into plain typed arrays (api/counters.ts, dns/counters.ts, the mailer's
// MailCounters); prom-client's label children would build a label string on every increment.
// The arrays are copied into prom-client's metrics only when /metrics is scraped. Every label
// takes its values from a fixed list: routes as registered, record types, rcodes, modes.
// The four classes used are imported one module each: prom-client's index also loads its
// Pushgateway (node:http, node:https), cluster aggregation (node:cluster), Summary and the
// default collectors, ~32 ms of CPU at every start for code this server never runs. Those
// module paths are not prom-client's public interface, so package.json pins its exact version:
// an update is a deliberate change, checked by test/ops/metrics.test.ts.
import { readdirSync } from "node:fs";
import { Elysia } from "elysia";
import Counter from "prom-client/lib/counter";
import Gauge from "prom-client/lib/gauge";
import Histogram from "prom-client/lib/histogram";
import Registry from "prom-client/lib/registry";
import { OTHER_ROUTE, STATUS_LABELS, type HttpCounters } from "../api/counters.ts";
import { VERSION } from "../version.ts";
import {
  type DnsCounters,
  type NotifyCounters,
  queryCell,
  RCODE_LABELS,
  SLOT,
  TRANSFER_RESULTS,
  TRANSFER_TYPES,
  TRANSPORT_LABELS,
  TYPE_LABELS,
  transferCell,
} from "../dns/counters.ts";
import { MODE } from "../gateway-data.ts";
import { type FileIdentity, fileIdentity } from "../store/file-identity.ts";
import { MAIL_KINDS, MAIL_RESULTS, type MailCounters } from "../mail/mailer.ts";
import { openFilesLimit } from "../process-limits.ts";
import type { Db } from "../store/db.ts";
import { countDomainsByMode } from "../store/queries.ts";
import type { CensusReply, CensusRequest } from "./census-worker.ts";

/** A census of domains by mode is reused for this long: it is a full scan (about 1 s at 1,000,000 names). */
const CENSUS_MAX_AGE_MS = 30_000;
/** A scrape waits this long for a new census, then shows the last one (or none yet). */
const CENSUS_WAIT_MS = 2_000;

const MODE_LABELS = new Map<number, string>([
  [MODE.tunnel, "tunnel"],
  [MODE.dynamicDns, "dynamic_dns"],
]);

/** What the expiry sweep reports (expiry.ts's onSweep). */
export class ExpiryCounters {
  removed = 0;
  readonly durations: number[] = [];
  record = (removed: number, seconds: number) => {
    this.removed += removed;
    this.durations.push(seconds);
  };
}

type ByMode = { mode: number; n: number }[];

/** Domains by mode, counted on a thread of its own for a database file, at most every CENSUS_MAX_AGE_MS. */
export class DomainCensus {
  private last: ByMode | null = null;
  /** when the last count began: a failing one (the file gone) is retried, and logged, at most every CENSUS_MAX_AGE_MS */
  private triedAt = Number.NEGATIVE_INFINITY;
  private running: Promise<void> | null = null;
  private worker: Worker | null = null;

  /** the file at the path when the census was made (at start-up, beside the server's own connection) */
  private readonly file: FileIdentity | undefined;

  /** `workerUrl`: census-worker.ts resolved by serve.ts (an entry point of `bun build --compile`, as main.ts is); `db`: the connection to count on for :memory:. */
  constructor(private readonly options: { path: string; db?: Db; workerUrl: URL; log: (line: string) => void }) {
    this.file = options.path === ":memory:" ? undefined : fileIdentity(options.path);
  }

  async get(): Promise<ByMode | null> {
    if (!this.running && performance.now() - this.triedAt >= CENSUS_MAX_AGE_MS) {
      this.triedAt = performance.now();
      this.running = this.count().finally(() => (this.running = null));
    }
    if (!this.running) return this.last;
    let timer: Timer | undefined;
    await Promise.race([this.running, new Promise((r) => (timer = setTimeout(r, CENSUS_WAIT_MS)))]);
    clearTimeout(timer);
    return this.last;
  }

  close(): void {
    this.worker?.terminate();
    this.worker = null;
  }

  private async count(): Promise<void> {
    try {
      const { path, db } = this.options;
      const byMode = path === ":memory:" && db ? countDomainsByMode(db) : await this.countInWorker();
      this.last = byMode;
    } catch (e) {
      this.options.log(`metrics: cannot count domains by mode: ${(e as Error).message}`);
    }
  }

  private countInWorker(): Promise<ByMode> {
    if (!this.worker) {
      this.worker = new Worker(this.options.workerUrl.href, { smol: true });
      this.worker.unref();
    }
    const worker = this.worker;
    return new Promise((resolve, reject) => {
      worker.onmessage = (event: MessageEvent<CensusReply>) => {
        const reply = event.data;
        if (reply.kind === "counted") resolve(reply.byMode);
        else reject(new Error(reply.message));
      };
      worker.onerror = (event) => {
        this.close();
        reject(new Error(event.message));
      };
      const request: CensusRequest = { kind: "count", path: this.options.path, file: this.file };
      worker.postMessage(request);
    });
  }
}

export interface MetricsSources {
  http: HttpCounters;
  dns: DnsCounters;
  notify: NotifyCounters;
  mail: MailCounters;
  expiry: ExpiryCounters;
  census: DomainCensus;
}

/** The registry of every series, filled from `sources` at each scrape. */
export function createMetricsRegistry(sources: MetricsSources): Registry {
  const registry = new Registry();
  const registers = [registry];

  new Counter({
    name: "registration_http_requests_total",
    help: "HTTP requests answered, by route (as registered; any other path: other) and status.",
    labelNames: ["route", "status"],
    registers,
    collect() {
      this.reset();
      for (const [route, row] of sources.http.rows)
        for (let i = 0; i < row.length; i++) if (row[i] > 0) this.inc({ route: route === OTHER_ROUTE ? "other" : route, status: STATUS_LABELS[i] }, row[i]);
    },
  });

  const dns = sources.dns.values;
  new Counter({
    name: "registration_dns_queries_total",
    help: "DNS queries answered, by query type (any other: other), rcode and transport.",
    labelNames: ["type", "rcode", "transport"],
    registers,
    collect() {
      this.reset();
      for (let t = 0; t < TYPE_LABELS.length; t++)
        for (let r = 0; r < RCODE_LABELS.length; r++)
          for (let x = 0; x < TRANSPORT_LABELS.length; x++) {
            const n = dns[queryCell(t, r, x)];
            if (n > 0) this.inc({ type: TYPE_LABELS[t], rcode: RCODE_LABELS[r], transport: TRANSPORT_LABELS[x] }, n);
          }
    },
  });
  const single = (name: string, help: string, slot: number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(dns[slot]);
      },
    });
  single("registration_dns_answer_cache_hits_total", "DNS queries answered from the answer cache.", SLOT.cacheHits);
  single(
    "registration_dns_answer_cache_misses_total",
    "DNS queries the answer cache did not hold (answered from the zone and the database).",
    SLOT.cacheMisses,
  );
  new Counter({
    name: "registration_dns_rrl_answers_total",
    help: "UDP answers held back by the response-rate limit (dns.rrl_rate), by action: dropped, or sent truncated.",
    labelNames: ["action"],
    registers,
    collect() {
      this.reset();
      this.inc({ action: "dropped" }, dns[SLOT.rrlDropped]);
      this.inc({ action: "truncated" }, dns[SLOT.rrlTruncated]);
    },
  });
  new Counter({
    name: "registration_dns_transfers_total",
    help: "Zone transfers streamed over TCP, by type (AXFR, IXFR) and result: done (every message taken) or cut (ended before).",
    labelNames: ["type", "result"],
    registers,
    collect() {
      this.reset();
      for (const type of TRANSFER_TYPES) for (const result of TRANSFER_RESULTS) this.inc({ type, result }, dns[transferCell(type, result)]);
    },
  });
  new Counter({
    name: "registration_dns_notifies_total",
    help: "NOTIFYs to the secondaries (dns.notify), by result: answered, rejected (an error rcode), unanswered (no verified reply after every try), superseded (a newer serial went out before any reply).",
    labelNames: ["result"],
    registers,
    collect() {
      this.reset();
      for (const [result, n] of Object.entries(sources.notify.results)) this.inc({ result }, n);
    },
  });

  new Gauge({
    name: "registration_domains",
    help: "Registered domains, by mode (counted at most every 30 s).",
    labelNames: ["mode"],
    registers,
    async collect() {
      const byMode = await sources.census.get();
      this.reset();
      if (!byMode) return;
      for (const label of MODE_LABELS.values()) this.set({ mode: label }, 0);
      for (const { mode, n } of byMode) this.inc({ mode: MODE_LABELS.get(mode) ?? "other" }, n);
    },
  });

  new Counter({
    name: "registration_emails_total",
    help: "Emails by kind (verification, reclamation, warning) and result: sent (the provider took it), failed, logged (no provider set).",
    labelNames: ["kind", "result"],
    registers,
    collect() {
      this.reset();
      for (const [k, kind] of MAIL_KINDS.entries()) for (const [r, result] of MAIL_RESULTS.entries()) this.inc({ kind, result }, sources.mail.values[k][r]);
    },
  });

  new Counter({
    name: "registration_expiry_removed_total",
    help: "Domains removed by the expiry sweep.",
    registers,
    collect() {
      this.reset();
      this.inc(sources.expiry.removed);
    },
  });
  new Histogram({
    name: "registration_expiry_sweep_duration_seconds",
    help: "How long each expiry sweep took.",
    buckets: [0.01, 0.1, 1, 10, 60, 600],
    registers,
    collect() {
      for (const seconds of sources.expiry.durations.splice(0)) this.observe(seconds);
    },
  });

  addProcessMetrics(registers);
  new Gauge({ name: "registration_build_info", help: "The running version.", labelNames: ["version"], registers }).set({ version: VERSION }, 1);
  return registry;
}

/** The process's own series, under the names every Prometheus client library uses. */
function addProcessMetrics(registers: Registry[]): void {
  const cpu = (name: string, help: string, pick: (usage: NodeJS.CpuUsage) => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(pick(process.cpuUsage()) / 1e6);
      },
    });
  cpu("process_cpu_user_seconds_total", "User CPU time spent, in seconds.", (u) => u.user);
  cpu("process_cpu_system_seconds_total", "System CPU time spent, in seconds.", (u) => u.system);
  cpu("process_cpu_seconds_total", "User and system CPU time spent, in seconds.", (u) => u.user + u.system);
  new Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size, in bytes.",
    registers,
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Gauge({
    name: "process_heap_bytes",
    help: "JavaScript heap in use, in bytes.",
    registers,
    collect() {
      this.set(process.memoryUsage().heapUsed);
    },
  });
  new Gauge({
    name: "process_open_fds",
    help: "Open file descriptors (sockets included).",
    registers,
    collect() {
      try {
        this.set(readdirSync("/proc/self/fd").length - 1); // less the one reading the directory
      } catch {
        this.reset(); // not Linux
      }
    },
  });
  const maxFds = openFilesLimit();
  if (maxFds !== null && Number.isFinite(maxFds)) new Gauge({ name: "process_max_fds", help: "The limit on open file descriptors.", registers }).set(maxFds);
  new Gauge({ name: "process_start_time_seconds", help: "Start time of the process since the Unix epoch, in seconds.", registers }).set(
    Math.round((Date.now() - performance.now()) / 1000),
  );
}

/** The admin listener's /metrics. */
export function metricsPlugin(registry: Registry) {
  return new Elysia().get("/metrics", async () => new Response(await registry.metrics(), { headers: { "content-type": registry.contentType } }));
}
