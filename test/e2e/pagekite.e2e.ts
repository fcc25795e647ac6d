// PageKite tunnel authentication with the real peer (docs/dns.md, "PageKite"): Debian's pagekite as a
// front end that authenticates kites through our DNS (--authdomain=<zone> --authfail_closed),
// and as back ends flying kites named after gateways with their API token as the kite secret.
// pagekite only asks the system resolver on port 53, so the whole scenario (our binary, unbound
// on 127.0.0.1:53 with a stub-zone for the zone, the front end, the back ends, the page behind
// them) runs in a private network + mount namespace (lib/netns.ts). Needs root, as CI has.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../support/server.ts";
import { startResendStandIn, type ResendStandIn } from "../support/resend.ts";
import { DOMAIN, startBinary, type BinaryServer } from "./lib/binary.ts";
import { nsGet, startNetNs, type NetNs, type NsReply } from "./lib/netns.ts";
import { startBackEnd, startFrontEnd, startKitePage, waitForVerdict, type Kite, type Verdict } from "./lib/pagekite.ts";
import { stopAllDaemons, waitFor, type Daemon } from "./lib/proc.ts";
import { check, Steps } from "./lib/steps.ts";
import { startUnbound, type Unbound } from "./lib/unbound.ts";

const steps = new Steps("pagekite");
const run = crypto.randomUUID().slice(0, 8);
const gw = `kite-${run}`; // a registered gateway flying its own kite
const own = `own-${run}`; // a gateway registered by whoever then asks for the wildcard
const nonce = crypto.randomUUID();
const VERDICT_MS = 30_000;

let work: string;
let resend: ResendStandIn;
let ns: NetNs;
let server: BinaryServer;
let unbound: Unbound;
let frontEnd: Daemon;
let page: Daemon;
let frontEndPort: number;
let pagePort: number;
const tokens = new Map<string, string>();

beforeAll(async () => {
  check(process.getuid?.() === 0, "the pagekite e2e needs root (unshare --net --mount), as CI has");
  work = mkdtempSync(join(tmpdir(), "regsrv-e2e-pagekite-"));
  resend = startResendStandIn();
  ns = await steps.step("create a network namespace with resolv.conf naming 127.0.0.1", 15_000, () => startNetNs(work, 280));
  server = await steps.step("start the compiled server in the namespace", 60_000, () => startBinary(resend, [], { exec: ns.exec() }));
  steps.watch("registration-server", () => server.output());
  unbound = await steps.step("start unbound on the namespace's 127.0.0.1:53 with a stub-zone for the zone", 30_000, () =>
    startUnbound(work, DOMAIN, `127.0.0.1:${server.dnsPort}`, { port: 53, exec: ns.exec() }),
  );
  steps.watch("unbound", () => unbound.daemon.output());
  await steps.step("register the gateways through the API (tunnel mode)", 30_000, async () => {
    for (const name of [gw, own]) {
      const r = await nsGet(ns, `${server.url}/subscribe?name=${name}&mode=0`);
      check(r.status === 200, `/subscribe ${name}: expected 200, got ${r.status} ${r.body}`);
      tokens.set(name, JSON.parse(r.body).token);
    }
  });
  [frontEndPort, pagePort] = [await freePort(), await freePort()];
  page = await steps.step("start the page the kites forward to", 15_000, () => startKitePage(ns, pagePort, nonce));
  frontEnd = await steps.step(`start the pagekite front end with --authdomain=${DOMAIN} --authfail_closed`, 30_000, () =>
    startFrontEnd(ns, frontEndPort, DOMAIN),
  );
  steps.watch("pagekite front end", () => frontEnd.output());
});

afterAll(async () => {
  for (const d of [frontEnd, page, unbound?.daemon]) await d?.stop();
  if (server) await server.dispose();
  await ns?.stop();
  resend?.stop();
  await stopAllDaemons();
  if (work) rmSync(work, { recursive: true, force: true });
  console.log(`pagekite e2e step timings:\n${steps.summary()}`);
});

