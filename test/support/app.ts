// The HTTP API in this process: createApp(deps).handle() over a real SQLite file, the real
// mailer (log transport, or Resend through the stand-in), a clock the test moves instead of
// ageing rows, and the socket peer of each request named by the test (app.handle has no server
// to ask). The one place tests import the app and the store from: if they move, fix it here.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../src/api/app.ts";
import { HttpCounters } from "../../src/api/counters.ts";
import { loadSettings, type LimitSettings, type Settings } from "../../src/config.ts";
import { startExpiry, type Expiry } from "../../src/expiry.ts";
import { configureLog, formatLine, type LogFields } from "../../src/log.ts";
import { createGateways } from "../../src/gateways.ts";
import { countingMailer, createMailer, MailCounters } from "../../src/mail/mailer.ts";
import { staticLabels } from "../../src/names.ts";
import { openDatabase } from "../../src/store/db.ts";
import { createStore } from "../../src/store/domains.ts";
import { createSweeper } from "../../src/store/sweeper.ts";
import { LIMITS_OFF_ENV } from "./server.ts";

export interface SentMail {
  to: string;
  subject: string;
  body: string;
}

export interface Reply {
  status: number;
  headers: Headers;
  json: any;
  text: string;
}

export interface AppOptions {
  /** command-line flags after `--domain example.test --db <file>` */
  args?: string[];
  env?: Record<string, string>;
  /** true: the limits.* quotas at their defaults (otherwise off, as for startServer); an object: those values */
  limits?: true | Partial<LimitSettings>;
  /** reuse a database file (a restart) */
  dbPath?: string;
  /** the socket peer of requests that name none (a whole-server test's client is 127.0.0.1) */
  from?: string;
  /** how long a write waits for a locked database (SQLite's busy_timeout) instead of the store's own wait */
  lockWaitMs?: number;
}

export interface TestApp {
  settings: Settings;
  /** what /metrics would read of this app: requests by route and status, emails by kind and result */
  counters: { http: HttpCounters; mail: MailCounters };
  dir: string;
  dbPath: string;
  /** the base of links in emails and of request URLs */
  url: string;
  httpPort: number;
  /** Unix seconds, as the app sees them; tests move it instead of sleeping or ageing rows */
  clock: number;
  /** every line the app logged */
  lines: string[];
  /** every line with the fields it was logged with (a request line's method, path, status, client...) */
  entries: { line: string; fields?: LogFields }[];
  /** the lines as the process would print them (log.format; in text, a time first), one event a line */
  output(): string;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** emails the log transport wrote, in order */
  mails(): SentMail[];
  /** the app's answer to `path` (or a full URL), as if the TCP peer were `from` */
  handle(path: string, init?: RequestInit & { from?: string }): Promise<Response>;
  get(path: string, options?: { from?: string; headers?: Record<string, string> }): Promise<Reply>;
  /**
   * starts the expiry sweep as serve.ts does (its worker thread, settings.expiry, the warnings), on
   * this app's clock; intervalMs: sweeps that often instead of every expiry.interval_seconds;
   * inThread: the sweeper serve.ts uses for `--db :memory:` (this thread, this app's connection)
   * instead of a worker thread, for tests of what a sweep decides rather than where it runs
   */
  startExpiry(options?: { intervalMs?: number; inThread?: boolean }): Promise<void>;
  /** stops the app (its stop hooks log, e.g. the access-log summary) and closes the database */
  close(): Promise<void>;
}

