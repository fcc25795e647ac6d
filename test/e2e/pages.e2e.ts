// The verification pages and the emails as a person sees them: Debian's chromium, headless,
// driven over the DevTools protocol, against the compiled binary. At 390x844 with phone
// emulation (scripts off, and in dark mode) and at 1280x800: body text at least 16 CSS px,
// nothing scrolls sideways, the confirmed name and address are shown, each state says its
// own thing. Screenshots go to a temporary directory whose paths are printed (CI artefacts).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { loadSettings } from "../../src/config.ts";
import { warningEmail } from "../../src/mail/templates.ts";
import { writeDb } from "../support/helpers.ts";
import { startResendStandIn, type ResendStandIn, type SentEmail } from "../support/resend.ts";
import { apiGet, describe as said, emailSince } from "./lib/api.ts";
import { DOMAIN, ROOT, startBinary, type BinaryServer } from "./lib/binary.ts";
import { startChromium, type Browser, type Tab, type Viewport } from "./lib/chromium.ts";
import { stopAllDaemons } from "./lib/proc.ts";
import { check, Steps } from "./lib/steps.ts";

const PHONE: Viewport = { width: 390, height: 844, deviceScaleFactor: 3, mobile: true };
const DESKTOP: Viewport = { width: 1280, height: 800, deviceScaleFactor: 1, mobile: false };
const UNKNOWN = "6f1d2c3b-4a5e-4f60-8b71-92a3b4c5d6e7";

const steps = new Steps("pages");
const shots = mkdtempSync(join(tmpdir(), "regsrv-e2e-screenshots-"));
let resend: ResendStandIn;
let server: BinaryServer;
let browser: Browser;

beforeAll(async () => {
  resend = startResendStandIn();
  server = await steps.step("start the compiled server", 60_000, () => startBinary(resend));
  steps.watch("registration-server", () => server.output());
  browser = await steps.step("start headless chromium", 60_000, () => startChromium());
  steps.watch("chromium", () => browser.daemon.output());
});

afterAll(async () => {
  await browser?.close();
  if (server) await server.dispose();
  resend?.stop();
  await stopAllDaemons();
  console.log(`pages e2e: screenshots in ${shots}`);
});

interface Seen {
  lang: string | undefined;
  /** the rendered text of <main> */
  text: string;
  /** computed font-size in CSS px of each text element */
  fontSizes: [string, number][];
  contentWidth: number;
  viewportWidth: number;
  background: string;
}

/** What the page shows, read through DOM and CSS (no script runs in the page). */
async function look(tab: Tab, selector = "body, main, h1, p, footer, a, code"): Promise<Seen> {
  await tab.send("DOM.enable");
  await tab.send("CSS.enable");
  const { root } = await tab.send("DOM.getDocument", { depth: 1 });
  const html = (await tab.send("DOM.querySelector", { nodeId: root.nodeId, selector: "html" })).nodeId;
  const attributes: string[] = (await tab.send("DOM.getAttributes", { nodeId: html })).attributes;
  const langAt = attributes.indexOf("lang");
  const { nodeIds } = await tab.send("DOM.querySelectorAll", { nodeId: root.nodeId, selector });
  const fontSizes: [string, number][] = [];
  let background = "";
  for (const nodeId of nodeIds as number[]) {
    const { node } = await tab.send("DOM.describeNode", { nodeId });
    const { computedStyle } = await tab.send("CSS.getComputedStyleForNode", { nodeId });
    const prop = (name: string) => (computedStyle as { name: string; value: string }[]).find((p) => p.name === name)?.value ?? "";
    fontSizes.push([node.localName, Number.parseFloat(prop("font-size"))]);
    if (node.localName === "body") background = prop("background-color");
  }
  const main = (await tab.send("DOM.querySelector", { nodeId: root.nodeId, selector: "main, body" })).nodeId;
  const outer: string = (await tab.send("DOM.getOuterHTML", { nodeId: main })).outerHTML;
  const text = outer
    .replace(/<(style|title|svg)[\s\S]*?<\/\1>/g, "")
    .replace(/<[^>]+>/g, " ")
    .replace(/&amp;/g, "&")
    .replace(/\s+/g, " ")
    .trim();
  const metrics = await tab.send("Page.getLayoutMetrics");
  return {
    lang: langAt >= 0 ? attributes[langAt + 1] : undefined,
    text,
    fontSizes,
    contentWidth: metrics.cssContentSize.width,
    viewportWidth: metrics.cssLayoutViewport.clientWidth,
    background,
  };
}

