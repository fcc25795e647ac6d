// A running server as a primary (docs/dns.md, "Zone transfers"): a signed AXFR and IXFR read by
// dig after API changes, and NOTIFYs on each new serial to a UDP socket playing the secondary.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode, soaSerial } from "../dns/client.ts";
import { subscribe, waitFor, writeToml } from "../support/helpers.ts";
import { get, startServer, type RunningServer } from "../support/server.ts";
import { haveTools } from "../support/tools.ts";

const dir = mkdtempSync(join(tmpdir(), "regsrv-xfr-"));
const secret = Buffer.alloc(32, 3).toString("base64");
const notified: { serial: number; signed: boolean }[] = [];
const secondary = await Bun.udpSocket({
  hostname: "127.0.0.1",
  socket: {
    data(_socket, message) {
      const decoded = decode(message);
      if (decoded.opcode !== "NOTIFY") return;
      const soa = decoded.answers?.find((a) => a.type === "SOA") as { data: { serial: number } } | undefined;
      notified.push({ serial: soa?.data.serial ?? -1, signed: (decoded.additionals ?? []).some((a) => (a.type as string) === "TSIG") });
    },
  },
});
let server: RunningServer | undefined;
afterAll(async () => {
  await server?.cleanup();
  secondary.close();
  rmSync(dir, { recursive: true, force: true });
});

async function dig(port: number, ...args: string[]): Promise<string[]> {
  const child = Bun.spawn(["dig", "@127.0.0.1", "-p", String(port), "-y", `hmac-sha256:xfr-key.:${secret}`, "+nocmd", "+nostats", "+tries=1", ...args], {
    stdout: "pipe",
  });
  return (await new Response(child.stdout).text()).split("\n").filter((line) => line && !line.startsWith(";") && !/\tTSIG\t/.test(line));
}

describe.skipIf(!haveTools("dig"))("the server as a primary", () => {
  test("AXFR and IXFR follow the API's changes; each new serial is NOTIFYed, signed", async () => {
    const config = await writeToml(
      dir,
      [
        "[dns]",
        `tsig_keys = [["xfr-key.", "hmac-sha256", "${secret}"]]`,
        'transfer_acl = [["127.0.0.0/8", "xfr-key."]]',
        `notify = [["127.0.0.1:${secondary.port}", "xfr-key."]]`,
        "",
      ].join("\n"),
    );
    server = await startServer({ dir, args: ["--config", config] });
    const port = server.dnsPort;
    const first = await soaSerial(port);
    await waitFor(() => notified.some((n) => n.serial === first), "the start-up NOTIFY");

    const gateway = await subscribe(server);
    expect((await get(server, `/ping?token=${gateway.token}`, { headers: { "X-Real-IP": "203.0.113.40" } })).status).toBe(200);
    const afterPing = await waitFor(async () => {
      const serial = await soaSerial(port);
      return serial !== first && (await dig(port, "example.test", "AXFR")).some((l) => l.includes("203.0.113.40")) ? serial : null;
    }, "the ping's address in a full transfer");
    await waitFor(() => notified.some((n) => n.serial === afterPing), "the NOTIFY of the ping's serial");
    expect(notified.every((n) => n.signed)).toBe(true);

    const axfr = await dig(port, "example.test", "AXFR");
    expect(axfr.filter((l) => /\tSOA\t/.test(l))).toHaveLength(2);
    expect(axfr.some((l) => l.startsWith(`${gateway.name}.example.test.`) && l.endsWith("203.0.113.40"))).toBe(true);

    // a new address and a challenge: the IXFR from the last serial holds exactly those changes
    expect((await get(server, `/ping?token=${gateway.token}`, { headers: { "X-Real-IP": "203.0.113.41" } })).status).toBe(200);
    expect((await get(server, `/dnsconfig?token=${gateway.token}&challenge=xyz`)).status).toBe(200);
    await waitFor(async () => (await dig(port, "example.test", `IXFR=${afterPing}`)).some((l) => l.includes('"xyz"')), "the challenge in an IXFR");
    const now = await soaSerial(port); // nothing changes any more
    const ixfr = await dig(port, "example.test", `IXFR=${afterPing}`);
    const owned = ixfr.filter((l) => !/\tSOA\t/.test(l));
    expect(owned.some((l) => l.endsWith("203.0.113.40"))).toBe(true); // deleted
    expect(owned.some((l) => l.endsWith("203.0.113.41"))).toBe(true); // added
    expect(owned.some((l) => l.startsWith(`_acme-challenge.${gateway.name}.example.test.`))).toBe(true);
    expect(owned.length).toBeLessThan(8); // a difference, not the zone
    expect(ixfr[0]).toContain(` ${now} `);
    // a serial the journal does not know gets the zone in full
    const full = await dig(port, "example.test", "IXFR=1");
    expect(full.filter((l) => /\tSOA\t/.test(l))).toHaveLength(2);
    expect(full.some((l) => l.endsWith("203.0.113.41"))).toBe(true);
    expect(full.some((l) => l.endsWith("203.0.113.40"))).toBe(false);
    expect(full.some((l) => /\tNS\t/.test(l))).toBe(true);
    // and a current one the SOA alone
    expect(await dig(port, "example.test", `IXFR=${now}`)).toHaveLength(1);
  });
});
