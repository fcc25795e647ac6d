// The one binary's entry. A subcommand (src/cli/) runs and exits; `serve`, the default, reads
// its settings here and only then loads the server (src/serve.ts), so `--version`, a settings
// error or `domains list` does not load the HTTP, mail and metrics libraries.
import { dispatch, topLevelHelp } from "./cli/index.ts";
import { loadSettings } from "./config.ts";
import { VERSION } from "./version.ts";
import { installSignalHandlers, orFail } from "./lifecycle.ts";

const command = await dispatch(process.argv.slice(2));
if ("exit" in command) process.exit(command.exit);
// From here a SIGTERM ends in a clean exit 0, even during start-up (src/lifecycle.ts).
installSignalHandlers();
// A reload reads the same sources: this command line, the environment as it was at start.
const argv = command.serve;
const env = { ...process.env };
const loaded = await orFail("settings", () => loadSettings(argv, env));
if (loaded.help) {
  process.stdout.write(topLevelHelp());
  process.exit(0);
}
if (loaded.version) {
  process.stdout.write(`registration-server ${VERSION}\n`);
  process.exit(0);
}
const { serve } = await import("./serve.ts");
await serve({ argv, env, settings: loaded.settings, warnings: loaded.warnings });
