// IP address forms shared by the API (what it stores for a ping, who a client is, which peers
// are trusted proxies) and DNS (what it answers). One IPv6 expander for all of them.
import { isIP } from "node:net";

/** An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d; this gives a.b.c.d back. */
export function unmapIPv4(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1] : address;
}

/**
 * 4 or 6 for an address a name may point at, else 0: isIP's, but an IPv6 address with a zone
 * index (fe80::1%eth0, any length after the %) is none, as it means nothing to DNS or anyone else.
 */
export function publishableFamily(address: string): 0 | 4 | 6 {
  return address.includes("%") ? 0 : (isIP(address) as 0 | 4 | 6);
}

/** The eight 16-bit groups of an IPv6 address (dns2's writer misreads "::" edge cases and dotted tails). */
export function ipv6Groups(address: string): number[] {
  let text = address.split("%")[0];
  if (isIP(text) !== 6) throw new Error(`not an IPv6 address: ${address}`);
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const groups = new Uint16Array(8);
  ipv6GroupsInto(text, groups);
  return Array.from(groups);
}

/** "2001:db8:1:2::/64" for bits = 64: the network of an IPv6 address as text (bits a multiple of 16). */
export function ipv6Prefix(address: string, bits: 16 | 32 | 48 | 64 | 80 | 96 | 112): string {
  return `${ipv6Groups(address)
    .slice(0, bits / 16)
    .map((g) => g.toString(16))
    .join(":")}::/${bits}`;
}

/** An address or network: 4 or 16 bytes and how many leading bits count. */
export interface Cidr {
  bytes: Uint8Array;
  bits: number;
}

/**
 * Reads a dotted quad as isIP takes one (no leading zeros, each part at most 255) into `out`
 * without allocating; false for anything else (then addressBytes reads it).
 */
export function dottedQuadInto(address: string, out: Uint8Array): boolean {
  let part = 0;
  let value = -1;
  for (let i = 0; i <= address.length; i++) {
    const c = i < address.length ? address.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (value < 0 || part > 3) return false;
      out[part++] = value;
      value = -1;
    } else if (c >= 0x30 && c <= 0x39) {
      if (value === 0) return false; // a leading zero
      value = value < 0 ? c - 0x30 : value * 10 + c - 0x30;
      if (value > 255) return false;
    } else return false;
  }
  return part === 4;
}

/** The bytes of an IPv4 (4) or IPv6 (16) address, or null when it is neither. */
export function addressBytes(address: string): Uint8Array | null {
  const text = unmapIPv4(address);
  const v4 = new Uint8Array(4);
  if (dottedQuadInto(text, v4)) return v4;
  if (isIP(text) !== 6) return null;
  const bytes = new Uint8Array(16);
  ipv6Groups(text).forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

/** "192.0.2.0/24", "2001:db8::/32" or a lone address; null when it is not one. */
export function parseCidr(text: string): Cidr | null {
  const [address, prefix, extra] = text.trim().split("/");
  if (extra !== undefined) return null;
  const bytes = addressBytes(address);
  if (!bytes) return null;
  if (prefix === undefined) return { bytes, bits: bytes.length * 8 };
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > bytes.length * 8) return null;
  return { bytes, bits: Number(prefix) };
}

/** Whether an address (as bytes) lies in a network; IPv4 and IPv6 never match each other. */
export function inCidr(address: Uint8Array, network: Cidr): boolean {
  if (address.length !== network.bytes.length) return false;
  let bits = network.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((address[i] & mask) !== (network.bytes[i] & mask)) return false;
  }
  return true;
}

/**
 * The eight groups of an IPv6 address in its text form, into `out`, without allocating: the
 * per-packet form, for addresses a socket reports. ipv6Groups validates and takes dotted tails.
 */
export function ipv6GroupsInto(address: string, out: Uint16Array): void {
  out.fill(0);
  let count = 0;
  let gap = -1;
  let value = 0;
  let digits = 0;
  for (let i = 0; i < address.length && count < 8; i++) {
    const c = address.charCodeAt(i);
    if (c === 58) {
      // ':'
      if (digits > 0) out[count++] = value;
      if (address.charCodeAt(i + 1) === 58 && gap < 0) {
        gap = count;
        i++;
      }
      value = 0;
      digits = 0;
      continue;
    }
    if (c === 37) break; // '%': a zone index
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : 0;
    value = ((value << 4) | d) & 0xffff;
    digits++;
  }
  if (digits > 0 && count < 8) out[count++] = value;
  if (gap >= 0 && count < 8) {
    const shift = 8 - count;
    for (let k = count - 1; k >= gap; k--) {
      out[k + shift] = out[k];
      out[k] = 0;
    }
  }
}

/** An address with its port as URLs and logs write it: IPv6 in brackets ([::1]:8080). */
export function hostPort(address: string, port: number): string {
  return `${isIP(address) === 6 ? `[${address}]` : address}:${port}`;
}
