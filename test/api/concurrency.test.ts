// Many gateways asking for the same name at once: exactly one gets it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { get } from "../support/server.ts";
import { startApp, type TestApp } from "../support/app.ts";
import { freshName, info, openSqlite } from "../support/helpers.ts";

let server: TestApp;

beforeAll(async () => {
  server = startApp({ from: "127.0.0.1" });
});
afterAll(async () => {
  await server?.close();
});

describe("concurrent /subscribe", () => {
  test("50 concurrent /subscribe of one fresh name give exactly one 200; the rest are 400 UnavailableName", async () => {
    for (let round = 0; round < 3; round++) {
      const name = freshName("race");
      const results = await Promise.all(Array.from({ length: 50 }, () => get(server, `/subscribe?name=${name}`)));
      const ok = results.filter((r) => r.status === 200);
      expect(ok.length).toBe(1);
      for (const r of results.filter((r) => r.status !== 200))
        expect({ status: r.status, body: r.json }).toEqual({ status: 400, body: { error: "UnavailableName" } });
      const db = openSqlite(server.dbPath);
      const rows = db.query("SELECT token FROM domains WHERE name = ?").all(`${name}.example.test.`) as { token: string }[];
      db.close();
      expect(rows).toEqual([{ token: ok[0].json.token }]);
      expect((await info(server, ok[0].json.token)).json.name).toBe(`${name}.example.test.`);
    }
  });

  test("50 concurrent /subscribe of 50 different names all succeed with distinct tokens", async () => {
    const names = Array.from({ length: 50 }, () => freshName("many"));
    const results = await Promise.all(names.map((n) => get(server, `/subscribe?name=${n}`)));
    expect(results.map((r) => r.status)).toEqual(names.map(() => 200));
    expect(new Set(results.map((r) => r.json.token)).size).toBe(50);
  });
});
