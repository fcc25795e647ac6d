// GET /subscribe: claiming a name (docs/api.md, "Endpoints", "Names").
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { get } from "../support/server.ts";
import { startApp, type TestApp } from "../support/app.ts";
import { startResendStandIn, resendEnv, type ResendStandIn } from "../support/resend.ts";
import { domainRow, expectError, expectNoInternals, freshName, info, subscribe, UUID_V4, verifyOwner, writeToml } from "../support/helpers.ts";

let server: TestApp;
let standIn: ResendStandIn;
let configDir: string;

beforeAll(async () => {
  standIn = startResendStandIn();
  configDir = mkdtempSync(join(tmpdir(), "regsrv-cfg-"));
  // static records whose labels become reserved: a CNAME owner, an MX host, a TXT owner
  const config = await writeToml(
    configDir,
    `[dns]
cname = [["docs.example.test.", "target.example.org."]]
mx = [["@", "10 mail.example.test."]]
txt = [["status", "all good"]]
`,
  );
  server = startApp({ from: "127.0.0.1", args: ["--config", config], env: resendEnv(standIn) });
});

afterAll(async () => {
  await server?.close();
  standIn?.stop();
  rmSync(configDir, { recursive: true, force: true });
});

describe("/subscribe success", () => {
  test("answers 200 {name, token}: the trimmed, lower-cased label and a lowercase uuid v4", async () => {
    const label = freshName("Demo").toUpperCase();
    const res = await get(server, `/subscribe?name=${encodeURIComponent(`  ${label}  `)}`);
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(Object.keys(res.json).sort()).toEqual(["name", "token"]);
    expect(res.json.name).toBe(label.toLowerCase());
    expect(res.json.token).toMatch(UUID_V4);
    const row = domainRow(server.dbPath, label.toLowerCase());
    expect(row?.token).toBe(res.json.token);
  });

  test('without desc the description is "<name>\'s server" and the mode is 0 (tunnel)', async () => {
    const { name, token } = await subscribe(server);
    const res = await info(server, token);
    expect(res.status).toBe(200);
    expect(res.json.name).toBe(`${name}.example.test.`);
    expect(res.json.description).toBe(`${name}'s server`);
    expect(res.json.mode).toBe(0);
  });

  test("desc sets the description", async () => {
    const { token } = await subscribe(server, freshName(), `&desc=${encodeURIComponent("Living room gateway ✓")}`);
    expect((await info(server, token)).json.description).toBe("Living room gateway ✓");
  });

  test("mode=1 registers a dynamic-DNS name, mode=0 a tunnel one", async () => {
    const dyn = await subscribe(server, freshName(), "&mode=1");
    expect((await info(server, dyn.token)).json.mode).toBe(1);
    const tun = await subscribe(server, freshName(), "&mode=0");
    expect((await info(server, tun.token)).json.mode).toBe(0);
  });

  test("every subscription gets its own token", async () => {
    const a = await subscribe(server);
    const b = await subscribe(server);
    expect(a.token).not.toBe(b.token);
  });

  test("a 63-character label is accepted", async () => {
    const label = `x${freshName().replace(/-/g, "")}${"z".repeat(63)}`.slice(0, 63);
    const res = await get(server, `/subscribe?name=${label}`);
    expect(res.status, res.text).toBe(200);
    expect(res.json.name).toBe(label);
  });

  test("labels with inner hyphens and digits are accepted", async () => {
    const label = `a-1-${freshName()}`;
    expect((await get(server, `/subscribe?name=${label}`)).status).toBe(200);
    expect((await get(server, `/subscribe?name=7${Date.now()}`)).status).toBe(200);
  });
});

