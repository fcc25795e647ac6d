// The zone's serial as a running server keeps it: the publisher that gathers DNS-visible writes
// into one stored serial per batch (store/zone-journal.ts), the answer cache's shared versions
// through which the DNS thread sees each write and serial, and the hook that tells both of a
// gateway write. serve.ts starts it once; tests that answer DNS in their own process on the same
// file (test/support/zone-dns.ts) start the very same, so the two cannot drift apart.
import type { Settings } from "./config.ts";
import { AnswerVersions } from "./dns/answer-cache.ts";
import { errorText } from "./log.ts";
import type { Db } from "./store/db.ts";
import type { Store } from "./store/domains.ts";
import { createZonePublisher, serialPolicy, type ZonePublisher, zoneFingerprint } from "./store/zone-journal.ts";

export interface ZoneSerialOptions {
  db: Db;
  /** read on each use: a reload changes them in place */
  settings: Settings;
  store: Store;
  /** the DNSSEC key set (ZoneSigning.keySet), "" unsigned: a rollover step moves the serial */
  keySet: string;
  log: (line: string) => void;
  /** after every new serial, once `versions` has it (NOTIFY) */
  onPublish?: (serial: number) => void;
}

export interface ZoneSerial {
  /** the answer cache's shared counters, the serial among them */
  versions: AnswerVersions;
  publisher: ZonePublisher;
  /** zoneFingerprint of the running settings, key set and signing week */
  fingerprint(): string;
  /** shutdown: what was written in the last moments gets its serial now, then the publisher stops */
  close(): void;
}

export function startZoneSerial(options: ZoneSerialOptions): ZoneSerial {
  const { db, settings, store, keySet, log } = options;
  const versions = new AnswerVersions();
  const fingerprint = () => zoneFingerprint(settings.dns, undefined, keySet);
  const publisher = createZonePublisher({
    db,
    policySerial: () => serialPolicy(settings.dns.soa.serial),
    maxChanges: () => settings.dns.journalMaxChanges,
    tunnelAddressesSet: () => settings.dns.tunnelAddresses.length > 0,
    fingerprint: fingerprint(),
    log,
    onPublish: (serial) => {
      versions.setSerial(serial);
      options.onPublish?.(serial);
    },
  });
  versions.setSerial(publisher.serial());
  // a gateway row changed: the answer cache forgets it, the publisher gathers a new serial
  store.onGatewayChange((name) => {
    versions.invalidate(name);
    publisher.poke();
  });
  return {
    versions,
    publisher,
    fingerprint,
    close() {
      try {
        publisher.publishNow(); // not at the next start
      } catch (e) {
        log(`shutdown: publishing the zone's last changes: ${errorText(e)}`);
      }
      publisher.close();
    },
  };
}
