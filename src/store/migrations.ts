// The drizzle/ migrations, imported as text so `bun build --compile` embeds them:
// the stock migrate() reads a folder that does not exist beside a compiled binary.
// Adding a migration: run `npm run db:generate`, then import its SQL below
// (test/store/migrations.test.ts fails until every journal entry is listed).
import journal from "../../drizzle/meta/_journal.json";
import baseline from "../../drizzle/0000_baseline.sql" with { type: "text" };
import dropDomainsTimestamp from "../../drizzle/0001_drop_domains_timestamp.sql" with { type: "text" };
import dualStackAddresses from "../../drizzle/0002_dual_stack_addresses.sql" with { type: "text" };
import expiryWarnings from "../../drizzle/0003_expiry_warnings.sql" with { type: "text" };
import zoneJournal from "../../drizzle/0004_zone_journal.sql" with { type: "text" };
import zoneJournalTriggers from "../../drizzle/0005_zone_journal_triggers.sql" with { type: "text" };
import publishedChangesIndex from "../../drizzle/0006_published_changes_index.sql" with { type: "text" };
import dnssecKeys from "../../drizzle/0007_dnssec_keys.sql" with { type: "text" };
import domainsCanonicalOrder from "../../drizzle/0008_domains_canonical_order.sql" with { type: "text" };
import dnssecKeyState from "../../drizzle/0009_dnssec_key_state.sql" with { type: "text" };

export const MIGRATION_SQL: Record<string, string> = {
  "0000_baseline": baseline,
  "0001_drop_domains_timestamp": dropDomainsTimestamp,
  "0002_dual_stack_addresses": dualStackAddresses,
  "0003_expiry_warnings": expiryWarnings,
  "0004_zone_journal": zoneJournal,
  "0005_zone_journal_triggers": zoneJournalTriggers,
  "0006_published_changes_index": publishedChangesIndex,
  "0007_dnssec_keys": dnssecKeys,
  "0008_domains_canonical_order": domainsCanonicalOrder,
  "0009_dnssec_key_state": dnssecKeyState,
};

export interface Migration {
  tag: string;
  sql: string[];
  bps: boolean;
  folderMillis: number;
  hash: string;
}

/** The same records drizzle's readMigrationFiles() builds from the folder. */
export function embeddedMigrations(): Migration[] {
  return journal.entries.map((entry) => {
    const text = MIGRATION_SQL[entry.tag];
    if (text === undefined) throw new Error(`migration ${entry.tag} is in the journal but not embedded in src/store/migrations.ts`);
    return {
      tag: entry.tag,
      sql: text.split("--> statement-breakpoint"),
      bps: entry.breakpoints,
      folderMillis: entry.when,
      hash: new Bun.CryptoHasher("sha256").update(text).digest("hex"),
    };
  });
}

export const journalTags = (): string[] => journal.entries.map((e) => e.tag);
