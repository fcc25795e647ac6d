// The DNS core (answering, wire format, sockets, cache, RRL) loads no database code: only the
// worker's lookup wiring (src/dns/worker.ts) may. Follows every value import, transitively;
// `import type` loads nothing at run time and is skipped.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../../src");
const VALUE_IMPORT = /^(?:import|export)\s+(?!type\b)[^;]*?\bfrom\s+"([^"]+)"/gm;

/** Every module `file` loads, as "package" or a path relative to src/. */
function loaded(file: string, seen = new Set<string>()): Set<string> {
  for (const [, spec] of readFileSync(file, "utf8").matchAll(VALUE_IMPORT)) {
    if (!spec.startsWith(".")) {
      seen.add(spec);
      continue;
    }
    const target = resolve(dirname(file), spec);
    const key = relative(SRC, target);
    if (seen.has(key)) continue;
    seen.add(key);
    loaded(target, seen);
  }
  return seen;
}

describe("DNS core", () => {
  const files = readdirSync(join(SRC, "dns")).filter((f) => f.endsWith(".ts") && f !== "worker.ts");

  test("no file under src/dns/ but worker.ts loads drizzle-orm or the store", () => {
    expect(files).toContain("zone.ts");
    for (const file of files) {
      const database = [...loaded(join(SRC, "dns", file))].filter((m) => m.startsWith("drizzle-orm") || m.startsWith("store/") || m === "bun:sqlite");
      expect({ file, database }).toEqual({ file, database: [] });
    }
  });
});
