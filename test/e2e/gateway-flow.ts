#!/usr/bin/env bun
// The gateway's call sequence against a running registration server, as a self-hoster can
// run it against their own deployment. It creates one name and removes it again, also when a
// step fails.
//
//   bun test/e2e/gateway-flow.ts <base-url> <domain> [dns-server[:port]] [options]
//
// <base-url>    the API, e.g. https://api.example.org (as gateways are configured)
// <domain>      the zone, e.g. example.org
// [dns-server]  where to ask DNS questions (default: the zone's first NS, port 53)
//
// Options (each also as an environment variable):
//   --email ADDR            GATEWAY_FLOW_EMAIL       address for /subscribe and /setemail
//                                                    (default gateway-flow-<name>@example.com)
//   --verify-link-cmd CMD   GATEWAY_FLOW_VERIFY_LINK_CMD
//                           a shell command run after /setemail, with GATEWAY_FLOW_EMAIL set,
//                           that prints the emailed <public_url>/verifyemail?s=<uuid> link; e.g.
//                           with no Resend key the server logs the email, so on the server host:
//                           "journalctl -u registration-server | grep -o 'https\?://[^ ]*/verifyemail?s=[0-9a-f-]*' | tail -1"
//   --skip-verify           GATEWAY_FLOW_SKIP_VERIFY=1  do not follow the link (info's `verified` is not checked)
//   --name LABEL            GATEWAY_FLOW_NAME        the label to create (default gwflow-<random>)
//   --real-ip IP            GATEWAY_FLOW_REAL_IP     send X-Real-IP (honoured only behind a trusted proxy)
//   --step-timeout-ms N     GATEWAY_FLOW_STEP_TIMEOUT_MS  bound on each step (default 15000)
//   --clock-skew-s N        GATEWAY_FLOW_CLOCK_SKEW_S     allowed server/client clock difference (default 5)
//
// Exit status: 0 every step passed; 1 a step failed (named on stderr); 2 bad usage.
import { createSocket } from "node:dgram";
import { Resolver } from "node:dns/promises";
import { isIP } from "node:net";
import * as packet from "dns-packet";

export interface FlowOptions {
  baseUrl: string;
  domain: string;
  /** host:port; undefined = the zone's first NS on port 53 */
  dnsServer?: string;
  email?: string;
  verifyLinkCmd?: string;
  skipVerify?: boolean;
  name?: string;
  realIp?: string;
  stepTimeoutMs?: number;
  clockSkewS?: number;
}

export class StepFailure extends Error {
  constructor(
    readonly step: string,
    message: string,
  ) {
    super(`step "${step}" failed: ${message}`);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Reply {
  status: number;
  text: string;
  json: any;
}

interface DnsReply {
  rcode: string;
  aa: boolean;
  answers: packet.Answer[];
  authorities: packet.Answer[];
}

/** One DNS question over UDP (no EDNS, as the simplest resolver asks), bounded in time. */
function askDns(server: string, name: string, type: packet.RecordType, timeoutMs: number): Promise<DnsReply> {
  const i = server.lastIndexOf(":");
  const host = server.slice(0, i).replace(/^\[|\]$/g, "");
  const port = Number(server.slice(i + 1));
  const id = Math.floor(Math.random() * 65535);
  const query = packet.encode({ type: "query", id, flags: 0, questions: [{ type, name, class: "IN" }] });
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIP(host) === 6 ? "udp6" : "udp4");
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no DNS answer from ${server} for ${name} ${type} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("message", (message) => {
      const decoded = packet.decode(message) as packet.Packet & { rcode?: string; flag_aa?: boolean };
      if (decoded.id !== id) return;
      clearTimeout(timer);
      socket.close();
      resolve({ rcode: decoded.rcode ?? "?", aa: Boolean(decoded.flag_aa), answers: decoded.answers ?? [], authorities: decoded.authorities ?? [] });
    });
    socket.on("error", (e) => {
      clearTimeout(timer);
      socket.close();
      reject(e);
    });
    socket.send(query, port, host);
  });
}

function txtOf(answer: packet.Answer): string {
  const data = (answer as { data: Buffer | Buffer[] | string }).data;
  return (Array.isArray(data) ? data : [data]).map((d) => d.toString()).join("");
}

