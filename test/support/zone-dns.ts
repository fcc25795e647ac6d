// The server's DNS side in this process, on a real SQLite file: the settings loaded from the
// same flags, the signing keys read as a start reads them (src/zone-signing.ts), the stored SOA
// serial kept as serve.ts keeps it (src/zone-serial.ts), and startDnsServer on loopback port 0. For tests
// that check what a restarted server would answer without spawning one (a start is ~1.4 s of CPU).
import { loadSettings, type Settings } from "../../src/config.ts";
import { startDnsServer } from "../../src/dns/server.ts";
import { openDatabase } from "../../src/store/db.ts";
import { createStore, type Store } from "../../src/store/domains.ts";
import { openZoneSnapshot } from "../../src/store/zone-reader.ts";
import { startZoneSerial } from "../../src/zone-serial.ts";
import { zoneSigning } from "../../src/zone-signing.ts";
import { testAnswerCache } from "../dns/client.ts";
import { TEST_SERVER_ENV } from "./server.ts";

export interface ZoneDns {
  settings: Settings;
  /** the DNS port on 127.0.0.1 (UDP and TCP) */
  dnsPort: number;
  /** the store on the file: a write through it moves the serial as the server's writes do */
  store: Store;
  /** what a started server would have logged of its keys and serial */
  lines: string[];
  output(): string;
  close(): Promise<void>;
}

/** zoneSigning reads REGSRV_TEST_BREAK_DNSSEC from the process's environment, as serve.ts runs it. */
function withTestEnv<T>(env: Record<string, string>, run: () => T): T {
  const saved = process.env.REGSRV_TEST_BREAK_DNSSEC;
  if (env.REGSRV_TEST_BREAK_DNSSEC !== undefined) process.env.REGSRV_TEST_BREAK_DNSSEC = env.REGSRV_TEST_BREAK_DNSSEC;
  try {
    return run();
  } finally {
    if (saved === undefined) delete process.env.REGSRV_TEST_BREAK_DNSSEC;
    else process.env.REGSRV_TEST_BREAK_DNSSEC = saved;
  }
}

/**
 * `args`: the server's flags (`--db` and `--config` among them); the DNS host and port are
 * 127.0.0.1 and 0. `env`: REGISTRATION_* variables, and REGSRV_TEST_BREAK_DNSSEC.
 */
export async function startZoneDns(args: string[], env: Record<string, string> = {}): Promise<ZoneDns> {
  // no 3,000-query warm-up (dns.warm_up_queries) unless `env` asks for one, as for spawned test servers
  const { settings } = loadSettings([...args, "--dns-host", "127.0.0.1", "--dns-port", "0"], { ...TEST_SERVER_ENV, ...env });
  const lines: string[] = [];
  const log = (line: string) => void lines.push(line);
  const db = openDatabase(settings.database.path);
  try {
    const store = createStore(db);
    const now = () => Math.floor(Date.now() / 1000);
    const signing = settings.dns.dnssec ? withTestEnv(env, () => zoneSigning(db, settings, now(), log)) : undefined;
    const { versions, close: closeSerial } = startZoneSerial({ db, settings, store, keySet: signing?.keySet ?? "", log });
    const dns = await startDnsServer({
      host: settings.dns.host,
      port: 0,
      zone: settings.dns,
      lookups: { gateway: store.findGatewayByName, serial: () => versions.serial() },
      cache: testAnswerCache(versions),
      openSnapshot: () => openZoneSnapshot({ db }),
      dnssec: signing && { key: signing.key, published: signing.published, corruptSignatures: signing.corruptSignatures },
      log,
    });
    let closed: Promise<void> | undefined;
    return {
      settings,
      dnsPort: dns.port,
      store,
      lines,
      output: () => lines.map((line) => `${line}\n`).join(""),
      close() {
        closed ??= (async () => {
          await dns.close();
          closeSerial(); // as serve.ts's shutdown: the last changes get their serial now
          db.$client.close();
        })();
        return closed;
      },
    };
  } catch (e) {
    db.$client.close();
    throw e;
  }
}
