// The store the rest of the program uses: the queries (queries.ts), each write followed by what
// it invalidates: /info's rows (info-cache.ts) and the DNS change feed (change-feed.ts). Pings
// are group-committed here; the expiry's entry points are at the end.
import { ChangeFeed } from "./change-feed.ts";
import type { Db } from "./db.ts";
import { groupCommit } from "./group-commit.ts";
import { InfoCache } from "./info-cache.ts";
import { isIP } from "node:net";
import { unmapIPv4 } from "../addresses.ts";
import {
  createGatewayLookup,
  createQueries,
  type DomainInfo,
  type KeepOutcome,
  type NewDomain,
  type PendingEmail,
  type PingWrite,
  type QuietName,
  type QuietQuery,
  type StaleBatch,
  type StaleCensus,
  type StaleRemoved,
  type VerificationOutcome,
} from "./queries.ts";

export type { GatewayRecord } from "../gateway-data.ts";
export type {
  DomainInfo,
  DomainPage,
  KeepOutcome,
  NewDomain,
  PingResult,
  PingWrite,
  QuietName,
  QuietQuery,
  StaleBatch,
  StaleCensus,
  StaleRemoved,
  VerificationOutcome,
} from "./queries.ts";
export { createGatewayLookup };

export type Store = ReturnType<typeof createStore>;

export interface StoreOptions {
  /** keep /info's rows in memory (tests compare against a store without) */
  cacheInfo?: boolean;
}

/** A /ping's write: the address sets last_ip and its own family's column. */
function pingWrite(token: string, timestamp: number, ip: string): PingWrite {
  const plain = unmapIPv4(ip);
  const family = isIP(plain);
  return { token, timestamp, ip, ipv4: family === 4 ? plain : null, ipv6: family === 6 ? plain : null };
}

