// `backup FILE [--force]`: a consistent copy of the database, taken by this process on a
// connection of its own whether or not a server runs (ops/backup.ts says why).
import { resolve } from "node:path";
import { BackupError, backupDatabase } from "../ops/backup.ts";
import { CliError, type Invocation, out, positionals } from "./common.ts";

export async function runBackup(invocation: Invocation): Promise<void> {
  const [file] = positionals(invocation, 1, "backup FILE [--force]");
  const source = invocation.settings.database.path;
  if (source === ":memory:") throw new CliError("database.path is :memory:, there is no file to copy", 2);
  try {
    const result = backupDatabase(source, resolve(file), { force: invocation.switches.has("--force") });
    await out(`backed up ${source} to ${result.path}: ${result.domains} domains, ${result.bytes} bytes, integrity ok\n`);
  } catch (e) {
    if (e instanceof BackupError) throw new CliError(e.message, 1);
    throw e;
  }
}
