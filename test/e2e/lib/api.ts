// The HTTP API as a gateway calls it: GET with query parameters, every call bounded in time.
import type { ResendStandIn, SentEmail } from "../../support/resend.ts";
import { waitFor } from "./proc.ts";

export interface ApiReply {
  status: number;
  text: string;
  json: any;
}

export async function apiGet(
  baseUrl: string,
  path: string,
  params: Record<string, string> = {},
  options: { realIp?: string; timeoutMs?: number } = {},
): Promise<ApiReply> {
  const url = new URL(path, baseUrl);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const res = await fetch(url, {
    headers: options.realIp ? { "X-Real-IP": options.realIp } : {},
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, text, json };
}

/** A compact description of a reply for assertion messages. */
export function describe(path: string, reply: ApiReply): string {
  return `GET ${path} -> ${reply.status} ${reply.text.slice(0, 300)}`;
}

export const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/;

/** The first email to `to` the stand-in recorded at or after index `since` (take `resend.emails.length` before the call). */
export function emailSince(resend: ResendStandIn, to: string, since: number, timeoutMs = 8000): Promise<SentEmail> {
  return waitFor(`an email to ${to}`, timeoutMs, () => resend.emails.slice(since).find((e) => e.to.includes(to)), 50);
}
