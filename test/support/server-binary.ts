// The command whole-process tests run: the single binary, built by the command line of
// `npm run build` (read from package.json, as .ci/release.sh reads it), so the tests run what
// ships. It is built once per state of the sources and kept in the system's temporary directory
// under a hash of everything it is built from; a change to src/ builds it anew (~1.5 s of CPU).
// The test processes of one run (bun test --parallel) share one build: the first takes a lock
// directory and builds, the others wait for the binary to appear.
//
// Why the binary and not `bun src/main.ts`: `--bytecode` spares each start parsing and compiling
// the bundle. A server reaches its ready line on ~0.68 s of CPU against ~0.88 s for the same code
// bundled and run by `bun`, ~1.3 s from source; `--version` on 0.05 s against 0.11 s.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");
const CACHE = join(tmpdir(), `regsrv-test-binary-${process.getuid?.() ?? "user"}`);
const NAME = "registration-server";
/** Builds not used for this long are removed when another is built (each is ~120 MB). */
const UNUSED_MS = 10 * 60 * 1000;
/** A lock older than this was left by a test process that died while building. */
const STALE_LOCK_MS = 120 * 1000;

/** `npm run build`'s arguments between `bun build` and `--outfile FILE`. */
function buildArguments(): string[] {
  const script: string = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts.build;
  const match = /^bun build (.+) --outfile \S+$/.exec(script);
  if (!match) throw new Error(`test/support/server-binary.ts: scripts.build is not "bun build ... --outfile FILE": ${script}`);
  return match[1].split(/\s+/);
}

/** Every file under `dir`, sorted. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** A hash of what the binary is built from: the sources, the migrations, the dependencies and build command, this Bun. */
function sourceHash(): string {
  const hash = createHash("sha256").update(`${Bun.version} ${Bun.revision}\n`);
  const inputs = [...filesUnder(join(ROOT, "src")), ...filesUnder(join(ROOT, "drizzle")), join(ROOT, "package.json"), join(ROOT, "package-lock.json")];
  for (const path of inputs) {
    if (!existsSync(path)) continue;
    hash.update(`${relative(ROOT, path)}\n`).update(readFileSync(path));
  }
  return hash.digest("hex").slice(0, 24);
}

async function compile(dir: string): Promise<void> {
  const partial = `${dir}.${process.pid}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const proc = Bun.spawn([process.execPath, "build", ...buildArguments(), "--outfile", join(partial, NAME)], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) {
    rmSync(partial, { recursive: true, force: true });
    throw new Error(`test/support/server-binary.ts: npm run build's command failed (exit ${code}):\n${stdout}${stderr}`);
  }
  renameSync(partial, dir);
}

/** Removes the builds of other sources that nobody used lately. */
function removeUnused(keep: string): void {
  for (const name of readdirSync(CACHE)) {
    const path = join(CACHE, name);
    if (path === keep || path === `${keep}.lock`) continue;
    try {
      if (Date.now() - statSync(path).mtimeMs > UNUSED_MS) rmSync(path, { recursive: true, force: true });
    } catch {
      // removed by another test process meanwhile
    }
  }
}

async function build(): Promise<string> {
  const dir = join(CACHE, sourceHash());
  const binary = join(dir, NAME);
  mkdirSync(CACHE, { recursive: true });
  const lock = `${dir}.lock`;
  for (const deadline = Date.now() + 3 * STALE_LOCK_MS; !existsSync(binary); ) {
    if (Date.now() > deadline) throw new Error(`test/support/server-binary.ts: no ${binary} after waiting for ${lock}`);
    try {
      mkdirSync(lock);
    } catch {
      // another test process builds it: wait, unless its lock is stale
      try {
        if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) rmSync(lock, { recursive: true, force: true });
      } catch {
        // the lock went meanwhile
      }
      await Bun.sleep(50);
      continue;
    }
    try {
      if (!existsSync(binary)) await compile(dir);
      removeUnused(dir);
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
  const now = new Date();
  utimesSync(dir, now, now); // in use: not removed by a build of other sources
  return binary;
}

let built: Promise<string> | undefined;

/** The compiled server: what startServer and runCli run unless told otherwise. */
export async function serverCommand(): Promise<string[]> {
  built ??= build();
  return [await built];
}
