// What a registered gateway is to DNS, shared by the store (which writes it) and the answer
// function (which reads it). Pure: no imports, so the DNS core loads no database code.

/** domains.mode: how DNS answers a gateway's name. */
export const MODE = { tunnel: 0, dynamicDns: 1 } as const;

/** What DNS needs of a registered gateway. */
export interface GatewayRecord {
  mode: number;
  /** the last ping's address, either family (tunnel mode without tunnel addresses answers it) */
  lastIp: string;
  /** the last IPv4 and IPv6 address given: dynamic-DNS mode answers A and AAAA from them ("" = none) */
  lastIpv4: string;
  lastIpv6: string;
  dnsChallenge: string;
  token: string;
}
