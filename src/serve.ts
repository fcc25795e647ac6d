// The server: settings -> store -> http + dns + expiry, each closed at shutdown in reverse
// (src/lifecycle.ts). Loaded by main.ts only to serve, so a subcommand loads none of it. It sits
// beside main.ts and is bundled into main.ts's entry, so the workers' URLs (import.meta.url)
// resolve alike from source and inside the binary.
import { createApp } from "./api/app.ts";
import { HttpCounters } from "./api/counters.ts";
import { createAdmin } from "./ops/admin.ts";
import { markServing, servingProcess } from "./ops/serving-marker.ts";
import { adminDomains } from "./ops/admin-domains.ts";
import { createMetricsRegistry, DomainCensus, ExpiryCounters, metricsPlugin } from "./ops/metrics.ts";
import { loadSettings, type Settings, SettingsError } from "./config.ts";
import { VERSION } from "./version.ts";
import { DnsCounters, NotifyCounters } from "./dns/counters.ts";
import { createNotifier } from "./dns/notify.ts";
import { startDnsThread } from "./dns/threaded.ts";
import { startExpiry } from "./expiry.ts";
import { createGateways } from "./gateways.ts";
import { configureLog, errorText, stdoutIsJournal, stdoutLog as log } from "./log.ts";
import { hostPort } from "./addresses.ts";
import { listenOn } from "./listen.ts";
import { countingMailer, createMailer, MailCounters } from "./mail/mailer.ts";
import { applyReload, planReload, reloadableMailer, reloadedLine, restartLine } from "./ops/reload.ts";
import { staticLabels } from "./names.ts";
import { openFilesLimit } from "./process-limits.ts";
import { openDatabase } from "./store/db.ts";
import { createStore } from "./store/domains.ts";
import { watchDatabaseFile } from "./store/file-watch.ts";
import { openZoneSnapshot } from "./store/zone-reader.ts";
import { createSweeper } from "./store/sweeper.ts";
import { startZoneSerial } from "./zone-serial.ts";
import { zoneSigning } from "./zone-signing.ts";
import { acceptReloads, fail, isStopping, onShutdown, orFail } from "./lifecycle.ts";

