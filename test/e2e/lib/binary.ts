// The process under test: the binary from `bun build --compile`, copied alone into an
// empty temporary directory, started on free loopback ports with Resend pointed at a stand-in.
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startServer, type RunningServer } from "../../support/server.ts";
import { resendEnv, type ResendStandIn } from "../../support/resend.ts";
import { run, trackPid } from "./proc.ts";

export const ROOT = join(import.meta.dir, "..", "..", "..");
/** E2E_BINARY runs the suite against another build (a release, or a deliberately broken one). */
const BUILT = process.env.E2E_BINARY || join(ROOT, "dist", "registration-server");
export const DOMAIN = "example.test";

function newestSourceMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSourceMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

let built: Promise<void> | undefined;

/** Builds dist/registration-server unless it is newer than every file in src/ and drizzle/ (CI builds it first). */
export function ensureBuilt(): Promise<void> {
  built ??= (async () => {
    if (process.env.E2E_BINARY) {
      if (!existsSync(BUILT)) throw new Error(`E2E_BINARY=${BUILT} does not exist`);
      return;
    }
    const fresh = existsSync(BUILT) && statSync(BUILT).mtimeMs >= Math.max(newestSourceMtime(join(ROOT, "src")), newestSourceMtime(join(ROOT, "drizzle")));
    if (fresh) return;
    const result = await run(["npm", "run", "build"], { cwd: ROOT, timeoutMs: 120_000 });
    if (result.code !== 0)
      throw new Error(`npm run build failed (${result.timedOut ? "timed out" : `exit ${result.code}`}):\n${result.stdout}\n${result.stderr}`);
  })();
  return built;
}

export interface BinaryServer extends RunningServer {
  /** the directory holding the lone copied binary */
  binaryDir: string;
  dispose(): Promise<number | null>;
}

/**
 * Starts the compiled binary; REGISTRATION_HTTP_TRUST_PROXY lets a test choose the client IP with X-Real-IP.
 * options.exec is a prefix that runs it elsewhere (inside a network namespace: netns.ts); options.env adds variables.
 */
export async function startBinary(
  resend: ResendStandIn,
  extraArgs: string[] = [],
  options: { exec?: string[]; env?: Record<string, string> } = {},
): Promise<BinaryServer> {
  await ensureBuilt();
  const binaryDir = mkdtempSync(join(tmpdir(), "regsrv-e2e-bin-"));
  const binary = join(binaryDir, "registration-server");
  copyFileSync(BUILT, binary);
  Bun.spawnSync(["chmod", "755", binary]);
  // Links in emails point at the address the test can reach.
  const httpPort = await freePort();
  const server = await startServer({
    command: [...(options.exec ?? []), binary],
    cwd: binaryDir,
    httpPort,
    env: { ...resendEnv(resend), REGISTRATION_HTTP_TRUST_PROXY: "true", ...options.env },
    args: ["--public-url", `http://127.0.0.1:${httpPort}`, ...extraArgs],
    readyTimeoutMs: 20_000,
  });
  const untrack = trackPid(server.proc.pid);
  /** SIGTERM, bounded; returns the exit code (null when it had to be killed). */
  const dispose = async (): Promise<number | null> => {
    untrack();
    const code = await Promise.race([server.stop("SIGTERM"), Bun.sleep(6000).then(() => null)]).catch(() => null);
    await server.cleanup();
    rmSync(binaryDir, { recursive: true, force: true });
    return code;
  };
  return Object.assign(server, { binaryDir, dispose });
}
