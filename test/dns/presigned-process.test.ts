// The whole server (a child process) with dns.dnssec on and transfers allowed: what `dig AXFR`
// receives is a presigned zone that ldns-verify-zone verifies as complete with the served
// DNSKEY's DS as the trust anchor (and BIND's dnssec-verify calls fully signed), and refuses
// once one signature byte is flipped.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { get, startServer, type RunningServer } from "../support/server.ts";
import { haveTools } from "../support/tools.ts";
import { startZoneDns } from "../support/zone-dns.ts";
import { soaSerial } from "./client.ts";

let server: RunningServer;
const dir = mkdtempSync(join(tmpdir(), "regsrv-presigned-proc-"));

async function run(command: string[]): Promise<{ code: number; out: string }> {
  const proc = Bun.spawn(command, { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out: `${stdout}${stderr}` };
}

const dig = (...args: string[]) => run(["/usr/bin/dig", "-p", String(server.dnsPort), "@127.0.0.1", "+tries=1", "+time=5", ...args]);

/** ldns-verify-zone over a zone text, with the DS of its apex DNSKEY (ldns-key2ds) as the trust anchor. */
async function verifyZone(text: string, anchor: string): Promise<{ code: number; out: string }> {
  const zoneFile = join(dir, "zone");
  const anchorFile = join(dir, "anchor");
  writeFileSync(zoneFile, text);
  writeFileSync(anchorFile, anchor);
  return run(["ldns-verify-zone", "-k", anchorFile, zoneFile]);
}

beforeAll(async () => {
  server = await startServer({
    env: { REGISTRATION_DNS_DNSSEC: "true", REGISTRATION_DNS_TRANSFER_ACL: '[["127.0.0.1", ""]]', REGISTRATION_DNS_PAGEKITE_ADDRESS: "192.0.2.99" },
  });
  // names whose octet order is not their canonical order, one with a challenge below it
  for (const [name, mode] of [
    ["a", 1],
    ["a-b", 1],
    ["a0", 0],
    ["home", 1],
  ] as const) {
    const res = await get(server, `/subscribe?name=${name}&mode=${mode}`);
    expect(res.status).toBe(200);
    expect((await get(server, `/ping?token=${res.json.token}`)).status).toBe(200);
    if (name === "a") expect((await get(server, `/dnsconfig?token=${res.json.token}&challenge=signed-challenge`)).status).toBe(200);
  }
});

afterAll(async () => {
  await server?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!haveTools("dig", "ldns-verify-zone", "ldns-key2ds", "dnssec-verify"))("a signed server's AXFR (whole process, dig, ldns-verify-zone)", () => {
  test("dig AXFR gets a zone ldns-verify-zone calls verified and complete; one flipped signature byte fails it", async () => {
    // the serial follows the API within ~10 ms; the transfer must hold the four names
    let text = "";
    for (let i = 0; i < 50; i++) {
      const axfr = await dig("+onesoa", "example.test", "AXFR");
      expect(axfr.code).toBe(0);
      text = axfr.out;
      if (text.includes("a0.example.test.") && text.includes("_acme-challenge.a.example.test.")) break;
      await Bun.sleep(100);
    }
    expect(text).toMatch(/^example\.test\.\s+\d+\s+IN\s+DNSKEY\s+257 3 13 /m);
    expect(text).toMatch(/^a\.example\.test\.\s+\d+\s+IN\s+NSEC\s+_acme-challenge\.a\.example\.test\. A RRSIG NSEC/m);
    expect(text).toMatch(/^example\.test\.example\.test\.\s+\d+\s+IN\s+NSEC\s+\S+ NS RRSIG NSEC/m);
    const dnskey = await dig("+short", "example.test", "DNSKEY");
    expect(dnskey.code).toBe(0);
    const keyFile = join(dir, "dnskey");
    writeFileSync(keyFile, `example.test. 3600 IN DNSKEY ${dnskey.out.trim()}\n`);
    const ds = await run(["dnssec-dsfromkey", "-2", "-f", keyFile, "example.test"]);
    expect(ds.code).toBe(0);
    const anchor = ds.out.trim();

    const good = await verifyZone(text, `${anchor}\n`);
    expect(good.out).toContain("Zone is verified and complete");
    expect(good.code).toBe(0);
    // BIND's verifier too (-z: the one combined key signs everything, there is no separate ZSK)
    const bind = await run(["dnssec-verify", "-z", "-o", "example.test", join(dir, "zone")]);
    expect(bind.out).toContain("Zone fully signed");
    expect(bind.code).toBe(0);

    // one byte of the RRSIG over a-b's A: base64 decoded, flipped, encoded again
    const lines = text.split("\n");
    const at = lines.findIndex((l) => /^a-b\.example\.test\.\s+\d+\s+IN\s+RRSIG\s+A /.test(l));
    expect(at).toBeGreaterThan(-1);
    const fields = lines[at].split(/\s+/);
    // owner TTL IN RRSIG, then type covered, algorithm, labels, TTL, expiration, inception, tag, signer: the signature (in chunks)
    const signatureAt = fields.indexOf("RRSIG") + 9;
    const signature = Buffer.from(fields.slice(signatureAt).join(""), "base64");
    expect(signature).toHaveLength(64);
    signature[5] ^= 0x01;
    lines[at] = [...fields.slice(0, signatureAt), signature.toString("base64")].join(" ");
    const bad = await verifyZone(lines.join("\n"), `${anchor}\n`);
    expect(bad.code).not.toBe(0);
    expect(bad.out).not.toContain("Zone is verified and complete");
    expect(bad.out).toMatch(/Bogus DNSSEC signature for a-b\.example\.test\.\s+A/);
  });
});

// Restarts as the DNS sees them: the server's DNS side started in this process on the same file
// (test/support/zone-dns.ts: the start's key set-up and zone publisher, as serve.ts wires them).
describe("turning dns.dnssec on or off (restarts on one file)", () => {
  test("moves the serial, so secondaries transfer the zone again, signed or not; a signed restart in the same week does not", async () => {
    const own = mkdtempSync(join(tmpdir(), "regsrv-presigned-serial-"));
    const dbPath = join(own, "registration.sqlite");
    const serialOf = async (env: Record<string, string>) => {
      const s = await startZoneDns(["--domain", "example.test", "--db", dbPath], env);
      try {
        return await soaSerial(s.dnsPort);
      } finally {
        await s.close();
      }
    };
    try {
      const unsigned = await serialOf({});
      const signed = await serialOf({ REGISTRATION_DNS_DNSSEC: "true" });
      expect(signed).toBeGreaterThan(unsigned);
      expect(await serialOf({ REGISTRATION_DNS_DNSSEC: "true" })).toBe(signed);
      expect(await serialOf({})).toBeGreaterThan(signed);
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  }, 60_000);
});
