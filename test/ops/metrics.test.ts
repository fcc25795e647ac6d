// /metrics: what each part counts reaches the Prometheus text, under bounded labels. In process
// (the API through app.handle, DNS over real sockets in this thread and in its worker thread),
// then once through a running server's admin port after real HTTP and DNS traffic.
import { afterAll, describe, expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import { mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HttpCounters } from "../../src/api/counters.ts";
import { AnswerVersions } from "../../src/dns/answer-cache.ts";
import { DnsCounters, NotifyCounters, transferCell } from "../../src/dns/counters.ts";
import { startDnsServer } from "../../src/dns/server.ts";
import { startDnsThread } from "../../src/dns/threaded.ts";
import { MailCounters } from "../../src/mail/mailer.ts";
import { openDatabase } from "../../src/store/db.ts";
import { createStore } from "../../src/store/domains.ts";
import { createMetricsRegistry, DomainCensus, ExpiryCounters, type MetricsSources } from "../../src/ops/metrics.ts";
import { startApp } from "../support/app.ts";
import { subscribe, verifyOwner } from "../support/helpers.ts";
import { resendEnv, startResendStandIn } from "../support/resend.ts";
import { freePort, get, startServer } from "../support/server.ts";
import { encodeQuery, GATEWAYS, seededStore, tcpExchange, testZone, udpExchange } from "../dns/client.ts";

const CENSUS_WORKER = new URL("../../src/ops/census-worker.ts", import.meta.url);
const DNS_WORKER = new URL("../../src/dns/worker.ts", import.meta.url);

/** Every sample of a scrape, keyed as printed: `name{label="value",...}`. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** The census of scrapes that name no database: counted in this thread (no worker started) over an empty one. */
const emptyDb = openDatabase(":memory:");

async function scrape(parts: Partial<MetricsSources> & { dbPath?: string }): Promise<Map<string, number>> {
  const census =
    parts.census ??
    new DomainCensus(
      parts.dbPath
        ? { path: parts.dbPath, workerUrl: CENSUS_WORKER, log: () => {} }
        : { path: ":memory:", db: emptyDb, workerUrl: CENSUS_WORKER, log: () => {} },
    );
  const registry = createMetricsRegistry({
    http: parts.http ?? new HttpCounters(),
    dns: parts.dns ?? new DnsCounters(),
    notify: parts.notify ?? new NotifyCounters(),
    mail: parts.mail ?? new MailCounters(),
    expiry: parts.expiry ?? new ExpiryCounters(),
    census,
  });
  try {
    return samples(await registry.metrics());
  } finally {
    if (!parts.census) census.close();
  }
}

const seeded = seededStore();
const standIn = startResendStandIn();
afterAll(() => {
  emptyDb.$client.close();
  seeded.cleanup();
  standIn.stop();
});

describe("/metrics, in process", () => {
  test("HTTP requests are counted by registered route and status; any other path is one 'other' label, never the raw path", async () => {
    const app = startApp({ from: "127.0.0.1" });
    try {
      const { token } = await subscribe(app);
      await get(app, `/ping?token=${token}`);
      await get(app, "/ping?token=6f1d2c3b-4a5e-4f60-8b71-92a3b4c5d6e7");
      await get(app, "/info");
      for (let i = 0; i < 20; i++) await get(app, `/no-such-path-${i}?token=${token}`);
      await app.handle("/ping", { method: "OPTIONS" });
      await app.handle("/subscribe", { method: "POST" });
      const got = await scrape({ http: app.counters.http, dbPath: app.dbPath });
      expect(got.get('registration_http_requests_total{route="/subscribe",status="200"}')).toBe(1);
      expect(got.get('registration_http_requests_total{route="/ping",status="200"}')).toBe(1);
      expect(got.get('registration_http_requests_total{route="/ping",status="404"}')).toBe(1);
      expect(got.get('registration_http_requests_total{route="/info",status="400"}')).toBe(1);
      expect(got.get('registration_http_requests_total{route="other",status="404"}')).toBe(20);
      expect(got.get('registration_http_requests_total{route="/ping",status="204"}')).toBe(1);
      expect(got.get('registration_http_requests_total{route="/subscribe",status="405"}')).toBe(1);
      const keys = [...got.keys()].join("\n");
      expect(keys).not.toContain("no-such-path");
      expect(keys).not.toContain(token);
      // domains by mode, counted by the census worker over the app's database file
      expect(got.get('registration_domains{mode="tunnel"}')).toBe(1);
      expect(got.get('registration_domains{mode="dynamic_dns"}')).toBe(0);
    } finally {
      await app.close();
    }
  });

  test("emails are counted by kind and result: logged without a provider, sent and failed through one", async () => {
    const logged = startApp({ from: "127.0.0.1" });
    const sent = startApp({ from: "127.0.0.1", env: resendEnv(standIn) });
    try {
      const a = await subscribe(logged);
      expect((await get(logged, `/setemail?token=${a.token}&email=owner@example.net`)).status).toBe(200);
      const b = await subscribe(sent);
      await verifyOwner(sent, standIn, b.token, "owner@example.net");
      expect((await get(sent, `/reclaim?name=${b.name}`)).status).toBe(200);
      standIn.failWith = 500;
      const c = await subscribe(sent);
      expect((await get(sent, `/setemail?token=${c.token}&email=other@example.net`)).status).toBe(501);
      standIn.failWith = null;
      const fromLogged = await scrape({ mail: logged.counters.mail });
      expect(fromLogged.get('registration_emails_total{kind="verification",result="logged"}')).toBe(1);
      expect(fromLogged.get('registration_emails_total{kind="verification",result="sent"}')).toBe(0);
      const fromSent = await scrape({ mail: sent.counters.mail });
      expect(fromSent.get('registration_emails_total{kind="verification",result="sent"}')).toBe(1);
      expect(fromSent.get('registration_emails_total{kind="reclamation",result="sent"}')).toBe(1);
      expect(fromSent.get('registration_emails_total{kind="verification",result="failed"}')).toBe(1);
      expect(fromSent.get('registration_emails_total{kind="verification",result="logged"}')).toBe(0);
    } finally {
      standIn.failWith = null;
      await logged.close();
      await sent.close();
    }
  });

  test("expiry sweeps are counted: names removed, and each sweep's time in a histogram", async () => {
    const expiry = new ExpiryCounters();
    expiry.record(3, 0.05);
    expiry.record(0, 2);
    const got = await scrape({ expiry });
    expect(got.get("registration_expiry_removed_total")).toBe(3);
    expect(got.get("registration_expiry_sweep_duration_seconds_count")).toBe(2);
    expect(got.get('registration_expiry_sweep_duration_seconds_bucket{le="0.1"}')).toBe(1);
    expect(got.get('registration_expiry_sweep_duration_seconds_bucket{le="10"}')).toBe(2);
  });

  test("a census that cannot read the database shows no domain series and logs once, not once per scrape", async () => {
    const log: string[] = [];
    const census = new DomainCensus({ path: join(seeded.dir, "missing", "gone.sqlite"), workerUrl: CENSUS_WORKER, log: (line) => log.push(line) });
    try {
      for (let i = 0; i < 3; i++) {
        const got = await scrape({ census });
        expect([...got.keys()].filter((k) => k.startsWith("registration_domains"))).toEqual([]);
      }
      expect(log).toHaveLength(1);
      expect(log[0]).toStartWith("metrics: cannot count domains by mode: ");
    } finally {
      census.close();
    }
  });

  test("a file put in place of the served one while the server ran is not counted: no domain series, the log says why", async () => {
    // A connection to it would count the served file's WAL frames as its own pages (ops/serving-marker.ts).
    const dir = mkdtempSync(join(tmpdir(), "census-"));
    const path = join(dir, "served.sqlite");
    const served = openDatabase(path);
    createStore(served).insertDomain({ name: "one.example.test.", token: crypto.randomUUID(), description: "", mode: 0, timestamp: 1 });
    const log: string[] = [];
    const census = new DomainCensus({ path, workerUrl: CENSUS_WORKER, log: (line) => log.push(line) });
    try {
      served.$client.run(`VACUUM INTO '${join(dir, "restored.sqlite")}'`);
      renameSync(join(dir, "restored.sqlite"), path);
      const got = await scrape({ census });
      expect([...got.keys()].filter((k) => k.startsWith("registration_domains"))).toEqual([]);
      expect(log).toEqual([
        `metrics: cannot count domains by mode: ${path} is not the file the server has open (it was replaced while the server ran): no domain counts until the server is restarted`,
      ]);
    } finally {
      census.close();
      served.$client.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("zone transfers are counted by type and how they ended, NOTIFYs by result; every series is there at 0", async () => {
    const dns = new DnsCounters();
    dns.values[transferCell("AXFR", "done")] += 2;
    dns.values[transferCell("IXFR", "cut")] += 1;
    const notify = new NotifyCounters();
    for (const result of ["answered", "answered", "unanswered"] as const) notify.count(result);
    const got = await scrape({ dns, notify });
    expect([...got].filter(([k]) => k.startsWith("registration_dns_transfers_total") || k.startsWith("registration_dns_notifies_total"))).toEqual([
      ['registration_dns_transfers_total{type="AXFR",result="done"}', 2],
      ['registration_dns_transfers_total{type="AXFR",result="cut"}', 0],
      ['registration_dns_transfers_total{type="IXFR",result="done"}', 0],
      ['registration_dns_transfers_total{type="IXFR",result="cut"}', 1],
      ['registration_dns_notifies_total{result="answered"}', 2],
      ['registration_dns_notifies_total{result="rejected"}', 0],
      ['registration_dns_notifies_total{result="unanswered"}', 1],
      ['registration_dns_notifies_total{result="superseded"}', 0],
    ]);
  });

  test("the process's own series are there", async () => {
    const got = await scrape({});
    for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds"])
      expect(got.get(name)).toBeGreaterThan(0);
    expect(Math.abs(got.get("process_start_time_seconds")! - Date.now() / 1000)).toBeLessThan(3600);
  });

  test("DNS queries are counted by type (unknown: other), rcode and transport, with answer-cache hits and misses; the warm-up is not", async () => {
    const dns = new DnsCounters();
    const server = await startDnsServer({
      host: "127.0.0.1",
      port: 0,
      zone: { ...testZone(), warmUpQueries: 3000 },
      lookups: { gateway: seeded.store.findGatewayByName },
      counters: dns,
      log: () => {},
    });
    try {
      await udpExchange(server.port, encodeQuery("tun.example.test", "A"));
      await udpExchange(server.port, encodeQuery("tun.example.test", "A")); // from the cache
      await tcpExchange(server.port, [encodeQuery("nothing-here.example.test", "AAAA")]);
      await udpExchange(server.port, encodeQuery("example.test", "CAA"));
      await udpExchange(server.port, encodeQuery("example.test", "HINFO"));
      await udpExchange(server.port, encodeQuery("example.org", "A")); // not our zone
      const got = await scrape({ dns });
      expect(got.get('registration_dns_queries_total{type="A",rcode="NOERROR",transport="udp"}')).toBe(2);
      expect(got.get('registration_dns_queries_total{type="AAAA",rcode="NXDOMAIN",transport="tcp"}')).toBe(1);
      expect(got.get('registration_dns_queries_total{type="CAA",rcode="NOERROR",transport="udp"}')).toBe(1);
      expect(got.get('registration_dns_queries_total{type="other",rcode="NOERROR",transport="udp"}')).toBe(1);
      expect(got.get('registration_dns_queries_total{type="A",rcode="REFUSED",transport="udp"}')).toBe(1);
      expect(got.get("registration_dns_answer_cache_hits_total")).toBe(1);
      expect(got.get("registration_dns_answer_cache_misses_total")).toBe(5);
      const total = [...got].filter(([k]) => k.startsWith("registration_dns_queries_total")).reduce((n, [, v]) => n + v, 0);
      expect(total).toBe(6);
    } finally {
      await server.close();
    }
  });

  test("answers held back by the response-rate limit are counted as dropped or truncated", async () => {
    const dns = new DnsCounters();
    const zone = testZone({ rrl: { rate: 1, slip: 2 } });
    const server = await startDnsServer({
      host: "127.0.0.1",
      port: 0,
      zone,
      lookups: { gateway: seeded.store.findGatewayByName },
      counters: dns,
      log: () => {},
    });
    const socket = createSocket("udp4");
    try {
      let received = 0;
      socket.on("message", () => received++);
      await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
      const sent = 20;
      for (let i = 0; i < sent; i++) socket.send(encodeQuery("tun.example.test", "A"), server.port, "127.0.0.1");
      // A query is counted and its answer sent, truncated or dropped in one step: wait for the count.
      const A_UDP = 'registration_dns_queries_total{type="A",rcode="NOERROR",transport="udp"}';
      let got = await scrape({ dns });
      for (const deadline = Date.now() + 5000; Date.now() < deadline && got.get(A_UDP) !== sent; got = await scrape({ dns })) await Bun.sleep(20);
      const dropped = got.get('registration_dns_rrl_answers_total{action="dropped"}')!;
      const truncated = got.get('registration_dns_rrl_answers_total{action="truncated"}')!;
      expect(dropped).toBeGreaterThan(0);
      expect(truncated).toBeGreaterThan(0);
      expect(got.get(A_UDP)).toBe(sent);
      for (const deadline = Date.now() + 5000; Date.now() < deadline && received < sent - dropped; ) await Bun.sleep(20);
      expect(received).toBe(sent - dropped);
    } finally {
      socket.close();
      await server.close();
    }
  });

  test("the DNS worker thread's counts reach this thread through shared memory, without a message", async () => {
    const dns = new DnsCounters();
    const server = await startDnsThread(
      {
        host: "127.0.0.1",
        port: 0,
        zone: testZone(),
        dbPath: join(seeded.dir, "registration.sqlite"),
        versions: new AnswerVersions(),
        counters: dns,
        lookups: { gateway: seeded.store.findGatewayByName },
        log: () => {},
      },
      DNS_WORKER,
    );
    try {
      const home = GATEWAYS.find((g) => g.label === "home")!;
      for (let i = 0; i < 3; i++) await udpExchange(server.port, encodeQuery(`_acme-challenge.${home.label}.example.test`, "TXT"));
      await tcpExchange(server.port, [encodeQuery("tun.example.test", "A")]);
      const got = await scrape({ dns });
      expect(got.get('registration_dns_queries_total{type="TXT",rcode="NOERROR",transport="udp"}')).toBe(3);
      expect(got.get('registration_dns_queries_total{type="A",rcode="NOERROR",transport="tcp"}')).toBe(1);
      expect(got.get("registration_dns_answer_cache_hits_total")).toBe(2);
    } finally {
      await server.close();
    }
  });
});

describe("/metrics, whole process", () => {
  test("a running server's admin port serves the Prometheus text with its HTTP and DNS traffic counted, its public port does not", async () => {
    const adminPort = await freePort();
    // a secondary that answers every NOTIFY (its reply: the NOTIFY itself, QR set), unsigned as dns.notify says
    const secondary = createSocket("udp4");
    secondary.on("message", (message, from) => {
      const reply = Buffer.from(message);
      reply[2] |= 0x80;
      secondary.send(reply, from.port, from.address);
    });
    await new Promise<void>((resolve) => secondary.bind(0, "127.0.0.1", () => resolve()));
    const server = await startServer({
      env: {
        REGISTRATION_ADMIN_PORT: String(adminPort),
        REGISTRATION_DNS_TRANSFER_ACL: '[["127.0.0.1/32", ""]]',
        REGISTRATION_DNS_NOTIFY: `[["127.0.0.1:${secondary.address().port}", ""]]`,
      },
    }).catch((e) => {
      secondary.close();
      throw e;
    });
    try {
      const { name } = await subscribe(server);
      // the zone is one message: the transfer is done once it is answered
      const [transfer] = await tcpExchange(server.dnsPort, [encodeQuery("example.test", "AXFR")]);
      expect(transfer.readUInt16BE(6)).toBeGreaterThanOrEqual(2); // SOA ... SOA
      await get(server, "/connectivity-check");
      await get(server, "/not-a-route");
      await udpExchange(server.dnsPort, encodeQuery(`${name}.example.test`, "A"));
      await tcpExchange(server.dnsPort, [encodeQuery(`absent-${name}.example.test`, "TXT")]);
      // the start-up sweep runs after the ready line: on a busy machine it may not have ended yet
      await server.waitForOutput(/expiry: removed \d+ domain/);
      // A NOTIFY's outcome (the start-up one, or the subscribe's serial's, which may supersede it)
      // comes with the secondary's reply: scraped until it shows, at most 5 s.
      const answered = async () =>
        samples(await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text()).get('registration_dns_notifies_total{result="answered"}');
      for (let i = 0; i < 100 && !(await answered()); i++) await Bun.sleep(50);
      const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
      const text = await res.text();
      expect(text).toContain("# TYPE registration_dns_queries_total counter");
      const got = samples(text);
      expect(got.get('registration_http_requests_total{route="/subscribe",status="200"}')).toBe(1);
      expect(got.get('registration_http_requests_total{route="/connectivity-check",status="200"}')).toBe(1);
      expect(got.get('registration_http_requests_total{route="other",status="404"}')).toBe(1);
      expect(got.get('registration_dns_queries_total{type="A",rcode="NOERROR",transport="udp"}')).toBe(1);
      expect(got.get('registration_dns_queries_total{type="TXT",rcode="NXDOMAIN",transport="tcp"}')).toBe(1);
      expect(got.get('registration_domains{mode="tunnel"}')).toBe(1);
      expect(got.get('registration_dns_transfers_total{type="AXFR",result="done"}')).toBe(1);
      // at start-up, and for the serial the subscribe moved (once the publisher's batch is out)
      expect(got.get('registration_dns_notifies_total{result="answered"}')).toBeGreaterThanOrEqual(1);
      expect(got.get("registration_expiry_sweep_duration_seconds_count")).toBeGreaterThanOrEqual(1);
      expect(got.get("process_open_fds")).toBeGreaterThan(0);
      expect(text).not.toContain(name);
      expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
    } finally {
      secondary.close();
      await server.cleanup();
    }
  });
});
