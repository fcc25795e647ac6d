// The command line never migrates a file: `domains list` or `dnssec ds` run by the new binary
// on a file the old server still serves (or on the Rust server's, before the move) leaves it
// exactly as it was, so the old version keeps starting on it. `serve` migrates, once.
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cliInProcess } from "../support/cli.ts";
import { LEGACY_DB_FILE } from "../support/make-legacy-db.ts";

/** Its schema and every row of its tables, as text. */
function contents(path: string): string {
  const db = new Database(path, { readonly: true });
  try {
    const schema = db.query("SELECT type, name, sql FROM sqlite_master ORDER BY name").all() as { type: string; name: string }[];
    const rows = schema.filter((o) => o.type === "table").map((t) => db.query(`SELECT * FROM "${t.name}"`).all());
    return JSON.stringify({ schema, rows });
  } finally {
    db.close();
  }
}

const dir = mkdtempSync(join(tmpdir(), "regsrv-nomigrate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a file serve has not migrated yet (the Rust server's)", () => {
  test.each(["domains list", "domains show gw", "domains delete gw", "dnssec ds", "dnssec roll prepublish"])(
    "%s: exit 1 with one line, the file unchanged and no copy made",
    async (typed) => {
      const command = typed.split(" ");
      const path = join(dir, `${command.join("-")}.sqlite`);
      copyFileSync(LEGACY_DB_FILE, path);
      const before = contents(path);
      const result = await cliInProcess([...command, "--domain", "example.test", "--db", path, "--admin-port", "0"]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /the Rust registration server's database, not adopted yet: start the server on it once \(it copies the file first\); this command does not change it\n$/,
      );
      expect(result.stderr.split("\n")).toHaveLength(2);
      expect(contents(path)).toBe(before);
      expect(readdirSync(dir).filter((f) => f.includes(".pre-"))).toEqual([]);
    },
  );
});
