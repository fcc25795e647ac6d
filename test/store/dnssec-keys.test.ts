// The zone's DNSSEC key in the database (docs/dns.md, "The key"): made once, the same key at every later start
// (whatever dns.dnssec_algorithm says by then), and carried by a backup.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateSigningKey, loadSigner } from "../../src/dns/dnssec.ts";
import { backupDatabase } from "../../src/ops/backup.ts";
import { openDatabase } from "../../src/store/db.ts";
import { readKeys, readSigningKey, RolloverRefused, rollKeys, signingKey } from "../../src/store/dnssec-keys.ts";

const dir = mkdtempSync(join(tmpdir(), "regsrv-dnssec-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const dnskeyOf = (key: Parameters<typeof loadSigner>[0]) =>
  Buffer.from((loadSigner(key, { zone: "example.test", ttl: 1 }).dnskey() as { key: Uint8Array }).key).toString("hex");

describe("DNSSEC key store", () => {
  test("made at the first call, then the same key, also after the file is opened again", () => {
    const path = join(dir, "a.sqlite");
    let db = openDatabase(path);
    expect(readSigningKey(db)).toBeNull();
    const first = signingKey(db, "ecdsap256sha256", 1_800_000_000);
    expect(first.made).toBe(true);
    expect(first.key.algorithm).toBe("ecdsap256sha256");
    const again = signingKey(db, "ecdsap256sha256", 1_800_000_001);
    expect(again.made).toBe(false);
    expect(dnskeyOf(again.key)).toBe(dnskeyOf(first.key));
    db.$client.close();
    db = openDatabase(path);
    // another algorithm asked for later: the stored key keeps signing (its DS is at the registrar)
    const reopened = signingKey(db, "ed25519", 1_800_000_002);
    expect(reopened).toMatchObject({ made: false, key: { algorithm: "ecdsap256sha256" } });
    expect(dnskeyOf(reopened.key)).toBe(dnskeyOf(first.key));
    expect(readSigningKey(db)?.created).toBe(1_800_000_000);
    db.$client.close();
  });

  test("an Ed25519 key when that is asked for first", () => {
    const db = openDatabase(join(dir, "b.sqlite"));
    const { key } = signingKey(db, "ed25519", 1);
    expect(key.algorithm).toBe("ed25519");
    expect((loadSigner(key, { zone: "example.test", ttl: 1 }).dnskey() as { algorithm: number }).algorithm).toBe(15);
    db.$client.close();
  });

  test("a backup carries the key", async () => {
    const path = join(dir, "c.sqlite");
    const db = openDatabase(path);
    const { key } = signingKey(db, "ecdsap256sha256", 5);
    db.$client.close();
    await backupDatabase(path, join(dir, "c-backup.sqlite"));
    const restored = openDatabase(join(dir, "c-backup.sqlite"));
    const stored = readSigningKey(restored);
    expect(stored && dnskeyOf(stored)).toBe(dnskeyOf(key));
    restored.$client.close();
  });
});

describe("DNSSEC key rollover (double-DS: prepublish, switch, retire)", () => {
  const states = (db: ReturnType<typeof openDatabase>) => readKeys(db).map((k) => `${k.id}:${k.state}`);

  test("prepublish adds a published key beside the active one, switch swaps them, retire removes the old", () => {
    const db = openDatabase(join(dir, "roll.sqlite"));
    const { key: first } = signingKey(db, "ecdsap256sha256", 10);
    const added = rollKeys(db, "prepublish", "ecdsap256sha256", 20);
    expect(added).toMatchObject({ state: "published", created: 20, algorithm: "ecdsap256sha256" });
    expect(states(db)).toEqual(["1:active", `${added.id}:published`]);
    // the server still signs with the first key, and publishes the new one beside it
    const started = signingKey(db, "ecdsap256sha256", 21);
    expect(dnskeyOf(started.key)).toBe(dnskeyOf(first));
    expect(started.published.map((k) => dnskeyOf(k))).toEqual([dnskeyOf(added)]);
    rollKeys(db, "switch", "ecdsap256sha256", 30);
    expect(states(db)).toEqual(["1:retiring", `${added.id}:active`]);
    const switched = signingKey(db, "ecdsap256sha256", 31);
    expect(switched.made).toBe(false);
    expect(dnskeyOf(switched.key)).toBe(dnskeyOf(added));
    expect(switched.published.map((k) => dnskeyOf(k))).toEqual([dnskeyOf(first)]);
    const retired = rollKeys(db, "retire", "ecdsap256sha256", 40);
    expect(dnskeyOf(retired)).toBe(dnskeyOf(first));
    expect(states(db)).toEqual([`${added.id}:active`]);
    expect(signingKey(db, "ecdsap256sha256", 41).published).toEqual([]);
    db.$client.close();
  });

  test("each step out of order is refused with the next step named, and changes no row", () => {
    const db = openDatabase(join(dir, "roll-refused.sqlite"));
    expect(() => rollKeys(db, "prepublish", "ecdsap256sha256", 1)).toThrow(/no DNSSEC key yet/);
    signingKey(db, "ecdsap256sha256", 1);
    expect(() => rollKeys(db, "switch", "ecdsap256sha256", 2)).toThrow(
      new RolloverRefused("no key is pre-published: the first step is `dnssec roll prepublish`"),
    );
    expect(() => rollKeys(db, "retire", "ecdsap256sha256", 2)).toThrow(/no rollover is under way: the first step is `dnssec roll prepublish`/);
    expect(states(db)).toEqual(["1:active"]);
    rollKeys(db, "prepublish", "ecdsap256sha256", 3);
    const afterPrepublish = states(db);
    expect(() => rollKeys(db, "prepublish", "ecdsap256sha256", 4)).toThrow(/pre-published already: the next step is `dnssec roll switch`/);
    expect(() => rollKeys(db, "retire", "ecdsap256sha256", 4)).toThrow(/does not sign yet: the next step is `dnssec roll switch`/);
    expect(states(db)).toEqual(afterPrepublish);
    rollKeys(db, "switch", "ecdsap256sha256", 5);
    const afterSwitch = states(db);
    expect(() => rollKeys(db, "switch", "ecdsap256sha256", 6)).toThrow(/switched already: the next step is `dnssec roll retire`/);
    expect(() => rollKeys(db, "prepublish", "ecdsap256sha256", 6)).toThrow(/not finished: the next step is `dnssec roll retire`/);
    expect(states(db)).toEqual(afterSwitch);
    db.$client.close();
  });

  test("the pre-published key has dns.dnssec_algorithm's algorithm: a rollover can change it", () => {
    const db = openDatabase(join(dir, "roll-algorithm.sqlite"));
    signingKey(db, "ecdsap256sha256", 1);
    expect(rollKeys(db, "prepublish", "ed25519", 2).algorithm).toBe("ed25519");
    db.$client.close();
  });

  test("a row from before the state column (migration 0009) is the active key", () => {
    const db = openDatabase(join(dir, "roll-legacy.sqlite"));
    db.$client.run("INSERT INTO dnssec_keys (algorithm, private_key, created) VALUES (?, ?, ?)", [
      "ed25519",
      Buffer.from(generateSigningKey("ed25519").pkcs8),
      7,
    ]);
    expect(readSigningKey(db)).toMatchObject({ state: "active", algorithm: "ed25519", created: 7 });
    db.$client.close();
  });
});
