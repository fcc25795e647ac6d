// Wiring only: settings -> store -> http + dns + expiry -> shutdown.
import { createApp } from "./api/app.ts";
import { createAdmin } from "./ops/admin.ts";
import { HELP, loadSettings, SettingsError, VERSION } from "./config.ts";
import { AnswerVersions } from "./dns/answer-cache.ts";
import { startDnsThread } from "./dns/threaded.ts";
import { startExpiry } from "./expiry.ts";
import { stdoutLog as log } from "./log.ts";
import { createMailer } from "./mail/mailer.ts";
import { staticLabels } from "./names.ts";
import { openFilesLimit } from "./process-limits.ts";
import { openDatabase } from "./store/db.ts";
import { createStore } from "./store/domains.ts";
import { watchDatabaseFile } from "./store/file-watch.ts";
import { createSweeper } from "./store/sweeper.ts";

// Closers of what has started so far, run in reverse on shutdown. The signal handlers go in
// first, so a SIGTERM that arrives during start-up still ends in a clean exit 0.
const closers: (() => unknown)[] = [];
let stopping = false;

async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log(`${signal}: shutting down`);
  const deadline = setTimeout(() => {
    log("shutdown took over 4.5s, exiting anyway");
    process.exit(0);
  }, 4500);
  for (const close of closers.reverse()) {
    try {
      await close();
    } catch (e) {
      log(`shutdown: ${(e as Error).message}`);
    }
  }
  clearTimeout(deadline);
  log("stopped");
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));

function fail(message: string): never {
  process.stderr.write(`registration-server: ${message}\n`);
  process.exit(2);
}

async function orFail<T>(what: string, start: () => T | Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (e) {
    if (e instanceof SettingsError) fail(e.message);
    fail(`${what}: ${(e as Error).message}`);
  }
}

const { settings, help, version } = await orFail("settings", () => loadSettings(process.argv.slice(2)));
if (help) {
  process.stdout.write(HELP);
  process.exit(0);
}
if (version) {
  process.stdout.write(`registration-server ${VERSION}\n`);
  process.exit(0);
}

const db = await orFail(`cannot open database ${settings.database.path}`, () => openDatabase(settings.database.path, { log }));
// Stop accepting first, let in-flight requests finish, close the database last.
closers.push(() => db.$client.close());
const store = createStore(db);
const fileWatch = watchDatabaseFile({ path: settings.database.path, sqlite: db.$client, checkSeconds: settings.database.checkSeconds, log });
closers.push(() => fileWatch.stop());
const now = () => Math.floor(Date.now() / 1000);
const mailer = createMailer(settings.email, log);

const app = createApp({ settings, store, mailer, log, now, reserved: staticLabels(settings.dns) });
await orFail(`cannot listen for HTTP on ${settings.http.host}:${settings.http.port}`, () =>
  // Elysia asks for SO_REUSEPORT by default: a second server on the same port would then start
  // and take half the requests, answering them from another database.
  // Every endpoint is a GET, so a body is never needed: 413 past 16 KB instead of buffering 128 MB.
  app.listen({ hostname: settings.http.host, port: settings.http.port, reusePort: false, maxRequestBodySize: 16 * 1024 }),
);
// The admin listener (loopback by default): /healthz; never the public HTTP port.
const admin = settings.admin.port === 0 ? null : createAdmin({ sqlite: db.$client });
if (admin) {
  await orFail(`cannot listen for the admin listener on ${settings.admin.host}:${settings.admin.port}`, () =>
    admin.listen({ hostname: settings.admin.host, port: settings.admin.port, reusePort: false, maxRequestBodySize: 16 * 1024 }),
  );
}
// DNS answers from its own thread and connection; a committed write bumps the answer cache's
// shared counters here, before its HTTP reply, so the very next query sees it.
const versions = new AnswerVersions();
store.onGatewayChange((name) => versions.invalidate(name));
const dns = await orFail(`cannot listen for DNS on ${settings.dns.host}:${settings.dns.port}`, () =>
  startDnsThread(
    {
      host: settings.dns.host,
      port: settings.dns.port,
      zone: settings.dns,
      dbPath: settings.database.path,
      versions,
      lookups: { gateway: store.findGatewayByName },
      log,
    },
    new URL("./dns/worker.ts", import.meta.url),
  ),
);
const sweeper = await orFail("cannot start the expiry sweep", () =>
  createSweeper(store, settings.database.path, new URL("./store/sweep-worker.ts", import.meta.url), versions),
);
const expiry = startExpiry({ sweeper, ...settings.expiry, log, now, writesRefused: fileWatch.refused });
closers.push(() => Promise.allSettled([app.stop(), admin?.stop(), dns.close(), expiry.stop()]));

log(
  `registration-server ${VERSION} ready: http=http://${settings.http.host}:${app.server!.port} dns=${settings.dns.host}:${dns.port} (udp+tcp) admin=${admin ? `http://${settings.admin.host}:${admin.server!.port}` : "off"} zone=${settings.domain} db=${settings.database.path} mail=${mailer.kind}`,
);
log(`process: up to ${openFilesLimit() ?? "an unknown number of"} open files (RLIMIT_NOFILE): every HTTP and DNS/TCP connection takes one`);
if (mailer.kind === "log") log("email: no email.resend_api_key set, so emails are written to this log instead of sent");
