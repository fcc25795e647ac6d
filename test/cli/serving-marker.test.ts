// `domains delete` on a database a running server has open, when that server has no admin
// listener (admin.port = 0): the CLI cannot go through it, and changing the file itself would
// leave the server's DNS answer cache and /info rows stale, so it refuses and says why. Once
// the server has stopped, the same command works on the file.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { decode, encodeQuery, udpExchange } from "../dns/client.ts";
import { subscribe } from "../support/helpers.ts";
import { cliInProcess } from "../support/cli.ts";
import { type RunningServer, runCli, startServer } from "../support/server.ts";

setDefaultTimeout(60_000);
let server: RunningServer | undefined;
afterAll(async () => {
  await server?.cleanup();
});

test("a server without an admin listener makes the CLI refuse to delete, until it stops", async () => {
  server = await startServer(); // the harness runs servers with admin.port = 0
  const { name } = await subscribe(server);
  expect(existsSync(`${server.dbPath}.serving`)).toBe(true);
  const on = (args: string[]) => [...args, "--domain", "example.test", "--db", server!.dbPath, "--admin-port", "0"];
  // the refusal from a child process; the reads and the last delete in this one (test/support/cli.ts)
  const cli = (...args: string[]) => cliInProcess(on(args));

  const refused = await runCli(on(["domains", "delete", name]));
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain(`a server (pid ${server.proc.pid}) has ${server.dbPath} open with no admin listener`);
  expect(decode(await udpExchange(server.dnsPort, encodeQuery(`${name}.example.test`, "A"))).rcode).toBe("NOERROR");
  // reading does not make anything stale
  expect((await cli("domains", "show", name)).code).toBe(0);

  expect(await server.stop("SIGTERM")).toBe(0);
  expect(existsSync(`${server.dbPath}.serving`)).toBe(false);
  const done = await cli("domains", "delete", name);
  expect({ code: done.code, stderr: done.stderr }).toEqual({ code: 0, stderr: "" });
});
