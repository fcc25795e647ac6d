// The access log (http.access_log): one line per request, except a gateway's routine
// successes (/ping, /info), which by default are counted into one line a minute and at shutdown.
// The default through a process: the lines are read from stdout and the summary is written at SIGTERM.
import { afterEach, describe, expect, test } from "bun:test";
import { get, startServer, type RunningServer } from "../support/server.ts";
import { subscribe } from "../support/helpers.ts";
import { startApp } from "../support/app.ts";
import { loadSettings } from "../../src/config.ts";

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.cleanup();
  server = undefined;
});

const lines = (text: string, pattern: RegExp) => text.split("\n").filter((l) => pattern.test(l));

describe("access log", () => {
  test("by default a successful /ping or /info has no line of its own, a failed one does, and the successes are counted at shutdown", async () => {
    server = await startServer();
    const { token } = await subscribe(server);
    for (let i = 0; i < 3; i++) expect((await get(server, `/ping?token=${token}`)).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await get(server, `/info?token=${token}`)).status).toBe(200);
    expect((await get(server, "/ping?token=00000000-0000-4000-8000-000000000000")).status).toBe(404);
    expect((await get(server, `/dnsconfig?token=${token}&challenge=abc`)).status).toBe(200);
    await server.waitForOutput(/GET \/dnsconfig\S* 200/);
    const before = server.output();
    expect(lines(before, /GET \/subscribe\S* 200/)).toHaveLength(1);
    expect(lines(before, /GET \/ping\S* 404/)).toHaveLength(1);
    expect(lines(before, /GET \/(ping|info)\S* 200/)).toEqual([]);
    expect(await server.stop("SIGTERM")).toBe(0);
    const summary = lines(server.output(), /^\S+ http: /);
    expect(summary).toHaveLength(1);
    expect(summary[0]).toContain("3 x GET /ping 200");
    expect(summary[0]).toContain("2 x GET /info 200");
    expect(summary[0]).not.toContain(token.slice(4));
  });

  // In process (test/support/app.ts): the lines as the process prints them; close() runs the
  // stop hooks that SIGTERM runs, where the summary would be written. The test above pins the
  // process's own output.
  test("with http.access_log = all, every request has its line and there is no summary", async () => {
    const app = startApp({ env: { REGISTRATION_HTTP_ACCESS_LOG: "all" } });
    try {
      const { token } = await subscribe(app);
      expect((await get(app, `/ping?token=${token}`)).status).toBe(200);
      expect((await get(app, `/info?token=${token}`)).status).toBe(200);
      await app.waitForOutput(/GET \/info\S* 200/);
      expect(lines(app.output(), /GET \/ping\S* 200/)).toHaveLength(1);
    } finally {
      await app.close();
    }
    expect(lines(app.output(), /^\S+ http: /)).toEqual([]);
  });

  // In process: main.ts turns this SettingsError into exit 2 (test/config/settings.test.ts).
  test("an unknown http.access_log value stops start-up naming the key", () => {
    expect(() => loadSettings([], { REGISTRATION_HTTP_ACCESS_LOG: "some" })).toThrow(/http\.access_log must be one of changes, all/);
  });
});
