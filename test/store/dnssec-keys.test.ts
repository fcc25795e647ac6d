// The zone's DNSSEC key in the database (SPEC 9): made once, the same key at every later start
// (whatever dns.dnssec_algorithm says by then), and carried by a backup.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSigner } from "../../src/dns/dnssec.ts";
import { backupDatabase } from "../../src/ops/backup.ts";
import { openDatabase } from "../../src/store/db.ts";
import { readSigningKey, signingKey } from "../../src/store/dnssec-keys.ts";

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

  test("a backup carries the key", () => {
    const path = join(dir, "c.sqlite");
    const db = openDatabase(path);
    const { key } = signingKey(db, "ecdsap256sha256", 5);
    db.$client.close();
    backupDatabase(path, join(dir, "c-backup.sqlite"));
    const restored = openDatabase(join(dir, "c-backup.sqlite"));
    const stored = readSigningKey(restored);
    expect(stored && dnskeyOf(stored)).toBe(dnskeyOf(key));
    restored.$client.close();
  });
});