/** Runs the sequence; `say` receives one line per step. Throws StepFailure. */
export async function runGatewayFlow(options: FlowOptions, say: (line: string) => void = console.log): Promise<void> {
  const stepTimeoutMs = options.stepTimeoutMs ?? 15_000;
  const skew = options.clockSkewS ?? 5;
  const domain = options.domain.replace(/\.$/, "").toLowerCase();
  const label = options.name ?? `gwflow-${crypto.randomUUID().slice(0, 8)}`;
  const fqdn = `${label}.${domain}`;
  const email = options.email ?? `gateway-flow-${label}@example.com`;
  const challenge = `gateway-flow-${crypto.randomUUID()}`;
  let token: string | undefined;
  let unsubscribed = false;

  const step = async <T>(name: string, body: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const value = await Promise.race([
        body(),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${stepTimeoutMs} ms`)), stepTimeoutMs))),
      ]);
      say(`ok   ${name} (${Math.round(performance.now() - started)} ms)`);
      return value;
    } catch (e) {
      say(`FAIL ${name}: ${(e as Error).message}`);
      throw new StepFailure(name, (e as Error).message);
    } finally {
      clearTimeout(timer);
    }
  };
  const fail = (message: string): never => {
    throw new Error(message);
  };
  const get = async (path: string, params: Record<string, string>): Promise<Reply> => {
    const url = new URL(path, options.baseUrl.replace(/\/?$/, "/"));
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const res = await fetch(url, { headers: options.realIp ? { "X-Real-IP": options.realIp } : {}, signal: AbortSignal.timeout(stepTimeoutMs) });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {}
    return { status: res.status, text, json };
  };
  const expectOk = (path: string, r: Reply) => {
    if (r.status !== 200) fail(`${path} answered ${r.status} ${r.text.slice(0, 200)}, expected 200`);
  };
  const masked = (t: string) => `${t.slice(0, 8)}…`;

  const dnsServer = await step("find the DNS server to ask", async () => {
    const given = options.dnsServer;
    if (given) return isIP(given) === 6 ? `[${given}]:53` : /:\d+$/.test(given) ? given : `${given}:53`;
    const resolver = new Resolver({ timeout: stepTimeoutMs, tries: 1 });
    const [ns] = await resolver.resolveNs(domain);
    const [address] = await resolver.resolve4(ns);
    return `${address}:53`;
  });
  const dns = (name: string, type: packet.RecordType) => askDns(dnsServer, name, type, Math.min(5000, stepTimeoutMs));
  const expectNxdomain = async (name: string) => {
    const r = await dns(name, "A");
    if (r.rcode !== "NXDOMAIN" || !r.aa) fail(`${name} A: ${r.rcode}${r.aa ? " aa" : ""}, expected NXDOMAIN with aa`);
    if (!r.authorities.some((a) => a.type === "SOA" && a.name.toLowerCase() === domain)) fail(`${name} A: no SOA of ${domain} in authority`);
  };

  try {
    await step(`/subscribe name=${label} with email (dynamic DNS mode)`, async () => {
      const r = await get("/subscribe", { name: label, email, mode: "1" });
      expectOk("/subscribe", r);
      if (r.json?.name !== label || !UUID.test(r.json?.token ?? ""))
        fail(`/subscribe answered ${r.text.slice(0, 200)}, expected {"name":"${label}","token":<uuid>}`);
      token = r.json.token as string;
      say(`     token ${masked(token)}`);
    });
    await step("/dnsconfig sets the ACME challenge", async () => expectOk("/dnsconfig", await get("/dnsconfig", { token: token!, challenge })));
    await step("/setemail sends a verification email", async () => expectOk("/setemail", await get("/setemail", { token: token!, email })));
    if (options.skipVerify) say("skip follow the emailed verifyemail link (--skip-verify)");
    else
      await step("follow the emailed verifyemail link", async () => {
        if (!options.verifyLinkCmd) fail("no --verify-link-cmd (GATEWAY_FLOW_VERIFY_LINK_CMD) to read the emailed link; pass one or --skip-verify");
        const proc = Bun.spawn(["sh", "-c", options.verifyLinkCmd!], {
          env: { ...process.env, GATEWAY_FLOW_EMAIL: email },
          stdout: "pipe",
          stderr: "pipe",
          stdin: "ignore",
        });
        const timer = setTimeout(() => proc.kill("SIGKILL"), stepTimeoutMs - 1000);
        const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
        clearTimeout(timer);
        if (code !== 0) fail(`the verify-link command exited ${code}: ${err.trim().slice(0, 300)}`);
        const link = /https?:\/\/\S+\/verifyemail\?s=[0-9a-f-]{36}/.exec(out)?.[0];
        if (!link) fail(`the verify-link command printed no <public_url>/verifyemail?s=<uuid> link: ${out.slice(0, 300)}`);
        const res = await fetch(link!, { signal: AbortSignal.timeout(stepTimeoutMs) });
        if (res.status !== 200) fail(`GET ${link!.replace(/s=.*/, "s=…")} answered ${res.status}, expected 200`);
      });
    const pingWindow = await step("/ping", async () => {
      const before = Math.floor(Date.now() / 1000);
      expectOk("/ping", await get("/ping", { token: token! }));
      return { before, after: Math.ceil(Date.now() / 1000) };
    });
    const info = await step("/info shows the name, verified and the ping time", async () => {
      const r = await get("/info", { token: token! });
      expectOk("/info", r);
      const i = r.json ?? {};
      if (i.name !== `${fqdn}.`) fail(`/info name ${JSON.stringify(i.name)}, expected "${fqdn}."`);
      if (!options.skipVerify && i.verified !== true) fail(`/info verified ${JSON.stringify(i.verified)}, expected true`);
      if (!options.skipVerify && i.email !== email) fail(`/info email ${JSON.stringify(i.email)}, expected ${email}`);
      if (typeof i.timestamp !== "number" || i.timestamp < pingWindow.before - skew || i.timestamp > pingWindow.after + skew)
        fail(`/info timestamp ${i.timestamp}, expected the ping time (${pingWindow.before}..${pingWindow.after}, ±${skew} s)`);
      if (!isIP(i.last_ip ?? "")) fail(`/info last_ip ${JSON.stringify(i.last_ip)}, expected the address the ping came from`);
      if (options.realIp && i.last_ip !== options.realIp) fail(`/info last_ip ${i.last_ip}, expected ${options.realIp} (X-Real-IP)`);
      if ("reclamation_token" in i || "verification_token" in i) fail("/info must not return the reclamation or verification token");
      return i as { last_ip: string };
    });
    await step(`DNS: ${fqdn} answers the ping address`, async () => {
      const type = isIP(info.last_ip) === 6 ? "AAAA" : "A";
      const r = await dns(fqdn, type);
      const got = r.answers.filter((a) => a.type === type).map((a) => (a as { data: unknown }).data);
      if (r.rcode !== "NOERROR" || !r.aa || got.length !== 1 || got[0] !== info.last_ip)
        fail(`${fqdn} ${type}: ${r.rcode}${r.aa ? " aa" : ""} ${JSON.stringify(got)}, expected NOERROR aa [${info.last_ip}]`);
    });
    await step(`DNS: _acme-challenge.${fqdn} answers the challenge`, async () => {
      const r = await dns(`_acme-challenge.${fqdn}`, "TXT");
      const got = r.answers.filter((a) => a.type === "TXT").map(txtOf);
      if (r.rcode !== "NOERROR" || !r.aa || got.length !== 1 || got[0] !== challenge)
        fail(`TXT: ${r.rcode}${r.aa ? " aa" : ""} ${JSON.stringify(got)}, expected NOERROR aa ["${challenge}"]`);
    });
    await step("/unsubscribe", async () => {
      expectOk("/unsubscribe", await get("/unsubscribe", { token: token! }));
      unsubscribed = true;
    });
    await step(`DNS: ${fqdn} and its _acme-challenge are NXDOMAIN`, async () => {
      await expectNxdomain(fqdn);
      await expectNxdomain(`_acme-challenge.${fqdn}`);
    });
    await step("the old token is unknown to /info", async () => {
      const r = await get("/info", { token: token! });
      if (r.status !== 404) fail(`/info answered ${r.status}, expected 404`);
    });
  } finally {
    if (token && !unsubscribed) {
      try {
        const r = await get("/unsubscribe", { token });
        say(r.status === 200 ? `cleanup: unsubscribed ${label}` : `cleanup: /unsubscribe answered ${r.status} ${r.text.slice(0, 200)}`);
      } catch (e) {
        say(`cleanup: /unsubscribe failed: ${(e as Error).message}`);
      }
    }
  }
}

function parseArgs(argv: string[], env: Record<string, string | undefined>): FlowOptions | string {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--skip-verify" || a === "--help" || a === "-h") flags[a.replace(/^-+/, "")] = true;
    else if (a.startsWith("--")) {
      const [k, inline] = a.slice(2).split(/=(.*)/s);
      const v = inline ?? argv[++i];
      if (v === undefined) return `${a} needs a value`;
      flags[k] = v;
    } else positional.push(a);
  }
  if (flags.help || positional.length < 2 || positional.length > 3)
    return "usage: bun test/e2e/gateway-flow.ts <base-url> <domain> [dns-server[:port]] [--email ADDR] [--verify-link-cmd CMD | --skip-verify] [--name LABEL] [--real-ip IP] [--step-timeout-ms N] [--clock-skew-s N]";
  const str = (flag: string, name: string) => (typeof flags[flag] === "string" ? (flags[flag] as string) : env[name] || undefined);
  const num = (flag: string, name: string) => {
    const v = str(flag, name);
    return v === undefined ? undefined : Number(v);
  };
  return {
    baseUrl: positional[0],
    domain: positional[1],
    dnsServer: positional[2],
    email: str("email", "GATEWAY_FLOW_EMAIL"),
    verifyLinkCmd: str("verify-link-cmd", "GATEWAY_FLOW_VERIFY_LINK_CMD"),
    skipVerify: flags["skip-verify"] === true || env.GATEWAY_FLOW_SKIP_VERIFY === "1",
    name: str("name", "GATEWAY_FLOW_NAME"),
    realIp: str("real-ip", "GATEWAY_FLOW_REAL_IP"),
    stepTimeoutMs: num("step-timeout-ms", "GATEWAY_FLOW_STEP_TIMEOUT_MS"),
    clockSkewS: num("clock-skew-s", "GATEWAY_FLOW_CLOCK_SKEW_S"),
  };
}

if (import.meta.main) {
  const options = parseArgs(process.argv.slice(2), process.env);
  if (typeof options === "string") {
    console.error(options);
    process.exit(2);
  }
  try {
    await runGatewayFlow(options);
    console.log("gateway-flow: every step passed");
  } catch (e) {
    console.error(`gateway-flow: ${(e as Error).message}`);
    process.exit(1);
  }
}
