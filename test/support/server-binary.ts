// The command whole-process tests run: the single binary, built by the command line of
// `npm run build` (read from package.json, as .ci/release.sh reads it), so the tests run what
// ships. It is built once per state of the sources and kept in the system's temporary directory
// under a hash of everything it is built from; a change to src/ builds it anew (~1.5 s of CPU).
// The test processes of one run (bun test --parallel) share one build: the first makes a lock
// file holding its pid and builds, the others wait for the binary to appear (or for the lock's
// process to be gone: a builder killed by Ctrl-C does not hold up the next run).
//
// Why the binary and not `bun src/main.ts`: `--bytecode` spares each start parsing and compiling
// the bundle. A server reaches its ready line on ~0.68 s of CPU against ~0.88 s for the same code
// bundled and run by `bun`, ~1.3 s from source; `--version` on 0.05 s against 0.11 s.
import { createHash } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");
const CACHE = join(tmpdir(), `regsrv-test-binary-${process.getuid?.() ?? "user"}`);
const NAME = "registration-server";
/** Builds not used for this long are removed when another is built (each is ~120 MB). */
const UNUSED_MS = 10 * 60 * 1000;
/** A lock older than this was left by a builder that hangs: no build takes that long. */
const STALE_LOCK_MS = 5 * 60 * 1000;

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

/** A hash of what the binary is built from: the sources, the migrations, the dependencies and build command, the module paths, this Bun. */
function sourceHash(): string {
  const hash = createHash("sha256").update(`${Bun.version} ${Bun.revision}\n`);
  const inputs = [
    ...filesUnder(join(ROOT, "src")),
    ...filesUnder(join(ROOT, "drizzle")),
    ...["package.json", "package-lock.json", "tsconfig.json", "bunfig.toml"].map((name) => join(ROOT, name)),
  ];
  for (const path of inputs) {
    if (!existsSync(path)) continue;
    hash.update(`${relative(ROOT, path)}\n`).update(readFileSync(path));
  }
  return hash.digest("hex").slice(0, 24);
}

async function compile(dir: string): Promise<void> {
  const partial = `${dir}.${process.pid}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true, mode: 0o755 });
  const proc = Bun.spawn([process.execPath, "build", ...buildArguments(), "--outfile", join(partial, NAME)], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) {
    rmSync(partial, { recursive: true, force: true });
    throw new Error(`test/support/server-binary.ts: npm run build's command failed (exit ${code}):\n${stdout}${stderr}`);
  }
  // the refusal tests run the binary as nobody, whatever the umask
  chmodSync(partial, 0o755);
  chmodSync(join(partial, NAME), 0o755);
  try {
    renameSync(partial, dir);
  } catch (e) {
    rmSync(partial, { recursive: true, force: true });
    // another test process built the same sources meanwhile (it judged this one's lock stale)
    if (!existsSync(join(dir, NAME))) throw e;
  }
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

/** The cache directory, made if missing; refused unless it is ours and only we can write it (tests run what is in it as root). */
function cacheDirectory(): void {
  mkdirSync(CACHE, { recursive: true, mode: 0o755 });
  const stat = lstatSync(CACHE);
  const uid = process.getuid?.();
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid) || (stat.mode & 0o022) !== 0)
    throw new Error(`test/support/server-binary.ts: ${CACHE} is not a directory of this user's that only it can write: remove it`);
  chmodSync(CACHE, 0o755); // traversable by nobody (the refusal tests), whatever the umask
}

/**
 * Whether the lock file at `lock` was left by a builder that is gone: its pid (written right
 * after the file is made) names no live process, or it has no pid for a few seconds, or it is
 * older than any build takes.
 */
function staleLock(lock: string): boolean {
  try {
    const stat = statSync(lock);
    const age = Date.now() - stat.mtimeMs;
    if (age > STALE_LOCK_MS || stat.isDirectory()) return true; // a directory: an older harness's lock
    const pid = Number(readFileSync(lock, "utf8"));
    if (!Number.isInteger(pid) || pid <= 0) return age > 5000;
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
}

async function build(): Promise<string> {
  cacheDirectory();
  const dir = join(CACHE, sourceHash());
  const binary = join(dir, NAME);
  const lock = `${dir}.lock`;
  for (const deadline = Date.now() + 2 * STALE_LOCK_MS; !existsSync(binary); ) {
    if (Date.now() > deadline) throw new Error(`test/support/server-binary.ts: no ${binary} after waiting for ${lock}`);
    let fd: number;
    try {
      fd = openSync(lock, "wx");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      // another test process builds it: wait, unless it died building. The stale lock is moved
      // aside before it goes, so a fresh one another process made meanwhile is never removed.
      if (staleLock(lock)) {
        const aside = `${lock}.${process.pid}.stale`;
        try {
          renameSync(lock, aside);
          rmSync(aside, { recursive: true, force: true });
        } catch {
          // another waiter moved it first
        }
      }
      await Bun.sleep(50);
      continue;
    }
    try {
      writeSync(fd, String(process.pid));
      closeSync(fd);
      if (!existsSync(binary)) await compile(dir);
      removeUnused(dir);
    } finally {
      // ours only: a waiter that judged it stale may have let another builder make its own
      try {
        if (readFileSync(lock, "utf8") === String(process.pid)) rmSync(lock, { force: true });
      } catch {
        // gone already
      }
    }
  }
  return dir;
}

let built: Promise<string> | undefined;

/** The compiled server: what startServer and runCli run unless told otherwise. */
export async function serverCommand(): Promise<string[]> {
  // The end-to-end suite's "run against another build" (test/e2e/lib/binary.ts), for the e2e
  // files that start servers through test/support/server.ts, and for any test run given it.
  const other = process.env.E2E_BINARY;
  if (other) {
    if (!existsSync(other)) throw new Error(`E2E_BINARY=${other} does not exist`);
    return [other];
  }
  built ??= build();
  const dir = await built;
  const now = new Date();
  utimesSync(dir, now, now); // in use: not removed by a build of other sources, however long this run
  return [join(dir, NAME)];
}
