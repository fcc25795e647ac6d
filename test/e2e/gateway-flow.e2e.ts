// test/e2e/gateway-flow.ts, the gateway's call sequence, run as a self-hoster would run it
// (its own process, arguments only) against the compiled binary; the emailed link is read
// from the Resend stand-in through a small mailbox endpoint.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startResendStandIn, type ResendStandIn } from "../support/resend.ts";
import { apiGet, describe as said } from "./lib/api.ts";
import { DOMAIN, ROOT, startBinary, type BinaryServer } from "./lib/binary.ts";
import { dig } from "./lib/dig.ts";
import { run, tail, waitFor } from "./lib/proc.ts";
import { check, Steps } from "./lib/steps.ts";

const steps = new Steps("gateway-flow");
let work: string;
let resend: ResendStandIn;
let server: BinaryServer;
let mailbox: ReturnType<typeof Bun.serve>;
let linkCmd: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "regsrv-e2e-flow-"));
  resend = startResendStandIn();
  // GET /link?to=ADDR: the verifyemail link of the latest email to ADDR (waits for it).
  mailbox = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const to = new URL(req.url).searchParams.get("to") ?? "";
      try {
        const email = await waitFor(`an email to ${to}`, 8000, () => resend.emails.findLast((e) => e.to.includes(to)), 50);
        const link = /https?:\/\/\S+?\/verifyemail\?s=[0-9a-f-]{36}/.exec(`${email.text ?? ""} ${email.html ?? ""}`)?.[0];
        return link ? new Response(`${link}\n`) : new Response("no link in the email\n", { status: 404 });
      } catch (e) {
        return new Response(`${(e as Error).message}\n`, { status: 404 });
      }
    },
  });
  const reader = join(work, "read-link.ts");
  writeFileSync(
    reader,
    `const r = await fetch("http://127.0.0.1:${mailbox.port}/link?to=" + encodeURIComponent(process.env.GATEWAY_FLOW_EMAIL ?? ""));
const text = await r.text();
if (!r.ok) { console.error(text); process.exit(1); }
console.log(text);
`,
  );
  linkCmd = `'${process.execPath}' '${reader}'`;
  server = await steps.step("start the compiled server", 60_000, () => startBinary(resend));
  steps.watch("registration-server", () => server.output());
});

afterAll(async () => {
  await server?.dispose();
  mailbox?.stop(true);
  resend?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
  console.log(`gateway-flow e2e step timings:\n${steps.summary()}`);
});

const flow = (extra: string[]) =>
  run([process.execPath, join(ROOT, "test", "e2e", "gateway-flow.ts"), server.url, DOMAIN, `127.0.0.1:${server.dnsPort}`, ...extra], {
    cwd: ROOT,
    timeoutMs: 120_000,
  });

/** The name is gone: NXDOMAIN in DNS and unknown to /reclaim. */
async function expectGone(label: string) {
  const r = await dig(`127.0.0.1:${server.dnsPort}`, `${label}.${DOMAIN}`, "A", { recurse: false });
  check(r.status === "NXDOMAIN", `expected ${label}.${DOMAIN} to be NXDOMAIN, got ${r.status}\n${r.raw}`);
  const reclaim = await apiGet(server.url, "/reclaim", { name: label });
  check(reclaim.status === 400 && reclaim.json?.error === "NoSuchName", `expected 400 NoSuchName: ${said("/reclaim", reclaim)}`);
}

test("gateway-flow.ts passes every step against the compiled binary and leaves no name behind", async () => {
  const label = `gwflow-${crypto.randomUUID().slice(0, 8)}`;
  const result = await steps.step("run bun test/e2e/gateway-flow.ts", 130_000, async () => {
    const r = await flow(["--name", label, "--real-ip", "127.0.0.55", "--verify-link-cmd", linkCmd]);
    check(
      r.code === 0,
      `gateway-flow.ts exited ${r.timedOut ? "(timed out)" : r.code}, expected 0\n--- gateway-flow output ---\n${tail(r.stdout + r.stderr, 40)}`,
    );
    return r;
  });
  console.log(result.stdout);
  await steps.step("it ran every step of the sequence", 5_000, () => {
    for (const s of [
      "/subscribe",
      "/dnsconfig",
      "/setemail",
      "follow the emailed verifyemail link",
      "/ping",
      "/info shows",
      "answers the ping address",
      "answers the challenge",
      "/unsubscribe",
      "NXDOMAIN",
    ])
      check(
        result.stdout.split("\n").some((l) => l.startsWith("ok   ") && l.includes(s)),
        `no passed step mentioning "${s}" in:\n${result.stdout}`,
      );
    expect(result.stdout).toContain("gateway-flow: every step passed");
  });
  await steps.step("the name it created is gone", 10_000, () => expectGone(label));
});

test("gateway-flow.ts names the failing step and still removes its name", async () => {
  const label = `gwflow-fail-${crypto.randomUUID().slice(0, 8)}`;
  const result = await steps.step("run gateway-flow.ts with a verify-link command that fails", 130_000, async () => {
    const r = await flow(["--name", label, "--verify-link-cmd", "echo 'mailbox unreachable' >&2; exit 3"]);
    check(r.code === 1, `exit ${r.code}, expected 1\n${r.stdout}${r.stderr}`);
    return r;
  });
  await steps.step("the failure names the step", 5_000, () => {
    expect(result.stderr).toContain('step "follow the emailed verifyemail link" failed');
    expect(result.stdout).toContain(`cleanup: unsubscribed ${label}`);
  });
  await steps.step("the name it created is gone", 10_000, () => expectGone(label));
});

test("gateway-flow.ts without arguments prints its usage and exits 2", async () => {
  const r = await run([process.execPath, join(ROOT, "test", "e2e", "gateway-flow.ts")], { timeoutMs: 15_000 });
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("usage: bun test/e2e/gateway-flow.ts <base-url> <domain>");
});