describe("/subscribe failures", () => {
  test("no name, or an empty one, is 400 MissingParameter", async () => {
    expectError(await get(server, "/subscribe"), 400, "MissingParameter");
    expectError(await get(server, "/subscribe?name="), 400, "MissingParameter");
    expectError(await get(server, "/subscribe?desc=x&mode=0"), 400, "MissingParameter");
  });

  test("a name of only spaces is refused with 400", async () => {
    const res = await get(server, "/subscribe?name=%20%20");
    expect(res.status).toBe(400);
    expect(["MissingParameter", "UnavailableName"]).toContain(res.json?.error);
  });

  test("mode other than 0 or 1 is 400 InvalidParameter and registers nothing", async () => {
    const label = freshName();
    for (const mode of ["2", "-1", "abc", "1.5"]) expectError(await get(server, `/subscribe?name=${label}&mode=${mode}`), 400, "InvalidParameter");
    expect(domainRow(server.dbPath, label)).toBeNull();
    expect((await get(server, `/subscribe?name=${label}`)).status).toBe(200);
  });

  test.each([
    ["leading hyphen", "-lead"],
    ["trailing hyphen", "trail-"],
    ["underscore", "under_score"],
    ["dot", "dot.ted"],
    ["64 characters", "a".repeat(64)],
    ["non-ASCII", "ünicode"],
    ["inner space", "sp ace"],
    ["slash", "a/b"],
    ["asterisk", "*"],
  ])("an invalid label (%s) is 400 UnavailableName", async (_why, label) => {
    expectError(await get(server, `/subscribe?name=${encodeURIComponent(label)}`), 400, "UnavailableName");
  });

  test.each(["api", "www", "_psl", "ns", "ns1", "ns42", "API", " Www "])("the reserved label %p is 400 UnavailableName", async (label) => {
    expectError(await get(server, `/subscribe?name=${encodeURIComponent(label)}`), 400, "UnavailableName");
  });

  test.each(["docs", "mail", "status"])("the label %p used by a configured static record is 400 UnavailableName", async (label) => {
    expectError(await get(server, `/subscribe?name=${label}`), 400, "UnavailableName");
  });

  test("a taken name is 400 UnavailableName and the owner's token keeps working", async () => {
    const { name, token } = await subscribe(server);
    expectError(await get(server, `/subscribe?name=${name}`), 400, "UnavailableName");
    expectError(await get(server, `/subscribe?name=${name.toUpperCase()}`), 400, "UnavailableName");
    const res = await info(server, token);
    expect(res.status).toBe(200);
    expect(res.json.token).toBe(token);
  });

  test("taken + email equal to the owner's verified email (any case) is 400 UnavailableNameReclamationPossible", async () => {
    const { name, token } = await subscribe(server);
    const email = `${name}@owner.example.org`;
    await verifyOwner(server, standIn, token, email);
    expectError(await get(server, `/subscribe?name=${name}&email=${encodeURIComponent(email)}`), 400, "UnavailableNameReclamationPossible");
    expectError(await get(server, `/subscribe?name=${name}&email=${encodeURIComponent(email.toUpperCase())}`), 400, "UnavailableNameReclamationPossible");
  });

  test("taken + a different email is plain 400 UnavailableName", async () => {
    const { name, token } = await subscribe(server);
    await verifyOwner(server, standIn, token, `${name}@owner.example.org`);
    expectError(await get(server, `/subscribe?name=${name}&email=someone-else%40example.org`), 400, "UnavailableName");
  });

  test("taken + the email of a pending (never verified) address is plain 400 UnavailableName", async () => {
    const { name, token } = await subscribe(server);
    const email = `${name}@pending.example.org`;
    expect((await get(server, `/setemail?token=${token}&email=${encodeURIComponent(email)}`)).status).toBe(200);
    expectError(await get(server, `/subscribe?name=${name}&email=${encodeURIComponent(email)}`), 400, "UnavailableName");
  });

  test("a hostile name (10,000 characters, NUL, bad escapes) gets a JSON 400 without internals", async () => {
    for (const raw of ["a".repeat(10_000), "%00abc", "abc%00", "%E0%A4%A", "%zz", "'%3B%20DROP%20TABLE%20domains%3B--"]) {
      const res = await server.handle(`/subscribe?name=${raw}`);
      const text = await res.text();
      expect(res.status, `name=${raw.slice(0, 40)}: ${text}`).toBe(400);
      expect(JSON.parse(text).error).toMatch(/^(UnavailableName|InvalidParameter|MissingParameter)$/);
      expectNoInternals(text);
    }
    // the table is still there
    expect((await get(server, `/subscribe?name=${freshName()}`)).status).toBe(200);
  });
});

describe("/subscribe full-name length", () => {
  let longServer: TestApp;
  // 4 labels of 49 characters: a 199-character zone
  const zone = ["a", "b", "c", "d"].map((c) => c.repeat(49)).join(".");
  beforeAll(async () => {
    longServer = startApp({ from: "127.0.0.1", args: ["--domain", zone] });
  });
  afterAll(async () => {
    await longServer?.close();
  });

  test("a label whose full name would pass 253 characters is 400 UnavailableName; exactly 253 is accepted", async () => {
    const fits = "f".repeat(253 - 1 - zone.length); // 53
    const tooLong = "g".repeat(254 - 1 - zone.length);
    expectError(await get(longServer, `/subscribe?name=${tooLong}`), 400, "UnavailableName");
    const ok = await get(longServer, `/subscribe?name=${fits}`);
    expect(ok.status, ok.text).toBe(200);
    expect((await info(longServer, ok.json.token)).json.name).toBe(`${fits}.${zone}.`);
  });
});
