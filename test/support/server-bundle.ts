// The command whole-process tests run: src/main.ts and its worker threads bundled once by
// `bun build`, minified as `npm run build` ships them, then run by this Bun. A child started from
// the bundle reaches its ready line on about two thirds of the CPU time one started from source
// takes (no transpiling of some 600 modules in the main thread and each worker). The bundle is
// kept in the system's temporary directory under a hash of everything it is built from, so a run
// builds it at most once (the first file that needs it, ~0.4 s) and a change to src/ rebuilds it.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");
/** The entry points of `npm run build`: the server and the workers it starts by URL. */
const ENTRY_POINTS = ["main.ts", "store/sweep-worker.ts", "dns/worker.ts", "ops/census-worker.ts"];
const CACHE = join(tmpdir(), `regsrv-test-bundle-${process.getuid?.() ?? "user"}`);
/** Bundles older than this are removed when a new one is built. */
const KEEP_MS = 24 * 3600 * 1000;

/** Every file under `dir`, sorted. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** A hash of what the bundle is built from: the sources, the migrations, the dependencies' versions, this Bun. */
function sourceHash(): string {
  const hash = createHash("sha256").update(`${Bun.version} ${Bun.revision}\n`);
  const inputs = [...filesUnder(join(ROOT, "src")), ...filesUnder(join(ROOT, "drizzle")), join(ROOT, "package.json"), join(ROOT, "package-lock.json")];
  for (const path of inputs) {
    if (!existsSync(path)) continue;
    hash.update(`${relative(ROOT, path)}\n`).update(readFileSync(path));
  }
  return hash.digest("hex").slice(0, 24);
}

async function build(): Promise<string> {
  const dir = join(CACHE, sourceHash());
  if (existsSync(join(dir, "main.ts"))) return dir;
  mkdirSync(CACHE, { recursive: true });
  const partial = `${dir}.${process.pid}.${crypto.randomUUID()}`;
  const result = await Bun.build({
    entrypoints: ENTRY_POINTS.map((entry) => join(ROOT, "src", entry)),
    root: join(ROOT, "src"),
    outdir: partial,
    target: "bun",
    minify: { whitespace: true, syntax: true },
    // main.ts starts its workers by the URL of their source (./dns/worker.ts): same paths here.
    naming: { entry: "[dir]/[name].ts" },
  });
  if (!result.success) {
    rmSync(partial, { recursive: true, force: true });
    throw new AggregateError(result.logs, "test/support/server-bundle.ts: bun build of src/main.ts failed");
  }
  try {
    renameSync(partial, dir);
  } catch {
    // another test process built the same sources first
    rmSync(partial, { recursive: true, force: true });
  }
  for (const name of readdirSync(CACHE)) {
    const path = join(CACHE, name);
    if (path !== dir && Date.now() - statSync(path).mtimeMs > KEEP_MS) rmSync(path, { recursive: true, force: true });
  }
  return dir;
}

let built: Promise<string> | undefined;

/** `bun <bundle>/main.ts`: what startServer and runCli run unless told otherwise. */
export async function serverCommand(): Promise<string[]> {
  built ??= build();
  return [process.execPath, join(await built, "main.ts")];
}
