// HTTP descriptor exhaustion, a flood of requests never finished: unfinished requests each hold a descriptor,
// the one pool HTTP and DNS/TCP share. Bun lifts the soft RLIMIT_NOFILE to the hard limit and
// the server logs the figure. Bun closes a connection whose request is unfinished after about
// 12 s whatever idleTimeout says, bytes trickled in or not (measured), so a flood that used up
// every descriptor lets go of them. The test sets a small limit (256). The flood that waits for
// those 12 s is test/slow/http-half-open.slow.ts (npm run test:slow).
import { describe, expect, test } from "bun:test";
import { get, useServer } from "../support/server.ts";

const LIMIT = 256;

/** The server under a soft and hard limit of LIMIT open files, as `ulimit -n` in a unit file would set. */
const limited = useServer({ wrapper: ["sh", "-c", `ulimit -n ${LIMIT} && exec "$@"`, "sh"] });

describe("half-open HTTP requests", () => {
  test("the log gives the open-files limit the process runs with", async () => {
    await limited.server.waitForOutput(new RegExp(`process: up to ${LIMIT} open files`));
  });

  test("a request body past 16 KB is refused, not buffered (every endpoint is a GET)", async () => {
    const { server } = limited;
    const res = await fetch(`${server.url}/subscribe?name=big`, { method: "POST", body: "x".repeat(1024 * 1024) }).catch((e) => e as Error);
    if (res instanceof Response) expect(res.status).toBe(413);
    expect((await get(server, "/connectivity-check")).status).toBe(200);
  });
});
