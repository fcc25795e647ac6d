// Who sent a request: the address quotas count and DNS publishes for a dynamic-DNS gateway.
// Forwarded headers are believed only from a trusted proxy (http.trusted_proxies); anyone
// else could write any address into them.
import { isIP } from "node:net";
import { addressBytes, inCidr, parseCidr, unmapIPv4, type Cidr } from "../addresses.ts";
import type { ApiDeps } from "./context.ts";

export interface IpSource {
  requestIP(request: Request): { address: string } | null;
}

/** X-Forwarded-For hops looked at, right to left, before giving up on the rest. */
const MAX_HOPS = 32;

function plain(address: string): string {
  return unmapIPv4(address).toLowerCase();
}

/** A hop as proxies write it: an address, "[v6]:port" or "v4:port"; null when it is none of these. */
function hopAddress(hop: string): string | null {
  const text = hop.trim();
  if (isIP(text)) return plain(text);
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed && isIP(bracketed[1]) === 6) return plain(bracketed[1]);
  const withPort = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(text);
  if (withPort && isIP(withPort[1]) === 4) return withPort[1];
  return null;
}

/**
 * The client address of a request: the socket peer, unless the peer is a trusted proxy; then
 * the right-most X-Forwarded-For hop that is not itself a trusted proxy (all trusted: the
 * left-most), or, only when there is no X-Forwarded-For, X-Real-IP.
 */
export function createClientIp(deps: Pick<ApiDeps, "settings" | "peerAddress">) {
  // Parsed again when a settings reload put a new list in place.
  let parsedFrom: string[] | undefined;
  let trusted: Cidr[] = [];
  const trustedNow = (): Cidr[] => {
    const list = deps.settings.http.trustedProxies;
    if (list === parsedFrom) return trusted;
    trusted = list.map((text) => {
      const cidr = parseCidr(text);
      if (!cidr) throw new Error(`http.trusted_proxies: ${JSON.stringify(text)} is not an address or CIDR`);
      return cidr;
    });
    parsedFrom = list;
    return trusted;
  };
  trustedNow();
  const isTrusted = (address: string) => {
    const trusted = trustedNow();
    if (trusted.length === 0) return false;
    const bytes = addressBytes(address);
    return bytes !== null && trusted.some((cidr) => inCidr(bytes, cidr));
  };
  const peerOf = deps.peerAddress ?? ((request: Request, server: IpSource | null) => server?.requestIP(request)?.address);

  return function clientIp(request: Request, server: IpSource | null): string {
    const peerAddress = peerOf(request, server);
    const peer = peerAddress ? plain(peerAddress) : "";
    if (!isTrusted(peer)) return peer;
    const forwarded = request.headers.get("x-forwarded-for");
    if (forwarded !== null && forwarded.trim() !== "") {
      const hops = forwarded.split(",");
      let client = peer;
      for (let i = hops.length - 1; i >= 0 && i >= hops.length - MAX_HOPS; i--) {
        const hop = hopAddress(hops[i]);
        if (hop === null) break; // written by the client, not by a proxy: the last good hop is all we know
        client = hop;
        if (!isTrusted(hop)) break;
      }
      return client;
    }
    const real = request.headers.get("x-real-ip");
    const realAddress = real === null ? null : hopAddress(real);
    return realAddress ?? peer;
  };
}

export type ClientIp = ReturnType<typeof createClientIp>;