const MAIL_LINE = /^mail \(log transport[^)]*\) to=(.*?) subject=("(?:[^"\\]|\\.)*") body=("(?:[^"\\]|\\.)*")$/;

export function startApp(options: AppOptions = {}): TestApp {
  const dir = mkdtempSync(join(tmpdir(), "regsrv-app-"));
  const dbPath = options.dbPath ?? join(dir, "registration.sqlite");
  const env = { ...(options.limits === undefined ? LIMITS_OFF_ENV : {}), ...options.env };
  const { settings } = loadSettings(["--domain", "example.test", "--db", dbPath, ...(options.args ?? [])], env);
  if (typeof options.limits === "object") Object.assign(settings.limits, options.limits);
  const db = openDatabase(dbPath);
  if (options.lockWaitMs !== undefined) db.$client.run(`PRAGMA busy_timeout = ${options.lockWaitMs}`);
  const store = createStore(db);
  const lines: string[] = [];
  const entries: { line: string; fields?: LogFields }[] = [];
  /** as serve.ts's log writes them to stdout (src/log.ts's formatLine) */
  const stamped: string[] = [];
  const waiters = new Set<() => void>();
  // errorText reads log.level from src/log.ts, as in the process; the next app sets it again.
  configureLog(settings.log);
  const log = (line: string, fields?: LogFields) => {
    lines.push(line);
    entries.push({ line, fields });
    stamped.push(formatLine(line, fields, { ...settings.log, journald: false }, new Date().toISOString()));
    for (const w of waiters) w();
  };
  const peers = new WeakMap<Request, string>();
  const state = { clock: 1_700_000_000 };
  // The Resend SDK reads its base URL from the environment when it is built.
  const savedBaseUrl = process.env.RESEND_BASE_URL;
  if (env.RESEND_BASE_URL) process.env.RESEND_BASE_URL = env.RESEND_BASE_URL;
  const counters = { http: new HttpCounters(), mail: new MailCounters() };
  const mailer = countingMailer(createMailer(settings.email, log), counters.mail);
  if (savedBaseUrl === undefined) delete process.env.RESEND_BASE_URL;
  else process.env.RESEND_BASE_URL = savedBaseUrl;
  const reserved = staticLabels(settings.dns);
  // shared by the app and the expiry's warnings, as serve.ts wires them
  const gateways = createGateways({ settings, store, mailer, log, reserved });
  const app = createApp({
    settings,
    store,
    mailer,
    log,
    now: () => state.clock,
    reserved,
    peerAddress: (request) => peers.get(request),
    httpCounters: counters.http,
    gateways,
  });
  const url = `http://api.example.test:${settings.http.port}`;
  let expiry: Expiry | undefined;
  const output = () => stamped.join("");
  const handle = async (path: string, init: RequestInit & { from?: string } = {}) => {
    const { from = options.from ?? "192.0.2.10", ...rest } = init;
    const request = new Request(/^https?:/.test(path) ? path : url + path, rest);
    peers.set(request, from);
    return await app.handle(request);
  };
  return {
    settings,
    counters,
    dir,
    dbPath,
    url,
    httpPort: settings.http.port,
    get clock() {
      return state.clock;
    },
    set clock(value: number) {
      state.clock = value;
    },
    lines,
    entries,
    output,
    waitForOutput: (pattern, timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = output().match(pattern);
          if (!m) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(m);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${pattern}; output:\n${output()}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    mails: () =>
      lines.flatMap((line) => {
        const m = MAIL_LINE.exec(line);
        return m ? [{ to: m[1], subject: JSON.parse(m[2]), body: JSON.parse(m[3]) }] : [];
      }),
    handle,
    async get(path, { from, headers = {} } = {}) {
      const res = await handle(path, { from, headers });
      const text = await res.text();
      let json: any;
      try {
        json = JSON.parse(text);
      } catch {}
      return { status: res.status, headers: res.headers, json, text };
    },
    async startExpiry({ intervalMs, inThread = false } = {}) {
      const sweeper = await createSweeper(store, inThread ? ":memory:" : dbPath, new URL("../../src/store/sweep-worker.ts", import.meta.url));
      expiry = startExpiry({ sweeper, ...settings.expiry, intervalMs, log, now: () => state.clock, warn: gateways.warnQuiet });
    },
    async close() {
      await expiry?.stop();
      // The app answers through handle() and never listens: Elysia's stop() would only print
      // "Elysia isn't running" with a stack trace.
      if (app.server) await app.stop();
      db.$client.close();
      configureLog({ format: "text", level: "info" });
      // This app's own directory: it holds the database unless the test named another file (a
      // restart on an earlier app's file), which stays.
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let counter = 0;
/** A name no other test uses. */
export const uniqueName = (prefix = "gw") => `${prefix}${Date.now().toString(36)}${(counter++).toString(36)}`;
