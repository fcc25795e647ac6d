// A local stand-in for the Resend API (the outside world), reached through RESEND_BASE_URL.
// It records every email the server sends, and can be told to fail. Like Resend, a request
// whose Idempotency-Key it took before gets the first answer again and delivers nothing.
export interface SentEmail {
  from: string;
  to: string[];
  subject: string;
  html?: string;
  text?: string;
  headers: Record<string, string>;
}

export interface ResendStandIn {
  url: string;
  emails: SentEmail[];
  /** when set, every call answers this status with a Resend-style error body */
  failWith: number | null;
  /** when true, calls are accepted and never answered (a provider that hangs) */
  hang: boolean;
  /** when true, each email is delivered (recorded) but its answer never comes (a provider whose answer is lost) */
  loseAnswers: boolean;
  /** requests answered from an Idempotency-Key taken before, without delivering */
  replayed: number;
  waitForEmail(to: string, timeoutMs?: number): Promise<SentEmail>;
  stop(): void;
}

export function startResendStandIn(): ResendStandIn {
  const waiters = new Set<() => void>();
  const standIn: ResendStandIn = {
    url: "",
    emails: [],
    failWith: null,
    hang: false,
    loseAnswers: false,
    replayed: 0,
    waitForEmail(to, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const seen = standIn.emails.length;
        const check = () => {
          const found = standIn.emails.slice(seen).find((e) => e.to.includes(to));
          if (found) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no email to ${to} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    stop: () => server.stop(true),
  };
  const idempotent = new Map<string, string>();
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      if (req.method !== "POST" || url.pathname !== "/emails") return new Response("not found", { status: 404 });
      if (standIn.hang) return new Promise<Response>(() => {});
      if (standIn.failWith !== null)
        return Response.json({ statusCode: standIn.failWith, name: "application_error", message: "stand-in told to fail" }, { status: standIn.failWith });
      const key = req.headers.get("idempotency-key");
      const earlier = key === null ? undefined : idempotent.get(key);
      if (earlier !== undefined) {
        standIn.replayed++;
        return Response.json({ id: earlier });
      }
      const body = (await req.json()) as any;
      const id = crypto.randomUUID();
      if (key !== null) idempotent.set(key, id);
      standIn.emails.push({
        from: body.from,
        to: Array.isArray(body.to) ? body.to : [body.to],
        subject: body.subject,
        html: body.html,
        text: body.text,
        headers: Object.fromEntries(req.headers),
      });
      for (const w of waiters) w();
      if (standIn.loseAnswers) return new Promise<Response>(() => {});
      return Response.json({ id });
    },
  });
  standIn.url = `http://127.0.0.1:${server.port}`;
  return standIn;
}

/** Env that makes the server send through the stand-in. */
export function resendEnv(standIn: ResendStandIn): Record<string, string> {
  return { RESEND_API_KEY: "re_test_0123456789", RESEND_BASE_URL: standIn.url, REGISTRATION_EMAIL_FROM: "Registration <noreply@example.test>" };
}
