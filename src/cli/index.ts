// The subcommands of the one binary: which one runs, its own options and positional arguments,
// and the rest (--config, --db, --admin-port...) read by loadSettings as `serve` reads them.
// Exit codes: 0 done, 1 failed (one line why), 2 bad usage or settings.
import { helpText, loadSettings, SettingsError, type Settings } from "../config.ts";
import { CliError, type Invocation, out, quietOnClosedStdout } from "./common.ts";

interface Command {
  usage: string;
  about: string;
  switches: Record<string, string>;
  run(invocation: Invocation): Promise<void> | void;
}

const SETTINGS_NOTE = "Settings flags (--config FILE, --db FILE, --admin-host, --admin-port...) and REGISTRATION_* variables are read as `serve` reads them.";

// Each command's code loads when it runs: `--help` or `backup` loads neither Drizzle nor the mailer.
const COMMANDS: Record<string, Command> = {
  "check-config": {
    usage: "check-config [--config FILE] [settings flags]",
    about: "Checks the settings without binding a port or opening the database; prints a one-line summary.",
    switches: {},
    run: async (inv) => (await import("./check-config.ts")).runCheckConfig(inv),
  },
  "domains list": {
    usage: "domains list [--json]",
    about: "Lists every name: name, mode, last ping, verified email (masked); one per line, or a JSON array.",
    switches: { "--json": "print a JSON array instead of lines" },
    run: async (inv) => (await import("./domains.ts")).runDomains("list", inv),
  },
  "domains show": {
    usage: "domains show NAME [--json]",
    about: "Shows one name in full, tokens masked. NAME with or without the zone and the trailing dot, any case.",
    switches: { "--json": "print a JSON object instead of lines" },
    run: async (inv) => (await import("./domains.ts")).runDomains("show", inv),
  },
  "domains delete": {
    usage: "domains delete NAME",
    about: "Removes a name, through the running server when its admin listener answers (so DNS and /info forget it at once), else in the file.",
    switches: {},
    run: async (inv) => (await import("./domains.ts")).runDomains("delete", inv),
  },
  backup: {
    usage: "backup FILE [--force]",
    about: "Writes a consistent copy of the database to FILE while the server runs (VACUUM INTO a temporary name, checked, renamed).",
    switches: { "--force": "replace FILE if it exists (refused otherwise)" },
    run: async (inv) => (await import("./backup.ts")).runBackup(inv),
  },
  "dnssec ds": {
    usage: "dnssec ds",
    about:
      "Prints the DS record (SHA-256) of each key in the zone's DNSKEY RRset, for the registrar (during a rollover marked active, published or retiring); the server makes the key at its first start with dns.dnssec = true.",
    switches: {},
    run: async (inv) => (await import("./dnssec.ts")).runDnssecDs(inv),
  },
  "dnssec roll prepublish": {
    usage: "dnssec roll prepublish",
    about: 'Rollover step 1: adds a new key to the DNSKEY RRset beside the signing one (server stopped; README "DNSSEC").',
    switches: {},
    run: async (inv) => (await import("./dnssec.ts")).rollCommand("prepublish")(inv),
  },
  "dnssec roll switch": {
    usage: "dnssec roll switch",
    about: "Rollover step 2: the pre-published key signs; the old one stays in the DNSKEY RRset (server stopped).",
    switches: {},
    run: async (inv) => (await import("./dnssec.ts")).rollCommand("switch")(inv),
  },
  "dnssec roll retire": {
    usage: "dnssec roll retire",
    about: "Rollover step 3, once the old DS is gone from the parent: the old key leaves the DNSKEY RRset (server stopped).",
    switches: {},
    run: async (inv) => (await import("./dnssec.ts")).rollCommand("retire")(inv),
  },
};

/** `registration-server --help`: serve's help with the subcommands listed first. */
export function topLevelHelp(): string {
  const lines = Object.values(COMMANDS).map((c) => `  registration-server ${c.usage}`);
  return helpText().replace(
    /^Usage: (.*)$/m,
    `Usage: registration-server [serve] [--config FILE] [flags]\n${lines.join("\n")}\n  (each takes --help; \`serve\` is the default)`,
  );
}

function commandHelp(command: Command): string {
  const switches = Object.entries(command.switches).map(([flag, text]) => `  ${flag.padEnd(12)}${text}\n`);
  return `Usage: registration-server ${command.usage}\n\n${command.about}\n${switches.length ? `\n${switches.join("")}` : ""}\n${SETTINGS_NOTE}\nExit codes: 0 done, 1 failed, 2 bad usage or settings.\n`;
}

/**
 * Runs the subcommand `argv` names and returns its exit code, or returns the arguments for
 * `serve` (no subcommand, or `serve ...`) as `{ serve }`.
 */
export async function dispatch(argv: string[]): Promise<{ serve: string[] } | { exit: number }> {
  const first = argv[0];
  if (first === undefined || first.startsWith("-")) return { serve: argv };
  if (first === "serve") return { serve: argv.slice(1) };
  const grouped = first === "domains" || first === "dnssec";
  let name = grouped && argv[1] !== undefined && !argv[1].startsWith("-") ? `${first} ${argv[1]}` : first;
  if (name === "dnssec roll" && argv[2] !== undefined && !argv[2].startsWith("-")) name = `dnssec roll ${argv[2]}`;
  const command = COMMANDS[name];
  if (!command && name === "domains" && (argv[1] === "--help" || argv[1] === "-h")) {
    const group = Object.entries(COMMANDS).filter(([key]) => key.startsWith("domains "));
    await out(`${group.map(([, c]) => `Usage: registration-server ${c.usage}\n  ${c.about}\n`).join("")}\n${SETTINGS_NOTE}\n`);
    return { exit: 0 };
  }
  if (!command) {
    const known =
      first === "domains"
        ? "domains list|show|delete"
        : first === "dnssec"
          ? "dnssec ds|roll prepublish|roll switch|roll retire"
          : `serve, ${Object.keys(COMMANDS).join(", ")}`;
    return usageError(`unknown command '${name}' (commands: ${known}; see --help)`);
  }
  const rest = argv.slice(name.split(" ").length);
  const args: string[] = [];
  const switches = new Set<string>();
  const settingsArgs: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === "--help" || arg === "-h") {
      await out(commandHelp(command));
      return { exit: 0 };
    }
    if (arg in command.switches) switches.add(arg);
    else if (!arg.startsWith("-")) args.push(arg);
    else if (arg.includes("=")) settingsArgs.push(arg);
    // every settings flag takes a value: the next argument is it, not a positional one
    else settingsArgs.push(arg, ...(i + 1 < rest.length ? [rest[++i]] : []));
  }
  let settings: Settings;
  let warnings: string[];
  try {
    const loaded = loadSettings(settingsArgs);
    if (loaded.version) return usageError("--version is not a subcommand option");
    settings = loaded.settings;
    warnings = loaded.warnings;
  } catch (e) {
    if (e instanceof SettingsError) return usageError(e.message);
    throw e;
  }
  quietOnClosedStdout();
  try {
    await command.run({ args, switches, settings, warnings });
    return { exit: 0 };
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    process.stderr.write(`registration-server: ${e.message}\n`);
    return { exit: e.code };
  }
}

function usageError(message: string): { exit: number } {
  process.stderr.write(`registration-server: ${message}\n`);
  return { exit: 2 };
}
