// `backup FILE [--force]`: a consistent copy of the database, taken by this process on a
// connection of its own whether or not a server runs (ops/backup.ts says why).
import { constants } from "node:os";
import { resolve } from "node:path";
import { BackupError, backupDatabase } from "../ops/backup.ts";
import { CliError, type Invocation, out, positionals } from "./common.ts";

const STOPPING_SIGNALS = ["SIGINT", "SIGTERM"] as const;

export async function runBackup(invocation: Invocation): Promise<void> {
  const [file] = positionals(invocation, 1, "backup FILE [--force]");
  const source = invocation.settings.database.path;
  if (source === ":memory:") throw new CliError("database.path is :memory:, there is no file to copy", 2);
  const target = resolve(file);
  // Ctrl-C or SIGTERM during the copy: its temporary directory goes first, then the signal ends
  // this process as it ends any command (exit 130 or 143).
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => stop.abort(signal);
  for (const signal of STOPPING_SIGNALS) process.on(signal, onSignal);
  const backup = backupDatabase(source, target, { force: invocation.switches.has("--force"), signal: stop.signal }).finally(() => {
    for (const signal of STOPPING_SIGNALS) process.off(signal, onSignal);
  });
  let result: Awaited<typeof backup>;
  try {
    result = await backup;
  } catch (e) {
    if (stop.signal.aborted) await endBy(stop.signal.reason, target);
    if (e instanceof BackupError) throw new CliError(e.message, 1);
    throw e;
  }
  await out(`backed up ${source} to ${result.path}: ${result.domains} domains, ${result.bytes} bytes, integrity ok\n`);
}

/** Says what the signal stopped, then dies of it (our handlers are off by now): a shell sees the signal, not an exit code of ours. */
async function endBy(signal: NodeJS.Signals, target: string): Promise<never> {
  const line = `registration-server: ${signal}: backup stopped, ${target} not written\n`;
  await new Promise((written) => process.stderr.write(line, written));
  process.kill(process.pid, signal);
  process.exit(128 + constants.signals[signal]); // only if the signal did not end the process
}
