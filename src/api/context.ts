// What route handlers may use: settings, the store, the mailer, a clock, the log.
import type { Settings } from "../config.ts";
import type { Gateways } from "../gateways.ts";
import type { Log } from "../log.ts";
import type { Mailer } from "../mail/mailer.ts";
import type { Store } from "../store/domains.ts";
import type { IpSource } from "./client-ip.ts";
import type { HttpCounters } from "./counters.ts";

export interface ApiDeps {
  settings: Settings;
  store: Store;
  mailer: Mailer;
  log: Log;
  /** Unix seconds */
  now: () => number;
  /** labels reserved by configured static records, computed once at start-up */
  reserved: Set<string>;
  /**
   * The socket peer of a request. Left unset, the server's requestIP is asked (production);
   * in-process tests, which have no server, name the peer here. Never read from a header.
   */
  peerAddress?: (request: Request, server: IpSource | null) => string | undefined;
  /** requests by route and status, for /metrics */
  httpCounters?: HttpCounters;
  /** the rules, shared with the expiry's warnings (one set of per-recipient email quotas); else the app makes its own */
  gateways?: Gateways;
}
