// `check-config`: the settings as `serve` would load them, and the start-up checks that need
// no socket and no data (the email transport); one line either way, after a line per warning.
import { createMailer } from "../mail/mailer.ts";
import type { Invocation } from "./common.ts";
import { out, positionals } from "./common.ts";

export async function runCheckConfig(invocation: Invocation): Promise<void> {
  positionals(invocation, 0, "check-config [--config FILE] [settings flags]");
  const { settings, warnings } = invocation;
  // On stderr, one line each: stdout stays the one summary line scripts read; the exit stays 0.
  for (const warning of warnings) process.stderr.write(`registration-server: warning: ${warning}\n`);
  const mailer = createMailer(settings.email, () => {});
  const admin = settings.admin.port === 0 ? "off" : `${settings.admin.host}:${settings.admin.port}`;
  await out(
    `settings ok: zone=${settings.domain} http=${settings.http.host}:${settings.http.port} dns=${settings.dns.host}:${settings.dns.port} admin=${admin} db=${settings.database.path} mail=${mailer.kind}\n`,
  );
}