/** Starts a back end with these kites, waits for the front end's verdict on each, and always stops it. */
async function fly<T>(label: string, kites: Kite[], body: (verdicts: Verdict[]) => Promise<T>): Promise<T> {
  const backEnd = startBackEnd(ns, `pagekite back end (${label})`, frontEndPort, pagePort, kites);
  steps.watch(backEnd.name, () => backEnd.output());
  try {
    const verdicts: Verdict[] = [];
    for (const kite of kites)
      verdicts.push(
        await steps.step(`${label}: the front end's verdict on ${kite.name}`, VERDICT_MS + 5000, () => waitForVerdict(backEnd, kite.name, VERDICT_MS)),
      );
    return await body(verdicts);
  } finally {
    await backEnd.stop();
    steps.unwatch(backEnd.name);
  }
}

/** GET / on the front end for a kite name, as a browser would ask it. */
const throughFrontEnd = (host: string): Promise<NsReply> => nsGet(ns, `http://127.0.0.1:${frontEndPort}/`, host);

/** The front end does not serve the page (pagekite answers its own "unavailable" page instead). */
async function notServed(host: string): Promise<void> {
  const r = await throughFrontEnd(host);
  check(!r.body.includes(nonce), `the page was served for ${host}: ${r.status} ${r.body}`);
}

test("the gateway's own token: the front end accepts its kite and serves the page through the tunnel", async () => {
  const kite = `${gw}.${DOMAIN}`;
  await fly("right token", [{ name: kite, secret: tokens.get(gw)! }], async ([verdict]) => {
    check(verdict.accepted, `expected the kite accepted: ${verdict.line}`);
    const r = await steps.step("GET through the front end with the kite's Host", 20_000, () =>
      waitFor(
        "the page through the tunnel",
        15_000,
        async () => {
          const reply = await throughFrontEnd(kite);
          return reply.body.includes(nonce) ? reply : undefined;
        },
        250,
      ),
    );
    expect(r.status).toBe(200);
    expect(r.body).toBe(`kite-page ${nonce} host=${kite}`);
  });
});

test("a wrong token is refused and nothing is served for the gateway", async () => {
  const kite = `${gw}.${DOMAIN}`;
  await fly("wrong token", [{ name: kite, secret: crypto.randomUUID() }], async ([verdict]) => {
    check(!verdict.accepted, `expected the kite refused: ${verdict.line}`);
    await steps.step("GET through the front end is not the page", 20_000, () => notServed(kite));
  });
});

test("an unknown kite name is refused (255.255.255.1, not the .0 pagekite lets in)", async () => {
  const kite = `nobody-${run}.${DOMAIN}`;
  await fly("unknown name", [{ name: kite, secret: crypto.randomUUID() }], async ([verdict]) => {
    check(!verdict.accepted, `expected the unknown kite refused: ${verdict.line}`);
    await steps.step("GET through the front end is not the page", 20_000, () => notServed(kite));
  });
});

test("a nested kite name under a registered gateway is refused, even signed with the gateway's token", async () => {
  const kite = `sub.${gw}.${DOMAIN}`;
  await fly("nested name", [{ name: kite, secret: tokens.get(gw)! }], async ([verdict]) => {
    check(!verdict.accepted, `expected the nested kite refused: ${verdict.line}`);
    await steps.step("GET through the front end is not the page", 20_000, () => notServed(kite));
  });
});

test("a wildcard kite (*.<zone>, looked up as _any_) is refused while the same back end's own kite is accepted", async () => {
  // pagekite only connects for a non-wildcard kite, so the wildcard rides along with a real one.
  const ownKite = `${own}.${DOMAIN}`;
  const wildcard = `*.${DOMAIN}`;
  const secret = tokens.get(own)!;
  await fly(
    "wildcard",
    [
      { name: ownKite, secret },
      { name: wildcard, secret },
    ],
    async ([ownVerdict, wildVerdict]) => {
      check(ownVerdict.accepted, `expected the back end's own kite accepted: ${ownVerdict.line}`);
      check(!wildVerdict.accepted, `expected the wildcard kite refused: ${wildVerdict.line}`);
      await steps.step("the own kite is served (the tunnel is up)", 20_000, () =>
        waitFor("the own kite's page", 15_000, async () => ((await throughFrontEnd(ownKite)).body.includes(nonce) ? true : undefined), 250),
      );
      await steps.step("a name nobody flies is not caught by the wildcard", 20_000, () => notServed(`offline-${run}.${DOMAIN}`));
    },
  );
});
