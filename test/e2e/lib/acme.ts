// Let's Encrypt's side of DNS-01: Debian's pebble (the ACME test CA) validating against our
// DNS port, and Debian's lego obtaining a certificate through its `exec` DNS provider.
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../../support/server.ts";
import { run, spawnDaemon, waitFor, type Daemon } from "./proc.ts";

async function openssl(args: string[], cwd: string): Promise<void> {
  const result = await run(["openssl", ...args], { cwd, timeoutMs: 30_000 });
  if (result.code !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${result.stdout}${result.stderr}`);
}

/** A throwaway CA and a server certificate for 127.0.0.1 (the pebble package ships none). */
export async function makeTlsFiles(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  mkdirSync(dir, { recursive: true });
  await openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "2",
      "-subj",
      "/CN=registration-server e2e throwaway CA",
    ],
    dir,
  );
  await openssl(
    ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "key.pem", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
    dir,
  );
  writeFileSync(
    join(dir, "ext.cnf"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
  );
  await openssl(
    ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "cert.pem", "-days", "2", "-extfile", "ext.cnf"],
    dir,
  );
  return { ca: join(dir, "ca.pem"), cert: join(dir, "cert.pem"), key: join(dir, "key.pem") };
}

export interface Pebble {
  daemon: Daemon;
  directoryUrl: string;
  managementUrl: string;
  caFile: string;
  /** PEM of the root that signs issued chains, from the management port */
  root(): Promise<string>;
}

/** Starts pebble on free loopback ports, resolving every name through dnsServer (host:port). */
export async function startPebble(dir: string, dnsServer: string): Promise<Pebble> {
  const tls = await makeTlsFiles(join(dir, "tls"));
  const [acmePort, managementPort, httpPort, tlsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const config = join(dir, "pebble-config.json");
  writeFileSync(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: tls.cert,
        privateKey: tls.key,
        httpPort,
        tlsPort,
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
      },
    }),
  );
  const daemon = spawnDaemon("pebble", ["pebble", "-config", config, "-dnsserver", dnsServer], {
    cwd: dir,
    env: {
      PEBBLE_VA_NOSLEEP: "1",
      PEBBLE_VA_ALWAYS_VALID: undefined,
      // Deterministic runs: no random bad nonces, and every order gets fresh authorizations
      // (so the second certificate is validated against DNS again, not reused).
      PEBBLE_WFE_NONCEREJECT: "0",
      PEBBLE_AUTHZREUSE: "0",
    },
  });
  const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
  const managementUrl = `https://127.0.0.1:${managementPort}`;
  const ca = readFileSync(tls.ca, "utf8");
  const tlsFetch = (url: string) => fetch(url, { tls: { ca }, signal: AbortSignal.timeout(5000) } as RequestInit);
  await waitFor("pebble's ACME directory", 15_000, async () => {
    if (daemon.exited()) throw new Error(`pebble exited: ${daemon.output()}`);
    const res = await tlsFetch(directoryUrl);
    return res.ok ? true : undefined;
  });
  return {
    daemon,
    directoryUrl,
    managementUrl,
    caFile: tls.ca,
    async root() {
      const res = await tlsFetch(`${managementUrl}/roots/0`);
      const text = await res.text();
      if (!res.ok || !text.includes("BEGIN CERTIFICATE")) throw new Error(`pebble /roots/0 answered ${res.status}: ${text.slice(0, 200)}`);
      return text;
    },
  };
}

export interface LegoResult {
  code: number | null;
  timedOut: boolean;
  output: string;
  certFile: string;
  issuerFile: string;
  /** the exec hook's calls, in order */
  hookCalls: { action: string; fqdn: string; value: string; status?: number; body?: string }[];
  ms: number;
}

/** Obtains a certificate for fqdn with lego's exec provider publishing through /dnsconfig. */
export async function legoObtain(options: {
  dir: string;
  pebble: Pebble;
  dnsServer: string;
  apiUrl: string;
  token: string;
  fqdn: string;
  timeoutMs?: number;
  /** the hook waits this long after /dnsconfig (a gateway waits about 2.5 s) */
  hookWaitMs?: number;
}): Promise<LegoResult> {
  mkdirSync(options.dir, { recursive: true });
  const hookLog = join(options.dir, "hook.log");
  const hook = join(options.dir, "dnsconfig-hook.sh");
  writeFileSync(hook, `#!/bin/sh\nexec '${process.execPath}' '${join(import.meta.dir, "lego-exec-hook.ts")}' "$@"\n`);
  chmodSync(hook, 0o755);
  const legoPath = join(options.dir, "lego");
  const args = [
    "lego",
    "--server",
    options.pebble.directoryUrl,
    "--accept-tos",
    "--email",
    "e2e-acme@example.com",
    "--path",
    legoPath,
    "--domains",
    options.fqdn,
    "--dns",
    "exec",
    "--dns.resolvers",
    options.dnsServer,
    "--dns.disable-cp",
    "--dns-timeout",
    "5",
    "--http-timeout",
    "10",
    "--cert.timeout",
    "30",
    "run",
  ];
  const result = await run(args, {
    cwd: options.dir,
    timeoutMs: options.timeoutMs ?? 90_000,
    env: {
      LEGO_CA_CERTIFICATES: options.pebble.caFile,
      EXEC_PATH: hook,
      EXEC_MODE: undefined,
      EXEC_POLLING_INTERVAL: "1",
      EXEC_PROPAGATION_TIMEOUT: "20",
      REGSRV_URL: options.apiUrl,
      REGSRV_TOKEN: options.token,
      HOOK_LOG: hookLog,
      HOOK_WAIT_MS: String(options.hookWaitMs ?? 0),
    },
  });
  const hookCalls = existsSync(hookLog)
    ? readFileSync(hookLog, "utf8")
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
  return {
    code: result.code,
    timedOut: result.timedOut,
    output: `$ ${args.join(" ")}\n${result.stdout}${result.stderr}`,
    certFile: join(legoPath, "certificates", `${options.fqdn}.crt`),
    issuerFile: join(legoPath, "certificates", `${options.fqdn}.issuer.crt`),
    hookCalls,
    ms: result.ms,
  };
}

/** The PEM blocks of a bundle, leaf first. */
export function pemBlocks(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** subjectAltName entries of a certificate, e.g. ["DNS:demo.example.test"]. */
export async function subjectAltNames(certFile: string): Promise<string[]> {
  const result = await run(["openssl", "x509", "-in", certFile, "-noout", "-ext", "subjectAltName"], { timeoutMs: 10_000 });
  if (result.code !== 0) throw new Error(`openssl x509 -ext subjectAltName: ${result.stderr}`);
  return result.stdout
    .split("\n")
    .slice(1)
    .join(",")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

export async function serialOf(certFile: string): Promise<string> {
  const result = await run(["openssl", "x509", "-in", certFile, "-noout", "-serial"], { timeoutMs: 10_000 });
  return result.stdout.trim();
}

/** `openssl verify` of leaf against root with the intermediates lego saved; returns openssl's output. */
export async function verifyChain(dir: string, certFile: string, issuerFile: string, rootPem: string): Promise<{ ok: boolean; output: string }> {
  const leaf = pemBlocks(readFileSync(certFile, "utf8"))[0];
  if (!leaf) return { ok: false, output: `no certificate in ${certFile}` };
  const leafFile = join(dir, "leaf.pem");
  const rootFile = join(dir, "pebble-root.pem");
  writeFileSync(leafFile, `${leaf}\n`);
  writeFileSync(rootFile, rootPem);
  const result = await run(["openssl", "verify", "-CAfile", rootFile, "-untrusted", issuerFile, leafFile], { timeoutMs: 10_000 });
  const output = result.stdout + result.stderr;
  return { ok: result.code === 0 && output.includes(": OK"), output };
}
