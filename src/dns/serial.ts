// SOA serial arithmetic (RFC 1982): the store's publisher makes serials with it, and a
// transfer compares a secondary's serial with the zone's. Pure.

/** RFC 1982: a serial is a 32-bit number compared modulo 2^32; an increment is at most 2^31 - 1. */
export const SERIAL_SPACE = 2 ** 32;
const HALF_SERIAL_SPACE = 2 ** 31;

/** RFC 1982 3.2: whether serial `a` is greater than `b` (false when equal, or exactly 2^31 apart: undefined). */
export function serialGreater(a: number, b: number): boolean {
  const distance = (a - b) % SERIAL_SPACE;
  const d = distance < 0 ? distance + SERIAL_SPACE : distance;
  return d > 0 && d < HALF_SERIAL_SPACE;
}

/**
 * The serial after `last`: the policy value (today's YYYYMMDD00, say) when that is greater than
 * last + 1 in serial arithmetic and less than 2^31 ahead of `last` (RFC 1982 3.1), else
 * last + 1, modulo 2^32. Always greater than `last` for every secondary.
 */
export function nextSerial(last: number, policy: number): number {
  const plusOne = (last + 1) % SERIAL_SPACE;
  return serialGreater(policy, plusOne) && serialGreater(policy, last) ? policy % SERIAL_SPACE : plusOne;
}
