// One function per query the API, DNS and expiry need, and nothing else: no caches, no
// listeners (store/domains.ts adds those). Statements are prepared once: drizzle's builder
// would rebuild and re-prepare the SQL on every call.
import { and, asc, eq, gt, gte, inArray, lt, lte, ne, or, Placeholder, sql, type SQL } from "drizzle-orm";
import type { SQLQueryBindings } from "bun:sqlite";
import type { GatewayRecord } from "../gateway-data.ts";
import type { Db } from "./db.ts";
import { accounts, domains, type Domain } from "./schema.ts";

const p = sql.placeholder;
// drizzle types .set() values as plain values; a placeholder wrapped in sql`` binds the same way.
const v = (name: string) => sql`${sql.placeholder(name)}`;

export interface NewDomain {
  name: string;
  token: string;
  description: string;
  mode: number;
  timestamp: number;
}

/** One ping's or dyndns2 update's write: `ip` becomes last_ip; an address of each family given (else null) replaces that family's. */
export interface PingWrite {
  token: string;
  timestamp: number;
  ip: string;
  ipv4: string | null;
  ipv6: string | null;
}

/** What a ping did to its row: `moved` when an address changed (DNS answers differ), not only the last-seen time. */
export interface PingResult {
  /** full name with its trailing dot */
  name: string;
  moved: boolean;
}

/** What /info shows of a domain and its account. */
export interface DomainInfo {
  name: string;
  token: string;
  description: string;
  timestamp: number;
  dnsChallenge: string;
  verified: boolean;
  continent: string;
  mode: number;
  lastIp: string;
  lastIpv4: string;
  lastIpv6: string;
  /** the account's address; "" for the email-less account */
  email: string;
  optout: boolean;
}

/**
 * One step of the expiry's walk over the domains in id order. Nothing indexes the last-seen
 * time (every ping would move its entry), so a sweep reads each row once, a window at a time.
 */
export interface StaleBatch {
  /** rows last seen before this (Unix seconds) are removed */
  cutoff: number;
  /** the walk goes on after this id: 0 at the start, then the previous batch's `next` */
  after: number;
  /** remove at most this many rows */
  limit: number;
  /** read at most this many rows, so a batch stays short where few rows are stale */
  scan: number;
}

export interface StaleRemoved {
  /** full names of the removed domains */
  names: string[];
  /** `after` for the next batch; null once the walk has passed the last row */
  next: number | null;
}

/** A domain's pending address and its verification link, as setPendingEmail stores them. */
export interface PendingEmail {
  email: string;
  optout: boolean;
  link: string;
  expires: number;
}

/** What a sweep would remove, counted before it removes anything (expiry.max_fraction). */
export interface StaleCensus {
  /** all domains */
  total: number;
  /** domains last seen before the cutoff */
  stale: number;
  /** the lowest and highest id among them (null when none): the sweep walks only this range */
  first: number | null;
  last: number | null;
}

/** What following a verification link did; `name` is the full name with its trailing dot. */
export type VerificationOutcome = { outcome: "verified" | "already"; name: string; email: string } | { outcome: "unknown" | "expired" };

/**
 * Names in the expiry warning window (expiry.warn_days) whose verified, not opted-out owner has
 * not been warned of this silence: a page in id order after `after`.
 */
export interface QuietQuery {
  /** last seen before this (Unix seconds): in the window */
  warnBefore: number;
  /** last seen before this: due to be freed, no longer warned */
  freeBefore: number;
  after: number;
  limit: number;
}

/** A quiet name and what its warning needs. */
export interface QuietName {
  id: number;
  /** full name with its trailing dot */
  name: string;
  /** its last ping: the silence the warning is about */
  timestamp: number;
  /** the verified owner's address */
  email: string;
  /** a keep link stored by an earlier attempt ("" none), and when it expires */
  keepToken: string;
  keepExpires: number;
}

/** What following a keep link did; `timestamp` is the name's last ping (or keep) afterwards. */
export type KeepOutcome = { outcome: "kept" | "already"; name: string; timestamp: number } | { outcome: "unknown" | "expired" };

/** A page of the operator's listing (`domains list`): rows in id order after `after`. */
export interface DomainPage {
  rows: (Domain & { email: string })[];
  /** `after` for the next page; null after the last row */
  next: number | null;
}

export type Queries = ReturnType<typeof createQueries>;

