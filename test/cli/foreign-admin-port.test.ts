// Another program on the admin port (9153 is also CoreDNS's metrics port): its answer to
// /healthz is not this server's, so the command line works on the file, as when none answers.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/store/db.ts";
import { cliInProcess } from "../support/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "regsrv-foreign-admin-"));
const other = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("404 page not found\n", { status: 404 }) });
afterAll(() => {
  other.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

test("a program that is not this server on the admin port: domains list reads the file (exit 0), not its 404", async () => {
  const path = join(dir, "registration.sqlite");
  openDatabase(path).$client.close();
  const result = await cliInProcess(["domains", "list", "--db", path, "--admin-host", "127.0.0.1", "--admin-port", String(other.port)]);
  expect(result).toEqual({ code: 0, stdout: "", stderr: "" });
});
