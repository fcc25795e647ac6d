// /info's rows are kept in memory (src/store/info-cache.ts). Every write through the store must
// show in the very next /info read, for the row written and for rows sharing its account;
// a store without the cache, on the same connection, is the reference.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/store/db.ts";
import { createStore } from "../../src/store/domains.ts";
import { InfoCache } from "../../src/store/info-cache.ts";

const dir = mkdtempSync(join(tmpdir(), "info-cache-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const now = 1_800_000_000;
const name = (i: number) => `gw${i}.example.test.`;

describe("/info read cache", () => {
  test("after each kind of write, every token reads as from the database, and unchanged rows still come from memory", async () => {
    const db = openDatabase(join(dir, "writes.sqlite"));
    const store = createStore(db);
    const reference = createStore(db, { cacheInfo: false });
    const tokens: string[] = [];
    for (let i = 0; i < 12; i++) {
      const token = crypto.randomUUID();
      store.insertDomain({ name: name(i), token, description: `gateway ${i}`, mode: i % 2, timestamp: now - i * 1000 });
      tokens.push(token);
    }
    const id = (i: number) => store.findDomainByName(name(i))!.id;
    const verify = (i: number, email: string, optout: boolean) => {
      store.setPendingEmail(id(i), email, optout, `link-${i}-${email}`, now + 3600);
      for (const token of tokens) store.findInfoByToken(token); // warm again: the link alone must clear
      return store.verifyEmail(`link-${i}-${email}`, now);
    };
    // gw0 and gw1 share an account
    verify(0, "owner@example.org", false);
    verify(1, "owner@example.org", false);

    const writes: [string, () => unknown][] = [
      ["recordPing", () => store.recordPing(tokens[2], now + 1, "192.0.2.1")],
      ["recordPingGrouped", () => store.recordPingGrouped(tokens[2], now + 2, "2001:db8::1")],
      ["setDnsChallenge", () => store.setDnsChallenge(tokens[3], "challenge-value")],
      // the shared account's optout changes for gw0 too, though only gw1's row is written
      ["verifyEmail (shared account)", () => verify(1, "owner@example.org", true)],
      ["revokeEmail", () => store.revokeEmail(id(0))],
      ["setPendingEmail", () => store.setPendingEmail(id(4), "new@example.org", false, "pending-link", now + 3600)],
      ["setReclamationToken", () => store.setReclamationToken(id(5), "reclaim-5", now + 3600)],
      [
        "reclaimDomain",
        () => {
          tokens[5] = crypto.randomUUID();
          return store.reclaimDomain(name(5), "reclaim-5", tokens[5], "reclaimed", 1, now);
        },
      ],
      ["deleteByToken", () => store.deleteByToken(tokens[6])],
      [
        "deleteByReclamationToken",
        () => {
          store.setReclamationToken(id(7), "reclaim-7", now + 3600);
          return store.deleteByReclamationToken("reclaim-7", now);
        },
      ],
      ["deleteStaleBatch", () => store.deleteStaleBatch({ cutoff: now - 10_500, after: 0, limit: 100, scan: 1000 })],
      [
        "removedElsewhere",
        () => {
          // another connection (the sweep worker) deletes a row; the store hears of it after
          const other = createStore(openDatabase(join(dir, "writes.sqlite")));
          store.removedElsewhere(other.deleteStaleNames({ cutoff: now - 9_500, after: 0, limit: 100, scan: 1000 }).names);
        },
      ],
    ];
    const formerTokens = [...tokens];
    for (const [what, write] of writes) {
      for (const token of tokens) store.findInfoByToken(token); // warm
      expect(store.findInfoByToken(tokens[8])).toBe(store.findInfoByToken(tokens[8])); // from memory: the same object
      await write();
      for (const token of [...tokens, ...formerTokens]) expect(store.findInfoByToken(token), `${what}: ${token}`).toEqual(reference.findInfoByToken(token));
    }
    // a sweep batch of another connection that removed nothing leaves the rows in memory
    for (const token of tokens) store.findInfoByToken(token);
    store.removedElsewhere([]);
    expect(store.findInfoByToken(tokens[8])).toBe(store.findInfoByToken(tokens[8]));
    const kept = store.findInfoByToken(tokens[8]);
    store.removedElsewhere([]);
    expect(store.findInfoByToken(tokens[8])).toBe(kept); // the same object: not read again
    // the writes above changed what they should have (so the comparisons compared something)
    expect(store.findInfoByToken(tokens[0])).toMatchObject({ email: "", verified: false });
    expect(store.findInfoByToken(tokens[1])).toMatchObject({ email: "owner@example.org", optout: true });
    expect(store.findInfoByToken(tokens[2])).toMatchObject({ lastIp: "2001:db8::1", timestamp: now + 2 });
    expect(store.findInfoByToken(tokens[3])?.dnsChallenge).toBe("challenge-value");
    expect(store.findInfoByToken(formerTokens[5])).toBeUndefined();
    expect(store.findInfoByToken(tokens[5])?.description).toBe("reclaimed");
    expect([6, 7, 10, 11].map((i) => store.findInfoByToken(tokens[i]))).toEqual([undefined, undefined, undefined, undefined]);
  });

  test("an unknown token is not kept, and a full cache drops its oldest unread rows first", () => {
    const cache = new InfoCache(4);
    const info = (n: number) => ({
      name: name(n),
      token: `t${n}`,
      description: "",
      timestamp: n,
      dnsChallenge: "",
      verified: false,
      continent: "",
      mode: 0,
      lastIp: "",
      lastIpv4: "",
      lastIpv6: "",
      email: "",
      optout: false,
    });
    cache.set("t1", info(1));
    cache.set("t2", info(2));
    cache.set("t3", info(3)); // t1, t2 become the previous generation
    expect(cache.get("t1")?.timestamp).toBe(1); // read: moves back to the current one
    cache.set("t4", info(4)); // current (t3, t1) becomes previous; t2 goes
    cache.set("t5", info(5));
    expect([cache.get("t2"), cache.get("t1")?.timestamp, cache.get("t5")?.timestamp]).toEqual([undefined, 1, 5]);
    cache.forget("t1");
    expect(cache.get("t1")).toBeUndefined();
    const none = new InfoCache(0);
    none.set("t1", info(1));
    expect(none.size).toBe(0);
  });

  test("following a link that verifies nothing (unknown, expired, already followed) keeps /info's rows in memory", () => {
    const db = openDatabase(join(dir, "links.sqlite"));
    const store = createStore(db);
    const token = crypto.randomUUID();
    store.insertDomain({ name: name(0), token, description: "gateway", mode: 0, timestamp: now });
    const id = store.findDomainByName(name(0))!.id;
    store.setPendingEmail(id, "owner@example.org", false, "link-0", now + 3600);
    expect(store.verifyEmail("link-0", now).outcome).toBe("verified");
    const cached = store.findInfoByToken(token);
    expect(cached?.verified).toBe(true);
    expect(store.verifyEmail("link-0", now + 1).outcome).toBe("already");
    expect(store.verifyEmail("no-such-link", now).outcome).toBe("unknown");
    expect(store.verifyEmail("link-0", now + 3600).outcome).toBe("expired");
    expect(store.findInfoByToken(token)).toBe(cached);
    db.$client.close();
  });
});