function expectReadable(seen: Seen, where: string, viewport: Viewport) {
  expect(seen.lang, where).toBe("en");
  // laid out at the screen's width (a viewport tag), not at a desktop's 980 px shrunk to fit: 16 CSS px are then 16 px on the phone
  expect(seen.viewportWidth, `${where}: layout width`).toBe(viewport.width);
  for (const [element, px] of seen.fontSizes) expect(px, `${where}: font-size of <${element}>`).toBeGreaterThanOrEqual(16);
  expect(seen.contentWidth, `${where}: content wider than the viewport (sideways scroll)`).toBeLessThanOrEqual(seen.viewportWidth);
}

async function shoot(tab: Tab, file: string) {
  const path = join(shots, `${file}.png`);
  writeFileSync(path, await tab.screenshot());
  console.log(`pages e2e: screenshot ${path}`);
}

/** E2E_DOCS_SCREENSHOTS=1 also writes the phone's confirmed pages, the warning email and the keep page, cropped and at 2x, into docs/screenshots/ (README). */
const DOCS = process.env.E2E_DOCS_SCREENSHOTS === "1";
async function shootForDocs(tab: Tab, file: string) {
  const path = join(ROOT, "docs", "screenshots", `${file}.png`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, await tab.screenshot({ x: 0, y: 0, width: PHONE.width, height: 640, scale: 2 / PHONE.deviceScaleFactor }));
  console.log(`pages e2e: docs screenshot ${path}`);
}

/** A new name with a pending address; returns the link and the email. */
async function pendingVerification(label: string): Promise<{ name: string; email: string; link: string; mail: SentEmail }> {
  const sub = await apiGet(server.url, "/subscribe", { name: label });
  check(sub.status === 200, said("/subscribe", sub));
  const email = `owner.${label}@example.org`;
  const since = resend.emails.length;
  const set = await apiGet(server.url, "/setemail", { token: sub.json.token, email });
  check(set.status === 200, said("/setemail", set));
  const mail = await emailSince(resend, email, since);
  const link = /http:\/\/127\.0\.0\.1:\d+\/verifyemail\?s=[0-9a-f-]{36}/.exec(mail.text ?? "")?.[0];
  check(link, `no verification link in the text part: ${mail.text}`);
  return { name: `${label}.${DOMAIN}`, email, link, mail };
}

const looks: [string, Viewport, { javascript: boolean; colorScheme: "light" | "dark" }][] = [
  ["phone", PHONE, { javascript: false, colorScheme: "light" }],
  ["phone-dark", PHONE, { javascript: true, colorScheme: "dark" }],
  ["desktop", DESKTOP, { javascript: true, colorScheme: "light" }],
];

for (const [look_, viewport, options] of looks) {
  test(`${look_} ${viewport.width}x${viewport.height}${options.javascript ? "" : ", JavaScript off"}: every page state is readable, names what it confirmed, and does not scroll sideways`, async () => {
    const run = crypto.randomUUID().slice(0, 6);
    const { name, email, link } = await steps.step(`${look_}: subscribe and ask for a verification email`, 20_000, () =>
      pendingVerification(`pages-${look_}-${run}`),
    );
    const tab = await steps.step(`${look_}: open a tab`, 20_000, () => browser.newTab(viewport, options));
    try {
      const states: [string, string, number, string][] = [
        ["confirmed", link, 200, "Email address confirmed"],
        ["already-confirmed", link, 200, "Already confirmed"],
        ["unknown", `${server.url}/verifyemail?s=${UNKNOWN}`, 404, "This link is not valid"],
        ["missing", `${server.url}/verifyemail`, 400, "This link is incomplete"],
      ];
      const backgrounds = new Set<string>();
      for (const [state, url, status, heading] of states) {
        const seen = await steps.step(`${look_}: ${state} page`, 30_000, async () => {
          expect(await tab.goto(url)).toBe(status);
          return await look(tab);
        });
        const where = `${look_} ${state}`;
        expectReadable(seen, where, viewport);
        expect(seen.text, where).toContain(heading);
        if (status === 200) {
          expect(seen.text, where).toContain(name);
          expect(seen.text, where).toContain(email);
        }
        backgrounds.add(seen.background);
        await shoot(tab, `${look_}-${state}`);
        if (DOCS && viewport.mobile && state === "confirmed") await shootForDocs(tab, `verifyemail-${look_}`);
      }
      expect(backgrounds.size, "one background for every state").toBe(1);
      const background = [...backgrounds][0];
      // dark mode is dark: the body's background is near black
      const [r, g, b] = (background.match(/\d+/g) ?? []).map(Number);
      if (options.colorScheme === "dark") expect(r + g + b, background).toBeLessThan(150);
      else expect(r + g + b, background).toBeGreaterThan(600);
    } finally {
      await tab.close();
    }
  });
}

