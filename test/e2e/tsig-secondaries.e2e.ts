// TSIG and NOTIFY against real secondaries (NSD, Knot, BIND, each skipped when not installed):
// a stand-in primary made of parseQuery, verifyRequest and TsigSigner serves a signed AXFR; the
// secondary loads it; createNotifier then announces a new serial, the secondary's signed reply
// must verify, and its signed IXFR query (the client's SOA in authority) must parse and verify
// before it answers the new record. Waits are bounded polls, not measurements.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TsigKey } from "../../src/config.ts";
import { createNotifier, type NotifyResult } from "../../src/dns/notify.ts";
import { TsigSigner, tsigErrorReply, verifyRequest } from "../../src/dns/tsig.ts";
import { encodeResponse, parseQuery, TCP_LIMIT, type Query, type TsigRecord } from "../../src/dns/wire.ts";
import type { ResourceRecord } from "../../src/dns/zone.ts";
import { decode, encodeQuery, tcpFramed, testZone, udpExchange } from "../dns/client.ts";

const KEY: TsigKey = { name: "xfr-key.", algorithm: "hmac-sha256", secret: Buffer.alloc(32, 0x3c).toString("base64") };

/** What the stand-in primary saw: every query, and whether its TSIG verified. */
interface Seen {
  transport: "udp" | "tcp";
  qtype: number;
  ixfrSerial?: number;
  verified: boolean;
}

/** A primary for example.test on 127.0.0.1 (UDP and TCP, one port): SOA, and AXFR (also as the answer to IXFR), signed. */
async function standInPrimary() {
  const state = { serial: 5, seen: [] as Seen[] };
  const soa = (): ResourceRecord => ({
    name: "example.test",
    ttl: 60,
    type: "SOA",
    mname: "ns1.example.test",
    rname: "h.example.test",
    serial: state.serial,
    refresh: 900,
    retry: 900,
    expire: 1209600,
    minimum: 60,
  });
  const a = (i: number): ResourceRecord => ({ name: `a${i}.example.test`, ttl: 60, type: "A", address: `192.0.2.${i}` });
  const ns: ResourceRecord = { name: "example.test", ttl: 60, type: "NS", target: "ns1.example.test" };
  function respond(message: Buffer, transport: "udp" | "tcp"): Buffer[] {
    const parsed = parseQuery(message);
    if (parsed.kind !== "query") return [];
    const query = parsed.query;
    const now = Date.now() / 1000;
    const check = query.tsig ? verifyRequest(message, query.tsig, [KEY], now) : null;
    state.seen.push({ transport, qtype: query.question.type, ixfrSerial: query.ixfrSerial, verified: check?.ok === true });
    if (!check) return [];
    if (!check.ok) return [tsigErrorReply(query as Query & { tsig: TsigRecord }, check.error, [KEY], now)];
    const signer = new TsigSigner(check.key, check.requestMac);
    const transfer = query.question.type === 252 || query.question.type === 251;
    // three messages: the secondary checks the TSIG chain across them
    const groups = transfer
      ? [
          [soa(), ns, a(1)],
          [a(2), a(3)],
          [...(state.serial > 5 ? [a(4), a(5)] : [a(4)]), soa()],
        ]
      : [[soa()]];
    return groups.map((answers, i) =>
      signer.sign(
        encodeResponse({ ...query, opcode: 0, rcode: 0, aa: true, edns: i === 0 ? query.edns : null, answers, authority: [], additional: [] }, TCP_LIMIT),
        now,
      ),
    );
  }
  const tcp: Server = createServer((socket) => {
    let pending: Buffer = Buffer.alloc(0);
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const message = pending.subarray(2, 2 + pending.readUInt16BE(0));
        pending = pending.subarray(2 + message.length);
        for (const out of respond(message, "tcp")) socket.write(tcpFramed(out));
      }
    });
  });
  await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", () => resolve()));
  const port = (tcp.address() as AddressInfo).port;
  const udp = createSocket("udp4");
  udp.on("message", (message, from) => {
    for (const out of respond(message, "udp")) udp.send(out, from.port, from.address);
  });
  await new Promise<void>((resolve) => udp.bind(port, "127.0.0.1", () => resolve()));
  return {
    port,
    state,
    close() {
      udp.close();
      tcp.close();
    },
  };
}

/** A free port for UDP and TCP both (bound and released; the secondary binds it next). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** What the secondary answers for `name`/`type` ("" while it answers nothing): one UDP query of ours, as a poll. */
async function answerOf(port: number, name: string, type: string): Promise<string> {
  try {
    const reply = decode(await udpExchange(port, encodeQuery(name, type), 200));
    return (reply.answers ?? [])
      .filter((a) => a.type === type)
      .map((a) => String((a as { data: unknown }).data))
      .join("\n");
  } catch {
    return ""; // not listening yet, or no reply within 0.2 s
  }
}

async function eventually(what: string, condition: () => Promise<boolean> | boolean, log: () => string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (await condition()) return;
    await Bun.sleep(100);
  }
  throw new Error(`${what} did not happen within 15 s; secondary's log:\n${log()}`);
}

interface Secondary {
  binary: string;
  /** the config file's text, and the command that runs it in the foreground */
  config(dir: string, port: number, primaryPort: number, secret: string): string;
  command(dir: string, configFile: string): string[];
  logFile?: string;
}

