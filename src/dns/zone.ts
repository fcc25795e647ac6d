// The zone's answers: a pure function of the question, the settings and the store lookups.
// Knows nothing about sockets or wire formats.
import type { DnsSettings } from "../config.ts";
import type { GatewayRecord } from "../store/domains.ts";

export interface ZoneLookups {
  /** name: lower-case full name with its trailing dot, e.g. "demo.example.test." */
  gateway(name: string): GatewayRecord | undefined;
}

export interface Question {
  /** as asked (case preserved), without the trailing dot; "" is the root */
  name: string;
  type: number;
  class: number;
}

export type RecordData =
  | { type: "A"; address: string }
  | { type: "AAAA"; address: string }
  | { type: "NS"; target: string }
  | { type: "CNAME"; target: string }
  | { type: "SOA"; mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number }
  | { type: "MX"; priority: number; exchange: string }
  | { type: "TXT"; text: string }
  | { type: "CAA"; flags: number; tag: string; value: string };

export type ResourceRecord = { name: string; ttl: number } & RecordData;

export interface ZoneAnswer {
  rcode: number;
  aa: boolean;
  answers: ResourceRecord[];
  authority: ResourceRecord[];
  additional: ResourceRecord[];
}

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

export function answerQuestion(question: Question, _lookups: ZoneLookups, _zone: DnsSettings): ZoneAnswer {
  return { rcode: RCODE.REFUSED, aa: false, answers: [], authority: [], additional: [] };
}