test("the verification email's HTML part on a phone: readable, the link wraps instead of scrolling sideways", async () => {
  const { mail, link } = await steps.step("ask for a verification email", 20_000, () => pendingVerification(`pages-mail-${crypto.randomUUID().slice(0, 6)}`));
  const tab = await browser.newTab(PHONE, { javascript: false, colorScheme: "light" });
  try {
    const { frameTree } = await tab.send("Page.getFrameTree");
    await tab.send("Page.setDocumentContent", { frameId: frameTree.frame.id, html: mail.html });
    const seen = await look(tab, "body, p, a");
    expectReadable(seen, "email html", PHONE);
    expect(seen.text).toContain(link);
    await shoot(tab, "phone-email");
  } finally {
    await tab.close();
  }
});

test("the expiry warning's HTML part and the keep page on a phone: readable, the name and the date shown, no sideways scroll", async () => {
  const label = `pages-keep-${crypto.randomUUID().slice(0, 6)}`;
  const sub = await apiGet(server.url, "/subscribe", { name: label });
  check(sub.status === 200, said("/subscribe", sub));
  // the warning's link, planted as the sweep stores it (the sweep itself: test/expiry/warning.test.ts)
  const s = crypto.randomUUID();
  writeDb(
    server.dbPath,
    "UPDATE domains SET keep_token = ?, keep_expires = ? WHERE name = ?",
    s,
    Math.floor(Date.now() / 1000) + 3 * 86_400,
    `${label}.${DOMAIN}.`,
  );
  const link = `${server.url}/keep?s=${s}`;
  const { settings } = loadSettings(["--domain", DOMAIN], {});
  const now = Math.floor(Date.now() / 1000);
  const mail = warningEmail(settings.email, "owner@example.org", link, `${label}.${DOMAIN}`, now - 53 * 86_400, now + 7 * 86_400, "e2e");
  const tab = await browser.newTab(PHONE, { javascript: false, colorScheme: "light" });
  try {
    const { frameTree } = await tab.send("Page.getFrameTree");
    await tab.send("Page.setDocumentContent", { frameId: frameTree.frame.id, html: mail.html });
    const email = await look(tab, "body, p, a, b");
    expectReadable(email, "warning email html", PHONE);
    expect(email.text).toContain(link);
    expect(email.text).toContain(`${label}.${DOMAIN}`);
    await shoot(tab, "phone-warning-email");
    if (DOCS) await shootForDocs(tab, "warning-email-phone");

    expect(await tab.goto(link)).toBe(200);
    const page = await look(tab);
    expectReadable(page, "keep page", PHONE);
    expect(page.text).toContain("Name kept");
    expect(page.text).toContain(`${label}.${DOMAIN}`);
    expect(page.text).toContain("kept until");
    await shoot(tab, "phone-keep");
    if (DOCS) await shootForDocs(tab, "keep-phone");
  } finally {
    await tab.close();
  }
});

test("no browser visit made the server log an error or a 404 for /favicon.ico", () => {
  expect(server.output()).not.toMatch(/favicon\.ico \d+|^.*\berror\b/im);
});
