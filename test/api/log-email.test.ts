// Without a Resend key, emails are written to the log, so the embedded defaults work end to end.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { get } from "../support/server.ts";
import { startApp, type TestApp } from "../support/app.ts";
import { info, subscribe, UUID_V4, UUID_V4_IN_TEXT, waitFor } from "../support/helpers.ts";

let server: TestApp;

beforeAll(async () => {
  server = startApp({ from: "127.0.0.1" });
});
afterAll(async () => {
  await server?.close();
});

describe("log transport", () => {
  test("verification and reclamation work end to end from what the log shows", async () => {
    const { name, token } = await subscribe(server);
    const email = `${name}@example.org`;
    expect((await get(server, `/setemail?token=${token}&email=${encodeURIComponent(email)}`)).status).toBe(200);

    const base = `http://api.example.test:${server.httpPort}`;
    const linkRe = new RegExp(`^.*${email.replace(/[.]/g, "\\.")}.*$`, "m");
    const mailLine = (await server.waitForOutput(linkRe))[0];
    // recipient, subject and link, on the log
    expect(server.output()).toContain("Confirm your email address");
    const link = server
      .output()
      .slice(server.output().indexOf(mailLine))
      .match(new RegExp(`${base.replace(/[.]/g, "\\.")}/verifyemail\\?s=([0-9a-f-]{36})`));
    expect(link, server.output()).not.toBeNull();
    expect(link![1]).toMatch(UUID_V4);
    expect((await get(server, `/verifyemail?s=${link![1]}`)).status).toBe(200);
    expect((await info(server, token)).json).toMatchObject({ verified: true, email });

    const before = server.output().length;
    expect((await get(server, `/reclaim?name=${name}`)).status).toBe(200);
    const reclamation = await waitFor(() => server.output().slice(before).match(UUID_V4_IN_TEXT), "a reclamation token in the log");
    const after = server.output().slice(before);
    expect(after).toContain(email);
    // the log shows the text part, where the token stands on a line of its own
    const body = server.mails().at(-1)!.body;
    expect(body).not.toContain("<");
    expect(body.split("\n")).toContain(reclamation![0]);
    expect(after).toContain(`Reclaim ${name}.example.test`);
    const res = await get(server, `/subscribe?name=${name}&reclamationToken=${reclamation![0]}`);
    expect(res.status, res.text).toBe(200);
    expect((await info(server, token)).status).toBe(404);
    // the log carries the emails, but never a gateway's API token in full
    await get(server, `/ping?token=${res.json.token}`);
    await get(server, `/dnsconfig?token=${res.json.token}&challenge=abc`);
    await get(server, `/info?token=${res.json.token}`);
    await server.waitForOutput(/GET \/dnsconfig\S* 200/); // the last request with a line of its own (see test/api/access-log.test.ts)
    for (const secret of [token, res.json.token]) expect(server.output()).not.toContain(secret.slice(4));
  });
});
