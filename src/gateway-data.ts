// What a registered gateway is to DNS, shared by the store (which writes it) and the answer
// function (which reads it). Pure: no imports, so the DNS core loads no database code.

/** domains.mode: how DNS answers a gateway's name. */
export const MODE = { tunnel: 0, dynamicDns: 1 } as const;

/** What DNS needs of a registered gateway. */
export interface GatewayRecord {
  mode: number;
  lastIp: string;
  dnsChallenge: string;
  token: string;
}
