// What HTTP counts for /metrics: requests by route and status. A row of plain numbers per
// known route path (found by the matched path, never the raw one), so counting a request
// builds no string and no label set; /metrics reads the rows when it is scraped.

/** The statuses counted by number; any other is counted as "other". */
export const STATUS_LABELS: readonly string[] = [
  "200",
  "204",
  "301",
  "302",
  "304",
  "400",
  "401",
  "403",
  "404",
  "405",
  "409",
  "413",
  "429",
  "500",
  "501",
  "503",
  "other",
];
const OTHER_STATUS = STATUS_LABELS.length - 1;
/** status - 100 -> index in STATUS_LABELS */
const STATUS_INDEX = new Uint8Array(500).fill(OTHER_STATUS);
for (const [i, label] of STATUS_LABELS.entries()) if (label !== "other") STATUS_INDEX[Number(label) - 100] = i;

/** The route label of every path that is not a route. */
export const OTHER_ROUTE = "other";

export class HttpCounters {
  /** per route path (and OTHER_ROUTE): a count per STATUS_LABELS entry */
  readonly rows = new Map<string, Float64Array>([[OTHER_ROUTE, new Float64Array(STATUS_LABELS.length)]]);
  private readonly other = this.rows.get(OTHER_ROUTE)!;

  /** Makes these paths labels of their own (the app's routes, known once it is built). */
  addRoutes(paths: Iterable<string>): void {
    for (const path of paths) if (!this.rows.has(path)) this.rows.set(path, new Float64Array(STATUS_LABELS.length));
  }

  /** One answered request; `status` as Elysia's `set.status` holds it (undefined: 200). */
  count(path: string, status: number | string | undefined): void {
    const code = status === undefined ? 200 : typeof status === "number" ? status : 0;
    (this.rows.get(path) ?? this.other)[code >= 100 && code < 600 ? STATUS_INDEX[code - 100] : OTHER_STATUS]++;
  }
}
