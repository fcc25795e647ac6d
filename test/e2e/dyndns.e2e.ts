// Routers' and home servers' dynamic-DNS clients against the compiled binary: Debian's ddclient
// and inadyn update a name over dyndns2 (/nic/update), then dig sees the new A and AAAA at our
// DNS port; a wrong token gives badauth and changes nothing.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startResendStandIn, type ResendStandIn } from "../support/resend.ts";
import { apiGet, describe as described } from "./lib/api.ts";
import { DOMAIN, startBinary, type BinaryServer } from "./lib/binary.ts";
import { runDdclient, runInadyn, said, type DdnsAccount } from "./lib/ddns.ts";
import { dig } from "./lib/dig.ts";
import { stopAllDaemons } from "./lib/proc.ts";
import { check, Steps } from "./lib/steps.ts";

const steps = new Steps("dyndns");
let work: string;
let resend: ResendStandIn;
let server: BinaryServer;

const run = crypto.randomUUID().slice(0, 8);
const WRONG_TOKEN = "00000000-0000-4000-8000-000000000000";

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "regsrv-e2e-dyndns-"));
  resend = startResendStandIn();
  server = await steps.step("start the compiled server", 60_000, () => startBinary(resend));
  steps.watch("registration-server", () => server.output());
});

afterAll(async () => {
  if (server) await server.dispose();
  resend?.stop();
  await stopAllDaemons();
  if (work) rmSync(work, { recursive: true, force: true });
  console.log(`dyndns e2e step timings:\n${steps.summary()}`);
});

/** A fresh dynamic-DNS name, and the account a client updates it with. */
async function dynamicName(prefix: string): Promise<DdnsAccount> {
  const label = `${prefix}-${run}`;
  const r = await apiGet(server.url, "/subscribe", { name: label, mode: "1" });
  check(r.status === 200, `expected 200: ${described("/subscribe", r)}`);
  return { server: `127.0.0.1:${server.httpPort}`, login: label, password: r.json.token, hostname: `${label}.${DOMAIN}`, address: "" };
}

/** What our DNS answers for a name and type, as dig sees it. */
async function answers(name: string, type: "A" | "AAAA"): Promise<string[]> {
  const r = await dig(`127.0.0.1:${server.dnsPort}`, name, type);
  check(r.status === "NOERROR" && r.flags.includes("aa"), `expected NOERROR aa for ${name} ${type}:\n${r.raw}`);
  return r.answer.filter((rr) => rr.type === type).map((rr) => rr.data);
}

const info = async (token: string) => (await apiGet(server.url, "/info", { token })).json;

test("ddclient (dyndns2, use=cmd) sets a name's A, then its AAAA, and dig answers both", async () => {
  const account = await steps.step("subscribe a dynamic-DNS name", 15_000, () => dynamicName("ddclient"));
  await steps.step("ddclient updates the name to 203.0.113.7", 40_000, async () => {
    const result = await runDdclient(work, { ...account, address: "203.0.113.7" });
    check(result.code === 0 && /SUCCESS:.*good.*203\.0\.113\.7/.test(result.stdout + result.stderr), `ddclient did not report good${said("ddclient", result)}`);
  });
  await steps.step("dig answers the new A", 15_000, async () => {
    expect(await answers(account.hostname, "A")).toEqual(["203.0.113.7"]);
  });
  await steps.step("ddclient sends an IPv6 address: AAAA answers it and A is kept", 40_000, async () => {
    const result = await runDdclient(work, { ...account, address: "2001:db8::7" });
    check(result.code === 0 && /SUCCESS:.*good/.test(result.stdout + result.stderr), `ddclient did not report good${said("ddclient", result)}`);
    expect(await answers(account.hostname, "AAAA")).toEqual(["2001:db8::7"]);
    expect(await answers(account.hostname, "A")).toEqual(["203.0.113.7"]);
  });
  await steps.step("ddclient with a wrong token gets badauth and nothing changes", 40_000, async () => {
    const before = await info(account.password);
    const result = await runDdclient(work, { ...account, password: WRONG_TOKEN, address: "198.51.100.66" });
    check(/FAILED:.*badauth/.test(result.stdout + result.stderr), `ddclient did not report badauth${said("ddclient", result)}`);
    expect(await answers(account.hostname, "A")).toEqual(["203.0.113.7"]);
    expect(await info(account.password)).toEqual(before);
  });
  await steps.step("the server's log holds the request lines but never the token", 5_000, () => {
    const output = server.output();
    check(/GET \/nic\/update\S* 200/.test(output), "no access-log line for /nic/update");
    check(!output.includes(account.password), "the token appears in the server's log");
  });
});

test("inadyn (custom provider, ddns-server/ddns-path) sets a name's A, then its AAAA, and dig answers both", async () => {
  const account = await steps.step("subscribe a dynamic-DNS name", 15_000, () => dynamicName("inadyn"));
  await steps.step("inadyn updates the name to 203.0.113.8", 40_000, async () => {
    const result = await runInadyn(work, { ...account, address: "203.0.113.8" });
    check(result.code === 0 && /Successful alias table update/.test(result.stdout + result.stderr), `inadyn did not succeed${said("inadyn", result)}`);
  });
  await steps.step("dig answers the new A", 15_000, async () => {
    expect(await answers(account.hostname, "A")).toEqual(["203.0.113.8"]);
  });
  await steps.step("inadyn sends an IPv6 address: AAAA answers it and A is kept", 40_000, async () => {
    const result = await runInadyn(work, { ...account, address: "2001:db8::8" });
    check(result.code === 0 && /Successful alias table update/.test(result.stdout + result.stderr), `inadyn did not succeed${said("inadyn", result)}`);
    expect(await answers(account.hostname, "AAAA")).toEqual(["2001:db8::8"]);
    expect(await answers(account.hostname, "A")).toEqual(["203.0.113.8"]);
  });
  await steps.step("inadyn with a wrong token gets badauth and nothing changes", 40_000, async () => {
    const before = await info(account.password);
    const result = await runInadyn(work, { ...account, password: WRONG_TOKEN, address: "198.51.100.67" });
    check(/badauth/.test(result.stdout + result.stderr), `inadyn did not report badauth${said("inadyn", result)}`);
    expect(await answers(account.hostname, "A")).toEqual(["203.0.113.8"]);
    expect(await info(account.password)).toEqual(before);
  });
});