/** DNS's one read: a gateway row by full name. Also on a connection of its own (openLookupDatabase). */
export function createGatewayLookup(db: Db): (name: string) => GatewayRecord | undefined {
  const gatewayByName = db
    .select({
      mode: domains.mode,
      lastIp: domains.lastIp,
      lastIpv4: domains.lastIpv4,
      lastIpv6: domains.lastIpv6,
      dnsChallenge: domains.dnsChallenge,
      token: domains.token,
    })
    .from(domains)
    .where(eq(domains.name, p("name")))
    .prepare();
  return (name) => gatewayByName.get({ name });
}

export function createQueries(db: Db) {
  const sqlite = db.$client;

  const byToken = db
    .select()
    .from(domains)
    .where(and(eq(domains.token, p("token")), ne(domains.token, "")))
    .prepare();
  // /info in one statement, read as bare rows: drizzle's per-call placeholder filling and row
  // mapping cost more than the lookup itself on the API's busiest read.
  const accountColumn = (column: typeof accounts.email | typeof accounts.optout): SQL =>
    sql`(select ${column} from ${accounts} where ${accounts.id} = ${domains.accountId})`;
  const infoByToken = direct(
    db
      .select({
        name: domains.name,
        token: domains.token,
        description: domains.description,
        timestamp: domains.timestamp,
        dnsChallenge: domains.dnsChallenge,
        verified: domains.verified,
        continent: domains.continent,
        mode: domains.mode,
        lastIp: domains.lastIp,
        lastIpv4: domains.lastIpv4,
        lastIpv6: domains.lastIpv6,
        email: accountColumn(accounts.email),
        optout: accountColumn(accounts.optout),
      })
      .from(domains)
      .where(and(eq(domains.token, p("token")), ne(domains.token, ""))),
  );
  const byName = db
    .select()
    .from(domains)
    .where(eq(domains.name, p("name")))
    .prepare();
  const findGatewayByName = createGatewayLookup(db);
  const accountEmail = db
    .select({ email: accounts.email, optout: accounts.optout })
    .from(accounts)
    .where(eq(accounts.id, p("id")))
    .prepare();
  const accountByEmail = db
    .select({ id: accounts.id })
    .from(accounts)
    .where(eq(accounts.email, p("email")))
    .prepare();
  const insertAccount = db
    .insert(accounts)
    .values({ email: p("email"), optout: p("optout") })
    .onConflictDoNothing()
    .prepare();
  const updateAccountOptout = db
    .update(accounts)
    .set({ optout: v("optout") })
    .where(eq(accounts.id, p("id")))
    .prepare();
  const insertDomain = db
    .insert(domains)
    .values({
      name: p("name"),
      accountId: p("accountId"),
      token: p("token"),
      description: p("description"),
      timestamp: p("timestamp"),
      mode: p("mode"),
    })
    .onConflictDoNothing({ target: domains.name })
    .returning({ id: domains.id })
    .prepare();
  // The API's busiest write, also run bare (see infoByToken). A family not given keeps its address.
  // Most pings come from the address the row holds already: the first statement then moves the
  // last-seen time alone, which no DNS answer, journal entry or cached answer depends on (and
  // no trigger sees); where it matches nothing, the second writes the moved addresses.
  const sameToken = and(eq(domains.token, p("token")), ne(domains.token, ""));
  const newIpv4 = sql`coalesce(${p("ipv4")}, ${domains.lastIpv4})`;
  const newIpv6 = sql`coalesce(${p("ipv6")}, ${domains.lastIpv6})`;
  const pingStaying = direct(
    db
      .update(domains)
      .set({ timestamp: v("timestamp") })
      .where(and(sameToken, eq(domains.lastIp, p("ip")), eq(domains.lastIpv4, newIpv4), eq(domains.lastIpv6, newIpv6)))
      .returning({ name: domains.name }),
  );
  const pingMoving = direct(
    db
      .update(domains)
      .set({ timestamp: v("timestamp"), lastIp: v("ip"), lastIpv4: newIpv4, lastIpv6: newIpv6 })
      .where(sameToken)
      .returning({ name: domains.name }),
  );
  const pinged = (values: PingWrite): PingResult | undefined => {
    const stayed = pingStaying.values(values)[0]?.[0] as string | undefined;
    if (stayed !== undefined) return { name: stayed, moved: false };
    const moved = pingMoving.values(values)[0]?.[0] as string | undefined;
    return moved === undefined ? undefined : { name: moved, moved: true };
  };
  const setChallenge = db
    .update(domains)
    .set({ dnsChallenge: v("challenge") })
    .where(and(eq(domains.token, p("token")), ne(domains.token, "")))
    .returning({ name: domains.name })
    .prepare();
  const deleteByToken = db
    .delete(domains)
    .where(and(eq(domains.token, p("token")), ne(domains.token, "")))
    .returning({ name: domains.name })
    .prepare();
  const deleteByName = db
    .delete(domains)
    .where(eq(domains.name, p("name")))
    .returning({ name: domains.name })
    .prepare();
  const page = db
    .select({ domain: domains, email: accounts.email })
    .from(domains)
    .innerJoin(accounts, eq(accounts.id, domains.accountId))
    .where(gt(domains.id, p("after")))
    .orderBy(asc(domains.id))
    .limit(p("limit"))
    .prepare();
  const deleteByReclamation = db
    .delete(domains)
    .where(and(eq(domains.reclamationToken, p("token")), ne(domains.reclamationToken, ""), gt(domains.reclamationExpires, p("now"))))
    .returning({ name: domains.name })
    .prepare();
  const reclaim = db
    .update(domains)
    .set({
      token: v("newToken"),
      description: v("description"),
      mode: v("mode"),
      timestamp: v("now"),
      reclamationToken: "",
      reclamationExpires: 0,
      dnsChallenge: "",
      // A pending address was asked for with the old token: its link must not make its holder the owner.
      pendingEmail: "",
      pendingOptout: false,
      verificationToken: sql`CASE WHEN ${domains.pendingEmail} <> '' THEN '' ELSE ${domains.verificationToken} END`,
      verificationExpires: sql`CASE WHEN ${domains.pendingEmail} <> '' THEN 0 ELSE ${domains.verificationExpires} END`,
    })
    .where(
      and(eq(domains.name, p("name")), eq(domains.reclamationToken, p("token")), ne(domains.reclamationToken, ""), gt(domains.reclamationExpires, p("now"))),
    )
    .returning({ id: domains.id })
    .prepare();
  const setReclamation = db
    .update(domains)
    .set({ reclamationToken: v("token"), reclamationExpires: v("expires") })
    .where(eq(domains.id, p("id")))
    .prepare();
  // A new reclamation token only where none is live: nobody but its use or its expiry voids one.
  const issueReclamation = db
    .update(domains)
    .set({ reclamationToken: v("token"), reclamationExpires: v("expires") })
    .where(and(eq(domains.id, p("id")), or(eq(domains.reclamationToken, ""), lte(domains.reclamationExpires, p("now")))))
    .returning({ id: domains.id })
    .prepare();
  const reclamationOf = db
    .select({ token: domains.reclamationToken, expires: domains.reclamationExpires })
    .from(domains)
    .where(eq(domains.id, p("id")))
    .prepare();
  const withdrawReclamation = db
    .update(domains)
    .set({ reclamationToken: v("previousToken"), reclamationExpires: v("previousExpires") })
    .where(and(eq(domains.id, p("id")), eq(domains.reclamationToken, p("token"))))
    .prepare();
  const setPending = db
    .update(domains)
    .set({ pendingEmail: v("email"), pendingOptout: v("optout"), verificationToken: v("link"), verificationExpires: v("expires") })
    .where(eq(domains.id, p("id")))
    .prepare();
  const withdrawPending = db
    .update(domains)
    .set({ pendingEmail: v("email"), pendingOptout: v("optout"), verificationToken: v("previousLink"), verificationExpires: v("expires") })
    .where(and(eq(domains.id, p("id")), eq(domains.verificationToken, p("link"))))
    .prepare();
  // Live or expired: the page tells the two apart.
  const byVerification = db
    .select()
    .from(domains)
    .where(and(eq(domains.verificationToken, p("link")), ne(domains.verificationToken, "")))
    .prepare();
  // The used link stays on the row until it expires or a new /setemail replaces it, so a second
  // click (a mail scanner often opens links first) can say "already confirmed".
  const markVerified = db
    .update(domains)
    .set({ accountId: v("accountId"), verified: true, pendingEmail: "", pendingOptout: false })
    .where(eq(domains.id, p("id")))
    .prepare();
  const revoke = db
    .update(domains)
    .set({ accountId: v("accountId"), verified: false, verificationToken: "", verificationExpires: 0, pendingEmail: "", pendingOptout: false })
    .where(eq(domains.id, p("id")))
    .prepare();
  // Stores the link a warning is about to carry, unless the name was pinged (or warned) meanwhile.
  const prepareWarning = db
    .update(domains)
    .set({ keepToken: v("token"), keepExpires: v("expires") })
    .where(and(eq(domains.id, p("id")), eq(domains.timestamp, p("timestamp")), ne(domains.warnedFor, domains.timestamp)))
    .returning({ id: domains.id })
    .prepare();
  const markWarned = db
    .update(domains)
    .set({ warnedFor: v("timestamp") })
    .where(and(eq(domains.id, p("id")), eq(domains.keepToken, p("token"))))
    .prepare();
  // Live, used or expired: the page tells them apart.
  const byKeep = db
    .select({ id: domains.id, name: domains.name, timestamp: domains.timestamp, keepExpires: domains.keepExpires })
    .from(domains)
    .where(and(eq(domains.keepToken, p("link")), ne(domains.keepToken, "")))
    .prepare();
  // A keep is a ping without an address: the last-seen time moves (never back), nothing DNS answers changes.
  const keep = db
    .update(domains)
    .set({ timestamp: sql`max(${domains.timestamp}, ${p("now")})`, keepExpires: 0 })
    .where(eq(domains.id, p("id")))
    .returning({ timestamp: domains.timestamp })
    .prepare();

  /** The account a domain belongs to before any email is verified (the Rust server's convention). */
  function noEmailAccountId(): number {
    insertAccount.run({ email: "", optout: true });
    return accountByEmail.get({ email: "" })!.id;
  }

  function accountIdFor(email: string, optout: boolean): number {
    insertAccount.run({ email, optout });
    const id = accountByEmail.get({ email })!.id;
    updateAccountOptout.run({ id, optout });
    return id;
  }

  /** A drizzle-built query as a bare bun:sqlite statement; values bind by placeholder name. */
  function direct(query: { toSQL(): { sql: string; params: unknown[] } }) {
    const { sql: text, params } = query.toSQL();
    const statement = sqlite.prepare(text);
    const bind = (values: object) =>
      params.map((param) => (param instanceof Placeholder ? (values as Record<string, unknown>)[param.name] : param)) as SQLQueryBindings[];
    return {
      values: (values: object) => statement.values(...bind(values)),
      run: (values: object) => statement.run(...bind(values)),
    };
  }

  return {
    ...createSweepQueries(db),
    findDomainByToken(token: string): Domain | undefined {
      return token ? byToken.get({ token }) : undefined;
    },

    findInfoByToken(token: string): DomainInfo | undefined {
      if (!token) return undefined;
      const row = infoByToken.values({ token })[0];
      if (!row) return undefined;
      const [name, sameToken, description, timestamp, dnsChallenge, verified, continent, mode, lastIp, lastIpv4, lastIpv6, email, optout] = row as [
        string,
        string,
        string,
        number,
        string,
        number,
        string,
        number,
        string,
        string,
        string,
        string | null,
        number | null,
      ];
      return {
        name,
        token: sameToken,
        description,
        timestamp,
        dnsChallenge,
        verified: verified === 1,
        continent,
        mode,
        lastIp,
        lastIpv4,
        lastIpv6,
        email: email ?? "",
        optout: optout !== 0,
      };
    },

    findDomainByName(name: string): Domain | undefined {
      return byName.get({ name });
    },

    findGatewayByName,

    /** The verified owner's email of a domain, or null. */
    verifiedEmail(domain: Domain): string | null {
      if (!domain.verified) return null;
      const account = accountEmail.get({ id: domain.accountId });
      return account && account.email !== "" ? account.email : null;
    },

    /** Inserts a new domain; false when the name is already taken. */
    insertDomain(domain: NewDomain): boolean {
      return sqlite.transaction(() => insertDomain.all({ ...domain, accountId: noEmailAccountId() }).length === 1)();
    },

    /** Hands a taken name to whoever holds its live reclamation token; false when none matches. */
    reclaimDomain(name: string, reclamationToken: string, newToken: string, description: string, mode: number, now: number): boolean {
      if (!reclamationToken) return false;
      return reclaim.all({ name, token: reclamationToken, newToken, description, mode, now }).length === 1;
    },

    setReclamationToken(id: number, token: string, expires: number): void {
      setReclamation.run({ id, token, expires });
    },

    /**
     * The domain's live reclamation token: the one it holds, or else `token` (stored now with
     * `expires`). `issued` says which; undefined when the row is gone.
     */
    issueReclamationToken(id: number, token: string, expires: number, now: number): { token: string; expires: number; issued: boolean } | undefined {
      return sqlite.transaction(() => {
        if (issueReclamation.all({ id, token, expires, now }).length === 1) return { token, expires, issued: true };
        const live = reclamationOf.get({ id });
        return live && { ...live, issued: false };
      })();
    },

    /** Puts back what a domain held before `token` was issued, unless `token` is gone already. */
    withdrawReclamationToken(id: number, token: string, previous: { token: string; expires: number }): void {
      withdrawReclamation.run({ id, token, previousToken: previous.token, previousExpires: previous.expires });
    },

    /** One ping's UPDATE: the pinged row's full name and whether an address moved; undefined when no row has this token. */
    recordPing: pinged,

    setDnsChallenge(token: string, challenge: string): string | undefined {
      return token ? setChallenge.all({ token, challenge })[0]?.name : undefined;
    },

    deleteByToken(token: string): string | undefined {
      return token ? deleteByToken.all({ token })[0]?.name : undefined;
    },

    /** The operator's removal (`domains delete`): the removed row's full name, undefined when none had it. */
    deleteByName(name: string): string | undefined {
      return deleteByName.all({ name })[0]?.name;
    },

    /** Up to `limit` domains after id `after`, each with its account's email ("" for none). */
    listDomains(after: number, limit: number): DomainPage {
      const rows = page.all({ after, limit }).map(({ domain, email }) => ({ ...domain, email }));
      return { rows, next: rows.length === limit ? rows[rows.length - 1].id : null };
    },

    deleteByReclamationToken(token: string, now: number): string | undefined {
      return token ? deleteByReclamation.all({ token, now })[0]?.name : undefined;
    },

    setPendingEmail(id: number, email: string, optout: boolean, link: string, expires: number): void {
      setPending.run({ id, email, optout, link, expires });
    },

    /** Puts back the pending address a domain held before `link` was stored, unless `link` is gone already. */
    withdrawPendingEmail(id: number, link: string, previous: PendingEmail): void {
      withdrawPending.run({ id, link, email: previous.email, optout: previous.optout, previousLink: previous.link, expires: previous.expires });
    },

    /**
     * Follows a verification link: the pending address becomes the domain's verified owner. A
     * link already followed, within its lifetime, reports the address it confirmed.
     */
    verifyEmail(link: string, now: number): VerificationOutcome {
      if (!link) return { outcome: "unknown" };
      return sqlite.transaction((): VerificationOutcome => {
        const domain = byVerification.get({ link });
        if (!domain) return { outcome: "unknown" };
        if (domain.verificationExpires <= now) return { outcome: "expired" };
        if (domain.pendingEmail) {
          markVerified.run({ id: domain.id, accountId: accountIdFor(domain.pendingEmail, domain.pendingOptout) });
          return { outcome: "verified", name: domain.name, email: domain.pendingEmail };
        }
        const account = domain.verified ? accountEmail.get({ id: domain.accountId }) : undefined;
        return account?.email ? { outcome: "already", name: domain.name, email: account.email } : { outcome: "unknown" };
      })();
    },

    revokeEmail(id: number): void {
      sqlite.transaction(() => revoke.run({ id, accountId: noEmailAccountId() }))();
    },

    /**
     * Stores `token` as the name's keep link (until `expires`) before its warning is sent; false
     * when the name was pinged, kept or warned since it was read.
     */
    prepareWarning(id: number, timestamp: number, token: string, expires: number): boolean {
      return prepareWarning.all({ id, timestamp, token, expires }).length === 1;
    },

    /** The warning carrying `token` went out: this silence (last ping `timestamp`) is not warned again. */
    markWarned(id: number, token: string, timestamp: number): void {
      markWarned.run({ id, token, timestamp });
    },

    /** Follows a keep link: once within its lifetime it counts as a ping; again, it says so. */
    keepName(link: string, now: number): KeepOutcome {
      if (!link) return { outcome: "unknown" };
      return sqlite.transaction((): KeepOutcome => {
        const row = byKeep.get({ link });
        if (!row) return { outcome: "unknown" };
        if (row.keepExpires === 0) return { outcome: "already", name: row.name, timestamp: row.timestamp };
        if (row.keepExpires <= now) return { outcome: "expired" };
        const [kept] = keep.all({ id: row.id, now });
        return { outcome: "kept", name: row.name, timestamp: kept.timestamp };
      })();
    },
  };
}