/** Starts the server on settings main.ts read from `argv` and `env` (a reload reads them again). */
export async function serve({
  argv,
  env: startEnv,
  settings,
  warnings,
}: {
  argv: string[];
  env: Record<string, string | undefined>;
  settings: Settings;
  warnings: string[];
}): Promise<void> {
  // Under journald (which stamps each line) text lines carry no time of ours.
  configureLog({ ...settings.log, journald: stdoutIsJournal() });

  // Two servers on one file would each answer from caches blind to the other's writes.
  const serving = servingProcess(settings.database.path, true);
  if (serving)
    fail(`a server (pid ${serving.pid}) has ${settings.database.path} open already: stop it first (two servers on one file answer from stale caches)`);
  const db = await orFail(`cannot open database ${settings.database.path}`, () => openDatabase(settings.database.path, { log }));
  // Stop accepting first, let in-flight requests finish, close the database last.
  onShutdown(() => db.$client.close());
  const store = createStore(db);
  const fileWatch = watchDatabaseFile({ path: settings.database.path, sqlite: db.$client, checkSeconds: settings.database.checkSeconds, log });
  onShutdown(() => fileWatch.stop());
  const now = () => Math.floor(Date.now() / 1000);
  // What /metrics reads: counted where each thing happens, read only when it is scraped.
  const counters = {
    http: new HttpCounters(),
    dns: new DnsCounters(),
    notify: new NotifyCounters(),
    mail: new MailCounters(),
    expiry: new ExpiryCounters(),
  };
  const census = new DomainCensus({ path: settings.database.path, db, workerUrl: new URL("./ops/census-worker.ts", import.meta.url), log });
  onShutdown(() => census.close());
  const mailer = reloadableMailer(() => countingMailer(createMailer(settings.email, log), counters.mail));
  const reserved = staticLabels(settings.dns);

  // Reloads change `settings` in place: the app, the mailer's builder and the reserved labels read it.
  // One set of rules for the API and the expiry's warnings: they share the per-recipient email quotas.
  const gateways = createGateways({ settings, store, mailer, log, reserved });
  const app = createApp({ settings, store, mailer, log, now, reserved, httpCounters: counters.http, gateways });
  const addresses = (hosts: string[], port: number) => hosts.map((h) => hostPort(h, port)).join(", ");
  const http = await orFail(`cannot listen for HTTP on ${addresses(settings.http.host, settings.http.port)}`, () =>
    listenOn(app, settings.http.host, settings.http.port),
  );
  // The admin listener (loopback by default): /healthz, /metrics and the command line's
  // endpoints; never the public HTTP port.
  const admin =
    settings.admin.port === 0
      ? null
      : createAdmin({
          sqlite: db.$client,
          plugins: [
            metricsPlugin(createMetricsRegistry({ ...counters, census })),
            adminDomains({ store, zone: settings.domain, dbPath: settings.database.path, log }),
          ],
        });
  const adminListening = admin
    ? await orFail(`cannot listen for the admin listener on ${addresses(settings.admin.host, settings.admin.port)}`, () =>
        listenOn(admin, settings.admin.host, settings.admin.port),
      )
    : null;
  // Secondaries (dns.notify) hear of each new serial at once (src/dns/notify.ts).
  const notifier = createNotifier({ zone: settings.dns, log, onResult: (_target, _serial, result) => counters.notify.count(result) });
  onShutdown(() => notifier.close());
  // DNSSEC (docs/dns.md, "The key"): the key is made at the first start with dns.dnssec on, then kept.
  const dnssec = settings.dns.dnssec ? await orFail("cannot read or store the DNSSEC key", () => zoneSigning(db, settings, now(), log)) : undefined;
  // The SOA serial: stored, bumped once per batch of DNS-visible changes (src/zone-serial.ts).
  // DNS answers from its own thread and connection; a committed write bumps the answer cache's
  // shared counters (`versions`) here, before its HTTP reply, so the very next query sees it.
  const zoneSerial = await orFail("cannot read or store the zone's serial", () =>
    startZoneSerial({ db, settings, store, keySet: dnssec?.keySet ?? "", log, onPublish: (serial) => notifier.notify(serial) }),
  );
  const { versions, publisher } = zoneSerial;
  // A restarted primary tells its secondaries where it stands, as BIND and NSD do.
  notifier.notify(publisher.serial());
  onShutdown(() => zoneSerial.close());
  // A signed zone's signatures roll weekly: its fingerprint holds the week, so the serial moves
  // and secondaries transfer the new signatures (zoneFingerprint); unsigned, this never resets.
  const resigning = setInterval(() => {
    try {
      if (publisher.resetFor(zoneSerial.fingerprint())) log(`dns: new signing week, serial ${publisher.serial()} for the secondaries`);
    } catch (e) {
      log(`dns: cannot move the zone's serial for the new signing week yet (tried again each minute): ${errorText(e)}`);
    }
  }, 60_000);
  resigning.unref();
  onShutdown(() => clearInterval(resigning));
  // The DNS thread and the sweep's worker start side by side: each loads the program's code in a
  // thread of its own (and the DNS thread warms its answer path), so start-up waits for the slower
  // one, not for both in turn. A failure of either still ends start-up with its own line (orFail).
  const dnsStarting = orFail(`cannot listen for DNS on ${addresses(settings.dns.host, settings.dns.port)}`, () =>
    startDnsThread(
      {
        host: settings.dns.host,
        port: settings.dns.port,
        zone: settings.dns,
        dbPath: settings.database.path,
        versions,
        counters: counters.dns,
        lookups: { gateway: store.findGatewayByName },
        openSnapshot: () => openZoneSnapshot({ db }),
        dnssec: dnssec && { key: dnssec.key, published: dnssec.published, corruptSignatures: dnssec.corruptSignatures },
        log,
      },
      new URL("./dns/worker.ts", import.meta.url),
    ),
  );
  const sweeperStarting = orFail("cannot start the expiry sweep", () =>
    createSweeper(store, settings.database.path, new URL("./store/sweep-worker.ts", import.meta.url), versions),
  );
  const dns = await dnsStarting;
  const sweeper = await sweeperStarting;
  const expiry = startExpiry({
    sweeper,
    ...settings.expiry,
    log,
    now,
    writesRefused: fileWatch.refused,
    onSweep: (removed, seconds) => {
      counters.expiry.record(removed, seconds);
      publisher.poke();
    },
    warn: gateways.warnQuiet,
  });
  onShutdown(() => Promise.allSettled([http.stop(), adminListening?.stop(), dns.close(), expiry.stop()]));
  // The command line changes the file itself only when no server has it open (src/ops/serving-marker.ts).
  onShutdown(markServing(settings.database.path, adminListening ? adminListening.urls[0] : null));

  const reload = async () => {
    if (isStopping()) return;
    let next: typeof settings;
    try {
      next = loadSettings(argv, startEnv).settings;
    } catch (e) {
      log(`settings reload failed, the running settings stay: ${e instanceof SettingsError ? e.message : errorText(e)}`);
      return;
    }
    const plan = planReload(settings, next);
    const restart = restartLine(plan);
    if (restart) log(restart);
    if (plan.changed.length > 0) {
      applyReload(settings, next);
      configureLog(settings.log);
      const labels = staticLabels(settings.dns);
      reserved.clear();
      for (const label of labels) reserved.add(label);
      mailer.rebuild();
      if (plan.changed.some((key) => key.startsWith("dns."))) {
        await dns.reload(settings.dns);
        notifier.reload(settings.dns);
        try {
          // Records of every gateway may read otherwise now: a new serial, and a full transfer for secondaries.
          if (publisher.resetFor(zoneSerial.fingerprint())) log(`dns: the zone's records changed with the settings: serial ${publisher.serial()}`);
        } catch (e) {
          log(`dns: cannot move the zone's serial after the reload yet (tried again each second): ${errorText(e)}`);
        }
      }
    }
    log(reloadedLine(plan));
  };

  const dnsAddresses = settings.dns.host.map((h) => hostPort(h, dns.port)).join(",");
  log(
    `registration-server ${VERSION} ready: http=${http.urls.join(",")} dns=${dnsAddresses} (udp+tcp) admin=${adminListening ? adminListening.urls.join(",") : "off"} zone=${settings.domain} db=${settings.database.path} mail=${mailer.kind}`,
  );
  log(`process: up to ${openFilesLimit() ?? "an unknown number of"} open files (RLIMIT_NOFILE): every HTTP and DNS/TCP connection takes one`);
  if (mailer.kind === "log") log("email: no email.resend_api_key set, so emails are written to this log instead of sent");
  // Once, at start-up (a reload does not repeat them): settings that work, but likely not as meant.
  for (const warning of warnings) log(`warning: ${warning}`);
  acceptReloads(reload);
}