const SECONDARIES: Record<string, Secondary> = {
  NSD: {
    binary: "/usr/sbin/nsd",
    config: (dir, port, primaryPort, secret) => `server:
  ip-address: 127.0.0.1@${port}
  username: ""
  chroot: ""
  zonesdir: "${dir}"
  pidfile: "${dir}/nsd.pid"
  database: ""
  xfrdfile: "${dir}/xfrd.state"
  zonelistfile: "${dir}/zone.list"
  xfrdir: "${dir}"
  logfile: "${dir}/secondary.log"
  verbosity: 2
  server-count: 1
remote-control:
  control-enable: no
key:
  name: "xfr-key"
  algorithm: hmac-sha256
  secret: "${secret}"
zone:
  name: "example.test"
  zonefile: "example.test.zone"
  request-xfr: 127.0.0.1@${primaryPort} xfr-key
  allow-notify: 127.0.0.1 xfr-key
`,
    command: (_dir, file) => ["/usr/sbin/nsd", "-d", "-c", file],
    logFile: "secondary.log",
  },
  Knot: {
    binary: "/usr/sbin/knotd",
    config: (dir, port, primaryPort, secret) => `server:
    listen: 127.0.0.1@${port}
    rundir: "${dir}"
database:
    storage: "${dir}"
log:
  - target: "${dir}/secondary.log"
    any: info
key:
  - id: xfr-key
    algorithm: hmac-sha256
    secret: ${secret}
remote:
  - id: primary
    address: 127.0.0.1@${primaryPort}
    key: xfr-key
acl:
  - id: notify-from-primary
    address: 127.0.0.1
    key: xfr-key
    action: notify
zone:
  - domain: example.test
    storage: "${dir}"
    file: "example.test.zone"
    master: primary
    acl: notify-from-primary
`,
    command: (_dir, file) => ["/usr/sbin/knotd", "-c", file],
    logFile: "secondary.log",
  },
  BIND: {
    binary: "/usr/sbin/named",
    config: (dir, port, primaryPort, secret) => `options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  session-keyfile "${dir}/session.key";
  managed-keys-directory "${dir}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  notify no;
  dnssec-validation no;
};
controls { };
logging { channel file { file "${dir}/secondary.log"; severity info; print-time yes; }; category default { file; }; category xfer-in { file; }; category notify { file; }; };
key "xfr-key" { algorithm hmac-sha256; secret "${secret}"; };
zone "example.test" {
  type secondary;
  primaries port ${primaryPort} { 127.0.0.1 key "xfr-key"; };
  file "${dir}/example.test.db";
  allow-notify { key "xfr-key"; };
  request-ixfr yes;
};
`,
    command: (_dir, file) => ["/usr/sbin/named", "-f", "-u", "root", "-c", file],
    logFile: "secondary.log",
  },
};

for (const [name, secondary] of Object.entries(SECONDARIES)) {
  describe.skipIf(!existsSync(secondary.binary))(`${name} as a TSIG-keyed secondary`, () => {
    let primary: Awaited<ReturnType<typeof standInPrimary>>;
    let dir: string;
    let port: number;
    let proc: ReturnType<typeof Bun.spawn>;
    const log = () => (secondary.logFile && existsSync(join(dir, secondary.logFile)) ? readFileSync(join(dir, secondary.logFile), "utf8") : "(no log)");

    beforeAll(async () => {
      primary = await standInPrimary();
      dir = mkdtempSync(join(tmpdir(), `tsig-${name.toLowerCase()}-`));
      port = await freePort();
      const file = join(dir, "secondary.conf");
      writeFileSync(file, secondary.config(dir, port, primary.port, KEY.secret));
      proc = Bun.spawn(secondary.command(dir, file), { stdout: "ignore", stderr: "ignore" });
    });
    afterAll(async () => {
      proc?.kill();
      await proc?.exited;
      primary?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test(`${name} loads our signed three-message AXFR, verifies our signed NOTIFY, and takes the new serial by a signed IXFR`, async () => {
      await eventually("the first transfer", async () => (await answerOf(port, "a4.example.test", "A")) === "192.0.2.4", log);
      expect(primary.state.seen.filter((s) => s.qtype === 252 || s.qtype === 251).every((s) => s.verified)).toBe(true);

      primary.state.serial = 6;
      const results: NotifyResult[] = [];
      const lines: string[] = [];
      const notifier = createNotifier({
        zone: testZone({ tsigKeys: [KEY], notify: [{ host: "127.0.0.1", port, key: KEY.name }] }),
        log: (line) => lines.push(line),
        onResult: (_target, _serial, result) => results.push(result),
      });
      try {
        notifier.notify(6);
        await eventually("the NOTIFY's answer", () => results.length > 0, log);
        expect([results, lines]).toEqual([["answered"], []]);
        await eventually("the new record", async () => (await answerOf(port, "a5.example.test", "A")) === "192.0.2.5", log);
      } finally {
        notifier.close();
      }
      // the secondary asked for the change since serial 5 (IXFR, its SOA in authority), signed
      const ixfr = primary.state.seen.filter((s) => s.qtype === 251);
      expect(ixfr.length).toBeGreaterThan(0);
      expect(ixfr.every((s) => s.ixfrSerial === 5 && s.verified)).toBe(true);
    });
  });
}
