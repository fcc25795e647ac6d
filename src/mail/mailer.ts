// Sends email through Resend when an API key is set, or writes it to the log otherwise,
// so the embedded defaults work end to end.
import { Resend } from "resend";
import type { EmailSettings } from "../config.ts";
import type { Log } from "../log.ts";
import type { Email } from "./templates.ts";

export interface Mailer {
  /** Resolves once the provider accepted the email; rejects otherwise. */
  send(email: Email): Promise<void>;
  readonly kind: "resend" | "log";
}

export class MailError extends Error {}

export function createMailer(settings: EmailSettings, log: Log): Mailer {
  if (settings.resendApiKey && settings.from) {
    const resend = new Resend(settings.resendApiKey);
    const from = settings.from;
    const timeoutMs = settings.sendTimeoutSeconds * 1000;
    return {
      kind: "resend",
      async send(email) {
        // The SDK has no timeout of its own: a provider that never answers must not hold the request.
        let timer: Timer | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new MailError(`resend: no answer within ${settings.sendTimeoutSeconds}s`)), timeoutMs);
        });
        let result: Awaited<ReturnType<typeof resend.emails.send>>;
        try {
          const message = { from, to: [email.to], subject: email.subject, text: email.text, html: email.html };
          result = await Promise.race([resend.emails.send(message, email.idempotencyKey ? { idempotencyKey: email.idempotencyKey } : undefined), timeout]);
        } catch (e) {
          throw e instanceof MailError ? e : new MailError(`resend: ${(e as Error).message}`);
        } finally {
          clearTimeout(timer);
        }
        if (result.error) throw new MailError(`resend: ${result.error.name}: ${result.error.message}`);
      },
    };
  }
  return {
    kind: "log",
    async send(email) {
      // The log is the delivery channel here (no provider configured): the operator reads it.
      log(`mail (log transport, no email.resend_api_key set) to=${email.to} subject=${JSON.stringify(email.subject)} body=${JSON.stringify(email.text)}`);
    },
  };
}

/** Emails by kind and result, for /metrics: [kind][result]. */
export const MAIL_KINDS = ["verification", "reclamation", "warning"] as const;
export const MAIL_RESULTS = ["sent", "failed", "logged"] as const;

export class MailCounters {
  readonly values = MAIL_KINDS.map(() => new Float64Array(MAIL_RESULTS.length));
}

/** The mailer, counting each email by kind and result: sent (the provider took it), failed, or logged (log transport). */
export function countingMailer(mailer: Mailer, counters: MailCounters): Mailer {
  const done = mailer.kind === "log" ? MAIL_RESULTS.indexOf("logged") : MAIL_RESULTS.indexOf("sent");
  const failed = MAIL_RESULTS.indexOf("failed");
  return {
    kind: mailer.kind,
    async send(email) {
      const row = counters.values[MAIL_KINDS.indexOf(email.kind)];
      try {
        await mailer.send(email);
        row[done]++;
      } catch (e) {
        row[failed]++;
        throw e;
      }
    },
  };
}