/**
 * The expiry's queries alone: what the sweep thread (store/sweep-worker.ts) prepares on its own
 * connection, instead of every statement createQueries holds. createQueries includes them.
 */
export function createSweepQueries(db: Db) {
  // Expiry warnings (expiry.warn_days): a bounded page, read on the sweep's connection; the rows
  // are walked in id order (nothing indexes the last ping), stopping at `limit` matches.
  const quiet = db
    .select({
      id: domains.id,
      name: domains.name,
      timestamp: domains.timestamp,
      email: accounts.email,
      keepToken: domains.keepToken,
      keepExpires: domains.keepExpires,
    })
    .from(domains)
    .innerJoin(accounts, eq(accounts.id, domains.accountId))
    .where(
      and(
        gt(domains.id, p("after")),
        lt(domains.timestamp, p("warnBefore")),
        gte(domains.timestamp, p("freeBefore")),
        ne(domains.warnedFor, domains.timestamp),
        eq(domains.verified, true),
        ne(accounts.email, ""),
        eq(accounts.optout, false),
      ),
    )
    .orderBy(asc(domains.id))
    .limit(p("limit"))
    .prepare();
  // The expiry's window: the last id of the next `scan` rows, and how many there are.
  const scanWindow = db
    .select({ id: domains.id })
    .from(domains)
    .where(gt(domains.id, p("after")))
    .orderBy(asc(domains.id))
    .limit(p("scan"))
    .as("scan_window");
  const staleWindow = db
    .select({ last: sql<number | null>`max(${scanWindow.id})`, rows: sql<number>`count(*)` })
    .from(scanWindow)
    .prepare();
  // One read of every row: a single statement costs far less than the walk's batches, and
  // bounds the walk to the ids where stale rows are.
  const isStale = sql`${domains.timestamp} < ${p("cutoff")}`;
  const staleCensus = db
    .select({
      total: sql<number>`count(*)`,
      stale: sql<number>`count(*) filter (where ${isStale})`,
      first: sql<number | null>`min(${domains.id}) filter (where ${isStale})`,
      last: sql<number | null>`max(${domains.id}) filter (where ${isStale})`,
    })
    .from(domains)
    .prepare();
  // Fixed statements, bound per batch: building an IN list of ids per batch prepared a new
  // 500-parameter statement each time, whose native memory waited for the GC.
  const deleteStale = db
    .delete(domains)
    .where(
      inArray(
        domains.id,
        db
          .select({ id: domains.id })
          .from(domains)
          .where(and(gt(domains.id, p("after")), lte(domains.id, p("last")), lt(domains.timestamp, p("cutoff"))))
          .orderBy(asc(domains.id))
          .limit(p("limit")),
      ),
    )
    .returning({ id: domains.id, name: domains.name })
    .prepare();

  return {
    /** How many domains there are and how many were last seen before `cutoff`, before a sweep removes any. */
    countStale(cutoff: number): StaleCensus {
      return staleCensus.get({ cutoff })!;
    },

    /** Up to `limit` names in the warning window whose owner was not warned of this silence. */
    quietNames(query: QuietQuery): QuietName[] {
      return quiet.all({ ...query });
    },

    /** One step of the expiry's walk: removes stale domains among the next rows after `batch.after`. */
    deleteStaleNames({ cutoff, after, limit, scan }: StaleBatch): StaleRemoved {
      const window = staleWindow.get({ after, scan });
      if (!window || window.last === null) return { names: [], next: null };
      // The delete reads each row's timestamp itself: a row pinged since the window was read stays.
      const rows = deleteStale.all({ cutoff, after, last: window.last, limit });
      const names = rows.map((row) => row.name);
      // Stopped at the limit: the rest of the window is read by the next batch.
      if (rows.length === limit) return { names, next: Math.max(...rows.map((row) => row.id)) };
      return { names, next: window.rows < scan ? null : window.last };
    },
  };
}

/** How many domains there are of each mode (a full scan: /metrics runs it off the main thread, now and then). */
export function countDomainsByMode(db: Db): { mode: number; n: number }[] {
  return db.select({ mode: domains.mode, n: sql<number>`count(*)` }).from(domains).groupBy(domains.mode).all();
}
