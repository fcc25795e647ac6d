// The HTTP API in this process: createApp over a real SQLite file and the real log mailer,
// with a clock the test moves and the socket peer of each request named by the test
// (app.handle has no server to ask). Emails are read back from the log lines the mailer writes.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../src/api/app.ts";
import { loadSettings, type LimitSettings, type Settings } from "../../src/config.ts";
import { createMailer } from "../../src/mail/mailer.ts";
import { staticLabels } from "../../src/names.ts";
import { openDatabase } from "../../src/store/db.ts";
import { createStore } from "../../src/store/domains.ts";

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

export interface InProcessApp {
  settings: Settings;
  dbPath: string;
  /** Unix seconds, as the app sees them; tests move it instead of sleeping */
  clock: number;
  /** every line the app logged */
  lines: string[];
  /** emails the log transport wrote, in order */
  mails(): SentMail[];
  /** GET `path` as if the TCP peer were `from` */
  get(path: string, options?: { from?: string; headers?: Record<string, string> }): Promise<Reply>;
  close(): void;
}

const MAIL_LINE = /^mail \(log transport[^)]*\) to=(.*?) subject=("(?:[^"\\]|\\.)*") body=("(?:[^"\\]|\\.)*")$/;

export function startApp(options: { limits?: Partial<LimitSettings>; env?: Record<string, string> } = {}): InProcessApp {
  const dir = mkdtempSync(join(tmpdir(), "regsrv-inproc-"));
  const dbPath = join(dir, "registration.sqlite");
  const { settings } = loadSettings(["--db", dbPath], options.env ?? {});
  Object.assign(settings.limits, options.limits);
  const db = openDatabase(dbPath);
  const store = createStore(db);
  const lines: string[] = [];
  const log = (line: string) => void lines.push(line);
  const peers = new WeakMap<Request, string>();
  const state = { clock: 1_700_000_000 };
  const app = createApp({
    settings,
    store,
    mailer: createMailer(settings.email, log),
    log,
    now: () => state.clock,
    reserved: staticLabels(settings.dns),
    peerAddress: (request) => peers.get(request),
  });
  return {
    settings,
    dbPath,
    get clock() {
      return state.clock;
    },
    set clock(value: number) {
      state.clock = value;
    },
    lines,
    mails: () =>
      lines.flatMap((line) => {
        const m = MAIL_LINE.exec(line);
        return m ? [{ to: m[1], subject: JSON.parse(m[2]), body: JSON.parse(m[3]) }] : [];
      }),
    async get(path, { from = "192.0.2.10", headers = {} } = {}) {
      const request = new Request(`http://api.example.test${path}`, { headers });
      peers.set(request, from);
      const res = await app.handle(request);
      const text = await res.text();
      let json: any;
      try {
        json = JSON.parse(text);
      } catch {}
      return { status: res.status, headers: res.headers, json, text };
    },
    close() {
      db.$client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let counter = 0;
/** A name no other test uses. */
export const uniqueName = (prefix = "gw") => `${prefix}${Date.now().toString(36)}${(counter++).toString(36)}`;
