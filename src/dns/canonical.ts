// DNSSEC's canonical name order (RFC 4034 6.1): the NSEC chain links names in it, and the
// presigned transfer walks the zone in it. Pure.

/**
 * Compares two names (presentation form, without the trailing dot; "" is the root) in canonical
 * order: label by label from the right, each label as its octets with ASCII letters
 * lower-cased, a label before every longer label it begins. A name comes before the names
 * below it. Names here hold no escaped dots (no label of this zone has one).
 */
export function canonicalCompare(a: string, b: string): number {
  let ia = a.length;
  let ib = b.length;
  for (;;) {
    if (ia <= 0 || ib <= 0) {
      // one ran out of labels: it is the ancestor (or both are the same name)
      const aDone = ia <= 0;
      const bDone = ib <= 0;
      return aDone && bDone ? 0 : aDone ? -1 : 1;
    }
    const sa = a.lastIndexOf(".", ia - 1) + 1;
    const sb = b.lastIndexOf(".", ib - 1) + 1;
    const la = ia - sa;
    const lb = ib - sb;
    const n = Math.min(la, lb);
    for (let i = 0; i < n; i++) {
      const ca = lower(a.charCodeAt(sa + i));
      const cb = lower(b.charCodeAt(sb + i));
      if (ca !== cb) return ca - cb;
    }
    if (la !== lb) return la - lb;
    ia = sa - 1;
    ib = sb - 1;
  }
}

const lower = (c: number) => (c >= 0x41 && c <= 0x5a ? c + 0x20 : c);

/** Whether `name` is `ancestor` or below it (both in presentation form, any case). */
export function isAtOrBelow(name: string, ancestor: string): boolean {
  const n = name.toLowerCase();
  const a = ancestor.toLowerCase();
  return a === "" || n === a || n.endsWith(`.${a}`);
}
