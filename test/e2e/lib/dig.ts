// dig (dnsutils) as the reference DNS client: its answers parsed into what the tests check.
import { run } from "./proc.ts";

export interface DigRecord {
  name: string;
  ttl: number;
  type: string;
  data: string;
}

export interface DigResult {
  status: string;
  flags: string[];
  question: string;
  answer: DigRecord[];
  authority: DigRecord[];
  additional: DigRecord[];
  /** an OPT pseudo-record came back */
  edns: boolean;
  /** dig's whole output, for failure messages */
  raw: string;
}

export interface DigOptions {
  tcp?: boolean;
  edns?: boolean;
  /** keep a truncated UDP answer instead of retrying over TCP */
  ignoreTruncation?: boolean;
  recurse?: boolean;
  /** set the DO bit (+dnssec): signed answers */
  dnssec?: boolean;
  /** a prefix that runs dig elsewhere (inside a network namespace: netns.ts) */
  exec?: string[];
}

function parseRecord(line: string): DigRecord {
  const [name, ttl, _klass, type, ...data] = line.split(/\s+/);
  return { name, ttl: Number(ttl), type, data: data.join(" ") };
}

/** Asks server (host:port) one question; throws when dig gets no answer at all. */
export async function dig(server: string, name: string, type: string, options: DigOptions = {}): Promise<DigResult> {
  const [host, port] = server.split(":");
  const args = [
    ...(options.exec ?? []),
    "dig",
    `@${host}`,
    "-p",
    port,
    name,
    type,
    "+time=3",
    "+tries=1",
    "+retry=0",
    "+nocookie",
    options.tcp ? "+tcp" : "+notcp",
    options.edns === false ? "+noedns" : "+edns=0",
    options.ignoreTruncation ? "+ignore" : "+noignore",
    options.recurse === false ? "+norecurse" : "+recurse",
    ...(options.dnssec ? ["+dnssec"] : []),
  ];
  const result = await run(args, { timeoutMs: 10_000 });
  const raw = `$ ${args.join(" ")}\n${result.stdout}${result.stderr}`;
  if (result.code !== 0) throw new Error(`dig exited ${result.timedOut ? "(timed out)" : result.code}: ${raw}`);
  const status = /status: (\w+)/.exec(result.stdout)?.[1];
  const flags = /;; flags:([^;]*);/.exec(result.stdout)?.[1].trim().split(/\s+/).filter(Boolean);
  if (!status || !flags) throw new Error(`no DNS answer: ${raw}`);
  const out: DigResult = { status, flags, question: "", answer: [], authority: [], additional: [], edns: /OPT PSEUDOSECTION/.test(result.stdout), raw };
  type Section = "question" | "answer" | "authority" | "additional";
  let section: Section | null = null;
  for (const line of result.stdout.split("\n")) {
    const header = /^;; (QUESTION|ANSWER|AUTHORITY|ADDITIONAL) SECTION:/.exec(line);
    if (header) {
      section = header[1].toLowerCase() as Section;
      continue;
    }
    if (line.trim() === "" || (line.startsWith(";;") && section !== null)) {
      section = null;
      continue;
    }
    if (section === "question" && line.startsWith(";")) out.question = line.slice(1).split(/\s+/)[0];
    else if (section !== null && section !== "question" && !line.startsWith(";")) out[section as Exclude<Section, "question">].push(parseRecord(line));
  }
  return out;
}

/** TXT data as dig prints it ("a" "b") joined into one string. */
export function txtText(record: DigRecord): string {
  return [...record.data.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]).join("");
}
