// Our /metrics as Prometheus sees it: Debian's prometheus scrapes the compiled binary's admin
// port every second, and the test reads our series back through Prometheus's query API after
// HTTP and DNS traffic.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../support/server.ts";
import { startResendStandIn, type ResendStandIn } from "../support/resend.ts";
import { apiGet, describe as said } from "./lib/api.ts";
import { DOMAIN, startBinary, type BinaryServer } from "./lib/binary.ts";
import { dig } from "./lib/dig.ts";
import { stopAllDaemons, waitFor } from "./lib/proc.ts";
import { startPrometheus, type Prometheus } from "./lib/prometheus.ts";
import { check, Steps } from "./lib/steps.ts";

const steps = new Steps("metrics");
const JOB = "registration-server";
let work: string;
let resend: ResendStandIn;
let server: BinaryServer;
let prometheus: Prometheus;
const gw = `metrics-${crypto.randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "regsrv-e2e-metrics-"));
  resend = startResendStandIn();
  const adminPort = await freePort();
  server = await steps.step("start the compiled server with an admin port", 60_000, () => startBinary(resend, ["--admin-port", String(adminPort)]));
  steps.watch("registration-server", () => server.output());
  await steps.step("HTTP and DNS traffic", 30_000, async () => {
    const r = await apiGet(server.url, "/subscribe", { name: gw, mode: "1" });
    check(r.status === 200, `expected 200: ${said("/subscribe", r)}`);
    const ping = await apiGet(server.url, "/ping", { token: r.json.token as string }, { realIp: "127.0.0.77" });
    check(ping.status === 200, `expected 200: ${said("/ping", ping)}`);
    const missing = await apiGet(server.url, `/no-such-route-${gw}`, {});
    check(missing.status === 404, `expected 404: ${said("/no-such-route", missing)}`);
    for (let i = 0; i < 3; i++) check((await dig(`127.0.0.1:${server.dnsPort}`, `${gw}.${DOMAIN}`, "A")).status === "NOERROR", "A over UDP");
    check((await dig(`127.0.0.1:${server.dnsPort}`, `absent-${gw}.${DOMAIN}`, "TXT", { tcp: true })).status === "NXDOMAIN", "TXT over TCP");
  });
  prometheus = await steps.step("start prometheus scraping the admin port every second", 40_000, () => startPrometheus(work, JOB, `127.0.0.1:${adminPort}`));
  steps.watch("prometheus", () => prometheus.daemon.output());
});

afterAll(async () => {
  await prometheus?.daemon.stop();
  if (server) await server.dispose();
  resend?.stop();
  await stopAllDaemons();
  if (work) rmSync(work, { recursive: true, force: true });
  console.log(`metrics e2e step timings:\n${steps.summary()}`);
});

/** The value of an instant query with one sample, once Prometheus has it. */
const sampleOf = (expr: string, timeoutMs = 30_000) =>
  waitFor(
    `prometheus to have ${expr}`,
    timeoutMs,
    async () => {
      const result = await prometheus.query(expr);
      return result.length === 1 ? result[0].value : undefined;
    },
    250,
  );

test("Prometheus scrapes the admin port and holds our HTTP, DNS, domain and process series with bounded labels", async () => {
  await steps.step("the target is up", 30_000, async () => expect(await sampleOf(`up{job="${JOB}"}`)).toBe(1));
  await steps.step("HTTP requests by route and status", 30_000, async () => {
    expect(await sampleOf(`registration_http_requests_total{job="${JOB}",route="/subscribe",status="200"}`)).toBe(1);
    expect(await sampleOf(`registration_http_requests_total{job="${JOB}",route="/ping",status="200"}`)).toBe(1);
    expect(await sampleOf(`registration_http_requests_total{job="${JOB}",route="other",status="404"}`)).toBe(1);
    // no label value is a raw path or a name
    const routes = await prometheus.query(`count by (route) (registration_http_requests_total{job="${JOB}"})`);
    expect(routes.map((r) => r.metric.route).sort()).toEqual(["/ping", "/subscribe", "other"]);
  });
  await steps.step("DNS queries by type, rcode and transport", 30_000, async () => {
    expect(await sampleOf(`registration_dns_queries_total{job="${JOB}",type="A",rcode="NOERROR",transport="udp"}`)).toBe(3);
    expect(await sampleOf(`registration_dns_queries_total{job="${JOB}",type="TXT",rcode="NXDOMAIN",transport="tcp"}`)).toBe(1);
    expect(await sampleOf(`registration_dns_answer_cache_hits_total{job="${JOB}"}`)).toBe(2);
  });
  await steps.step("domains by mode, emails, expiry, the process", 30_000, async () => {
    expect(await sampleOf(`registration_domains{job="${JOB}",mode="dynamic_dns"}`)).toBe(1);
    expect(await sampleOf(`registration_emails_total{job="${JOB}",kind="verification",result="sent"}`)).toBe(0);
    expect(await sampleOf(`registration_expiry_sweep_duration_seconds_count{job="${JOB}"}`)).toBeGreaterThanOrEqual(1);
    expect(await sampleOf(`process_resident_memory_bytes{job="${JOB}"}`)).toBeGreaterThan(0);
    expect(await sampleOf(`process_open_fds{job="${JOB}"}`)).toBeGreaterThan(0);
  });
  await steps.step("later traffic shows in a later scrape", 30_000, async () => {
    for (let i = 0; i < 5; i++) await dig(`127.0.0.1:${server.dnsPort}`, `${gw}.${DOMAIN}`, "A");
    await waitFor(
      "the 5 more A queries in prometheus",
      30_000,
      async () => {
        const [sample] = await prometheus.query(`registration_dns_queries_total{job="${JOB}",type="A",rcode="NOERROR",transport="udp"}`);
        return sample?.value === 8 ? true : undefined;
      },
      250,
    );
  });
});