export function createStore(db: Db, { cacheInfo = true }: StoreOptions = {}) {
  const queries = createQueries(db);
  const feed = new ChangeFeed();
  const changed = (name: string | undefined) => feed.changed(name);

  // What /info read, until a write changes it: pings and challenges (the frequent writes, by
  // token) forget their row; every other write (rare) forgets everything, accounts included.
  const infoCache = new InfoCache(cacheInfo ? undefined : 0);
  const wrote = () => infoCache.clear();

  /** One ping's UPDATE, its row's /info copy forgotten first: the pinged row's full name, and whether an address moved. */
  const applyPing = (ping: PingWrite) => {
    infoCache.forget(ping.token);
    return queries.recordPing(ping);
  };
  const commitPing = groupCommit(db.$client, applyPing);
  /** A ping or dyndns2 update naming its addresses, group-committed: resolves once committed (false: no row has the token). */
  const recordUpdate = (write: PingWrite): Promise<boolean> => {
    if (write.token === "") return Promise.resolve(false);
    return commitPing(write).then((result) => {
      // Listeners (the answer cache, the zone's serial) hear only of an address that moved.
      if (result?.moved) changed(result.name);
      return result !== undefined;
    });
  };

  /** Rows this or another connection removed: /info forgets them and listeners hear of them. */
  const removed = (names: string[]) => {
    if (names.length > 0) wrote(); // most batches of a sweep remove nothing
    for (const name of names) changed(name);
  };

  return {
    /** Calls `listener(fullName)` after every committed write that changes what DNS answers for that name. */
    onGatewayChange(listener: (name: string) => void): void {
      feed.subscribe(listener);
    },

    findDomainByToken: queries.findDomainByToken,

    /** The returned object is shared with later callers: do not change it. */
    findInfoByToken(token: string): DomainInfo | undefined {
      if (!token) return undefined;
      const cached = infoCache.get(token);
      if (cached) return cached;
      const info = queries.findInfoByToken(token);
      if (info) infoCache.set(token, info);
      return info;
    },

    findDomainByName: queries.findDomainByName,
    findGatewayByName: queries.findGatewayByName,
    verifiedEmail: queries.verifiedEmail,

    /** Inserts a new domain; false when the name is already taken. */
    insertDomain(domain: NewDomain): boolean {
      wrote();
      const inserted = queries.insertDomain(domain);
      if (inserted) changed(domain.name);
      return inserted;
    },

    /** Hands a taken name to whoever holds its live reclamation token; false when none matches. */
    reclaimDomain(name: string, reclamationToken: string, newToken: string, description: string, mode: number, now: number): boolean {
      if (!reclamationToken) return false;
      wrote();
      const reclaimed = queries.reclaimDomain(name, reclamationToken, newToken, description, mode, now);
      if (reclaimed) changed(name);
      return reclaimed;
    },

    setReclamationToken(id: number, token: string, expires: number): void {
      wrote();
      queries.setReclamationToken(id, token, expires);
    },

    /** queries.issueReclamationToken: the live reclamation token, stored now unless one is live. */
    issueReclamationToken(id: number, token: string, expires: number, now: number): ReturnType<typeof queries.issueReclamationToken> {
      wrote();
      return queries.issueReclamationToken(id, token, expires, now);
    },

    /** Puts back what a domain held before `token` was issued (its email could not be sent), unless `token` is gone already. */
    withdrawReclamationToken(id: number, token: string, previous: { token: string; expires: number }): void {
      wrote();
      queries.withdrawReclamationToken(id, token, previous);
    },

    /** A /ping: `ip` becomes last_ip and the address of its family; false when no row has the token. Listeners hear of it only when an address moved. */
    recordPing(token: string, timestamp: number, ip: string): boolean {
      if (token === "") return false;
      const result = applyPing(pingWrite(token, timestamp, ip));
      if (result?.moved) changed(result.name);
      return result !== undefined;
    },

    /** recordPing for the API's hot path: resolves once committed together with the other pings of this turn. */
    recordPingGrouped(token: string, timestamp: number, ip: string): Promise<boolean> {
      return recordUpdate(pingWrite(token, timestamp, ip));
    },

    recordUpdate,

    setDnsChallenge(token: string, challenge: string): string | undefined {
      infoCache.forget(token);
      const name = queries.setDnsChallenge(token, challenge);
      changed(name);
      return name;
    },

    deleteByToken(token: string): string | undefined {
      wrote();
      const name = queries.deleteByToken(token);
      changed(name);
      return name;
    },

    /** The operator's removal by full name; listeners and /info hear of it like any other delete. */
    deleteByName(name: string): string | undefined {
      wrote();
      const removedName = queries.deleteByName(name);
      changed(removedName);
      return removedName;
    },

    listDomains: queries.listDomains,

    deleteByReclamationToken(token: string, now: number): string | undefined {
      wrote();
      const name = queries.deleteByReclamationToken(token, now);
      changed(name);
      return name;
    },

    setPendingEmail(id: number, email: string, optout: boolean, link: string, expires: number): void {
      wrote();
      queries.setPendingEmail(id, email, optout, link, expires);
    },

    withdrawPendingEmail(id: number, link: string, previous: PendingEmail): void {
      wrote();
      queries.withdrawPendingEmail(id, link, previous);
    },

    /** Follows a verification link: the pending address becomes the domain's verified owner. */
    verifyEmail(link: string, now: number): VerificationOutcome {
      if (!link) return { outcome: "unknown" };
      const result = queries.verifyEmail(link, now);
      // Only a first click writes: anyone may send links that are not valid, and must not empty the cache.
      if (result.outcome === "verified") wrote();
      return result;
    },

    revokeEmail(id: number): void {
      wrote();
      queries.revokeEmail(id);
    },

    /** Follows a keep link (an expiry warning's): once, it counts as a ping of the name. */
    keepName(link: string, now: number): KeepOutcome {
      if (!link) return { outcome: "unknown" };
      const result = queries.keepName(link, now);
      // Only a first click writes (/info shows the last ping): links that are not valid must not empty the cache.
      if (result.outcome === "kept") wrote();
      return result;
    },

    // The expiry's entry points (store/sweeper.ts, store/sweep-worker.ts, and the warnings).

    /** Names whose owner is due a warning (queries.quietNames): a full scan at worst, so the sweep's worker runs it. */
    quietNames(query: QuietQuery): QuietName[] {
      return queries.quietNames(query);
    },

    prepareWarning: queries.prepareWarning,
    markWarned: queries.markWarned,

    /** How many domains there are and how many were last seen before `cutoff`, before a sweep removes any. */
    countStale(cutoff: number): StaleCensus {
      return queries.countStale(cutoff);
    },

    /** One step of the expiry's walk: removes stale domains among the next rows after `batch.after`. */
    deleteStaleBatch(batch: StaleBatch): StaleRemoved {
      const result = queries.deleteStaleNames(batch);
      removed(result.names);
      return result;
    },

    /** The same without telling this store's listeners: for a second connection of the same file. */
    deleteStaleNames(batch: StaleBatch): StaleRemoved {
      const result = queries.deleteStaleNames(batch);
      if (result.names.length > 0) wrote();
      return result;
    },

    /** Rows another connection of the same file removed: listeners hear of them as of a write here. */
    removedElsewhere: removed,
  };
}
