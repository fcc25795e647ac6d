// lego's `exec` DNS provider calls this as `<hook> present|cleanup <fqdn> <value>`; like a
// gateway, it publishes the value through our /dnsconfig with the gateway's token.
// Environment: REGSRV_URL (API base), REGSRV_TOKEN (gateway token), HOOK_LOG (JSON lines file),
// HOOK_WAIT_MS (after a 200, wait this long before lego asks for validation, as a gateway waits).
import { appendFileSync } from "node:fs";

const [action, fqdn, value] = process.argv.slice(2);
const base = process.env.REGSRV_URL;
const token = process.env.REGSRV_TOKEN;
const log = (entry: object) => {
  if (process.env.HOOK_LOG) appendFileSync(process.env.HOOK_LOG, `${JSON.stringify({ ...entry, at: Date.now() })}\n`);
};

if (!base || !token || !action || !fqdn) {
  console.error("usage: REGSRV_URL=… REGSRV_TOKEN=… lego-exec-hook present|cleanup <fqdn> <value>");
  process.exit(2);
}

if (action === "present") {
  const url = new URL("/dnsconfig", base);
  url.searchParams.set("token", token);
  url.searchParams.set("challenge", value ?? "");
  let status = 0;
  let body = "";
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    status = res.status;
    body = await res.text();
  } catch (e) {
    body = (e as Error).message;
  }
  log({ action, fqdn, value, status, body });
  if (status !== 200) {
    console.error(`/dnsconfig answered ${status}: ${body}`);
    process.exit(1);
  }
  await Bun.sleep(Number(process.env.HOOK_WAIT_MS ?? 0));
} else {
  // The API has no call to remove a challenge; a gateway leaves it until the next one.
  log({ action, fqdn, value });
}
