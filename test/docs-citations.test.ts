// Citations a reader can follow: code comments, tests, bench scripts, README and docs/ cite the
// contract by path and heading (`docs/dns.md, "Zone transfers"`), never by a section number of
// a spec file or an issue number of a tracker that is not in the repository. A link a reader
// can open (https://github.com/<owner>/<repo>/issues/<n>) is fine. Each cited docs/ file must
// exist, and a heading cited beside it (`docs/<file>.md, "<heading>"`) must be one of its own.
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

const ROOT = join(import.meta.dir, "..");
const ROOTS = ["src", "test", "bench", "docs", ".ci", "README.md"];
/** Written by the test runner, not by people. */
const SKIPPED = new Set(["test/timings.json"]);

// The pattern cannot match its own source text: "SPEC(" and "[Ii]ssue" are not what it looks for.
const UNREADABLE = /SPEC( section)? ?\d|\b[Ii]ssue \d|\b[Ff]indings? \d/;
const OPENABLE = /https?:\/\/github\.com\/[^/\s]+\/[^/\s]+\/issues\/\d+/g;
const DOCS_PATH = /\bdocs\/([\w.-]+\.md)\b/g;
const DOCS_HEADING = /\bdocs\/([\w.-]+\.md)`?,? "([^"]+)"/g;

/** Every text file under ROOTS, as [path from the root, text]; node_modules and binary files left out. */
function files(): [string, string][] {
  const found: [string, string][] = [];
  const visit = (path: string) => {
    const name = relative(ROOT, path);
    if (SKIPPED.has(name) || path.split("/").includes("node_modules")) return;
    const entries = (() => {
      try {
        return readdirSync(path, { withFileTypes: true });
      } catch {
        return null;
      }
    })();
    if (entries) {
      for (const entry of entries) visit(join(path, entry.name));
      return;
    }
    const text = readFileSync(path, "utf8");
    if (!text.includes("\0")) found.push([name, text]);
  };
  for (const root of ROOTS) visit(join(ROOT, root));
  return found;
}

/** Each line of each file that `check` finds fault with, as `file:line: why`. */
function faults(check: (line: string) => string | null): string[] {
  const out: string[] = [];
  for (const [name, text] of files()) {
    text.split("\n").forEach((line, i) => {
      const why = check(line);
      if (why) out.push(`${name}:${i + 1}: ${why}`);
    });
  }
  return out;
}

/** The headings of a docs/ file, lower-cased, without their #s. */
const headings = (file: string) =>
  readFileSync(join(ROOT, "docs", file), "utf8")
    .split("\n")
    .filter((line) => /^#{1,6} /.test(line))
    .map((line) => line.replace(/^#+ /, "").trim().toLowerCase());

test("nothing cites a spec section or an issue number a reader cannot open", () => {
  expect(files().length).toBeGreaterThan(100);
  const found = faults((line) => (UNREADABLE.test(line.replace(OPENABLE, "")) ? line.trim() : null));
  expect(found).toEqual([]);
});

test("every docs/ file cited in src/, test/, bench/, .ci/ and README exists, with the heading cited beside it", () => {
  const found = faults((line) => {
    for (const [, file] of line.matchAll(DOCS_PATH)) if (!existsSync(join(ROOT, "docs", file))) return `no docs/${file}`;
    for (const [, file, heading] of line.matchAll(DOCS_HEADING)) {
      if (!existsSync(join(ROOT, "docs", file))) continue;
      if (!headings(file).some((h) => h.includes(heading.toLowerCase()))) return `docs/${file} has no heading "${heading}"`;
    }
    return null;
  });
  expect(found).toEqual([]);
});
