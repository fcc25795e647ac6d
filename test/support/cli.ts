// The command line's subcommands in this process: src/cli/index.ts's dispatch, as main.ts calls
// it, with what it writes to stdout and stderr captured. The exit code is the one main.ts would
// exit with; each exit-code path also has one test through a real process (runCli in server.ts).
import { dispatch } from "../../src/cli/index.ts";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

type Write = typeof process.stdout.write;

/** A stand-in for stream.write that appends to `sink` and calls back as a drained pipe would. */
function capture(sink: (text: string) => void): Write {
  return ((chunk: string | Uint8Array, encoding?: unknown, callback?: unknown) => {
    sink(typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk));
    const done = typeof encoding === "function" ? encoding : callback;
    if (typeof done === "function") queueMicrotask(() => done(null));
    return true;
  }) as Write;
}

/** One run at a time: a run replaces process.stdout.write until it ends. */
let previous: Promise<unknown> = Promise.resolve();

/** Runs `registration-server <args>` for a subcommand (not serve) in this process. */
export function cliInProcess(args: string[]): Promise<CliResult> {
  const run = previous.then(() => captured(args));
  previous = run.catch(() => {});
  return run;
}

async function captured(args: string[]): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const writes = { out: process.stdout.write, err: process.stderr.write };
  process.stdout.write = capture((text) => {
    stdout += text;
  });
  process.stderr.write = capture((text) => {
    stderr += text;
  });
  try {
    const result = await dispatch(args);
    if (!("exit" in result)) throw new Error(`cliInProcess: ${args.join(" ")} is serve, which needs a process (runCli)`);
    return { code: result.exit, stdout, stderr };
  } finally {
    process.stdout.write = writes.out;
    process.stderr.write = writes.err;
  }
}
