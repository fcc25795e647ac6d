// What DNS counts for /metrics: queries by type, rcode and transport, answer-cache hits and
// misses, response-rate-limited answers. Plain increments of a Float64Array over a
// SharedArrayBuffer: one writer (the thread that answers), read by the main thread only when
// /metrics is scraped, so counting costs the hot path no message, no string and no lock.
import type { NotifyResult } from "./notify.ts";

/** The query types counted by name; any other is counted as "other". */
export const QUERY_TYPES: readonly [number, string][] = [
  [1, "A"],
  [2, "NS"],
  [5, "CNAME"],
  [6, "SOA"],
  [12, "PTR"],
  [15, "MX"],
  [16, "TXT"],
  [28, "AAAA"],
  [33, "SRV"],
  [35, "NAPTR"],
  [43, "DS"],
  [48, "DNSKEY"],
  [52, "TLSA"],
  [64, "SVCB"],
  [65, "HTTPS"],
  [251, "IXFR"],
  [252, "AXFR"],
  [255, "ANY"],
  [257, "CAA"],
];
export const TYPE_LABELS: readonly string[] = [...QUERY_TYPES.map(([, name]) => name), "other"];
export const RCODE_LABELS: readonly string[] = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "other"];
export const TRANSPORT_LABELS: readonly string[] = ["udp", "tcp"];

const OTHER_TYPE = QUERY_TYPES.length;
const OTHER_RCODE = RCODE_LABELS.length - 1;
const CAA_INDEX = QUERY_TYPES.findIndex(([type]) => type === 257);
/** type number (below 256) -> index in TYPE_LABELS */
const TYPE_INDEX = new Uint8Array(256).fill(OTHER_TYPE);
for (const [i, [type]] of QUERY_TYPES.entries()) if (type < 256) TYPE_INDEX[type] = i;

const QUERY_CELLS = TYPE_LABELS.length * RCODE_LABELS.length * TRANSPORT_LABELS.length;
/** the single counters after the query cells */
export const SLOT = { cacheHits: QUERY_CELLS, cacheMisses: QUERY_CELLS + 1, rrlDropped: QUERY_CELLS + 2, rrlTruncated: QUERY_CELLS + 3 } as const;
/** Zone transfers streamed over TCP, by the query's type and how they ended: every message taken ("done"), or cut before (the peer left, idle, a failure, shutdown). */
export const TRANSFER_TYPES = ["AXFR", "IXFR"] as const;
export const TRANSFER_RESULTS = ["done", "cut"] as const;
const TRANSFER_CELLS = QUERY_CELLS + 4;
const CELLS = TRANSFER_CELLS + TRANSFER_TYPES.length * TRANSFER_RESULTS.length;

/** Cell of a transfer of `type` that ended `result`, in `values`. */
export function transferCell(type: (typeof TRANSFER_TYPES)[number], result: (typeof TRANSFER_RESULTS)[number]): number {
  return TRANSFER_CELLS + TRANSFER_TYPES.indexOf(type) * TRANSFER_RESULTS.length + TRANSFER_RESULTS.indexOf(result);
}

/** Cell of (type index, rcode index, transport index) in `values`. */
export function queryCell(typeIndex: number, rcodeIndex: number, transportIndex: number): number {
  return (typeIndex * RCODE_LABELS.length + rcodeIndex) * TRANSPORT_LABELS.length + transportIndex;
}

/** The question's type in a message (the first question's), or -1 when it has none or is cut short. */
function questionType(message: Buffer): number {
  if (message.length < 12 || (message[4] === 0 && message[5] === 0)) return -1;
  let o = 12;
  // Labels only: a question's name is never compressed (a pointer there ends the walk: "other").
  for (let length = message[o]; length !== 0; length = message[o]) {
    if (length === undefined || length > 63) return -1;
    o += length + 1;
  }
  return o + 2 < message.length ? (message[o + 1] << 8) | message[o + 2] : -1;
}

export class DnsCounters {
  readonly values: Float64Array;

  /** Counters over `buffer` (another thread's, passed by postMessage), or over a new one. */
  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(CELLS * 8)) {
    this.values = new Float64Array(buffer);
  }

  /** One answered query: its type from the question, its rcode from the reply's header. */
  countAnswer(message: Buffer, reply: Buffer, transport: "udp" | "tcp"): void {
    const type = questionType(message);
    const typeIndex = type < 0 ? OTHER_TYPE : type < 256 ? TYPE_INDEX[type] : type === 257 ? CAA_INDEX : OTHER_TYPE;
    const rcode = reply[3] & 0x0f;
    this.values[queryCell(typeIndex, Math.min(rcode, OTHER_RCODE), transport === "udp" ? 0 : 1)]++;
  }
}

/** NOTIFYs to the secondaries (dns/notify.ts), by outcome; counted on the main thread, where they are sent. */
export class NotifyCounters {
  readonly results: Record<NotifyResult, number> = { answered: 0, rejected: 0, unanswered: 0, superseded: 0 };

  count(result: NotifyResult): void {
    this.results[result]++;
  }
}
