// What the operator sees of the domains and how a name is removed, shared by the admin
// listener's endpoints (a running server) and the command line working on the file itself.
import { MODE } from "../gateway-data.ts";
import { maskSecret } from "../log.ts";
import { absoluteName, displayName } from "../names.ts";
import type { Domain } from "../store/schema.ts";
import type { Store } from "../store/domains.ts";

/** One line of `domains list`. */
export interface DomainSummary {
  name: string;
  mode: "tunnel" | "dynamic-dns";
  /** ISO 8601, UTC */
  lastPing: string;
  /** the verified owner's address, masked; "" when none */
  email: string;
}

/** `domains show`: every column, secrets masked. */
export interface DomainDetails extends DomainSummary {
  id: number;
  description: string;
  lastIp: string;
  continent: string;
  token: string;
  dnsChallenge: string;
  reclamationToken: string;
  reclamationExpires: string | null;
  verified: boolean;
  verificationToken: string;
  verificationExpires: string | null;
  pendingEmail: string;
}

/** Rows a page of the listing holds at most: an admin request stays bounded however many names there are. */
export const LIST_PAGE_MAX = 5000;

/**
 * The stored form of a name the operator typed: with or without the zone and the trailing dot,
 * any case ("Dave", "dave.example.org", "dave.example.org." are one name). null when empty.
 */
export function storedName(typed: string, zone: string): string | null {
  const name = absoluteName(typed.trim());
  if (name === "." || name.startsWith(".")) return null;
  const apex = absoluteName(zone);
  return name.endsWith(`.${apex}`) ? name : `${name}${apex}`;
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace(".000Z", "Z");
const masked = (secret: string) => (secret ? maskSecret(secret) : "");

export function summary(row: Domain & { email: string }): DomainSummary {
  return {
    name: displayName(row.name),
    mode: row.mode === MODE.dynamicDns ? "dynamic-dns" : "tunnel",
    lastPing: iso(row.timestamp),
    email: row.verified ? masked(row.email) : "",
  };
}

export function details(row: Domain & { email: string }): DomainDetails {
  return {
    ...summary(row),
    id: row.id,
    description: row.description,
    lastIp: row.lastIp,
    continent: row.continent,
    token: masked(row.token),
    dnsChallenge: row.dnsChallenge,
    reclamationToken: masked(row.reclamationToken),
    reclamationExpires: row.reclamationToken ? iso(row.reclamationExpires) : null,
    verified: row.verified,
    verificationToken: masked(row.verificationToken),
    verificationExpires: row.verificationToken ? iso(row.verificationExpires) : null,
    pendingEmail: masked(row.pendingEmail),
  };
}

/** A page of summaries after id `after`; `next` continues the listing, null at its end. */
export function listPage(store: Store, after: number, limit: number): { domains: DomainSummary[]; next: number | null } {
  const page = store.listDomains(after, Math.min(Math.max(limit, 1), LIST_PAGE_MAX));
  return { domains: page.rows.map(summary), next: page.next };
}

export function findDetails(store: Store, name: string): DomainDetails | undefined {
  const row = store.findDomainByName(name);
  if (!row) return undefined;
  return details({ ...row, email: row.verified ? (store.verifiedEmail(row) ?? "") : "" });
}
