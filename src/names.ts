// Label rules and full-name helpers, shared by the API (what may be registered)
// and DNS (what a query name refers to). Pure: no I/O.
//
// Inside the program a name has one form: ASCII letters lower-cased, with the trailing dot
// ("demo.example.test."), as domains.name stores it. It is converted at the edges only: to it
// from settings and requests (absoluteName, fullName), from it for DNS wire records, emails
// and people (withoutDot, displayName).
import { domainToASCII, domainToUnicode } from "node:url";
import type { DnsSettings } from "./config.ts";

const LABEL = /^([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])$/;
const ALWAYS_RESERVED = new Set(["api", "www", "_psl", "ns"]);

/** Trimmed, lower-cased form of a requested name. */
export function normalizeLabel(name: string): string {
  return name.trim().toLowerCase();
}

/**
 * A name in the program's form: with its trailing dot, ASCII letters lower-cased (DNS compares
 * names case-insensitively in ASCII only; other octets stay as they are). "" is the root, ".".
 */
export function absoluteName(name: string): string {
  const lower = asciiLowerCase(name);
  return lower.endsWith(".") ? lower : `${lower}.`;
}

/** ASCII letters lower-cased, every other octet as it is: how DNS compares names (RFC 4343), and their canonical form (RFC 4034 6.2). */
export function asciiLowerCase(text: string): string {
  return text.replace(/[A-Z]+/g, (upper) => upper.toLowerCase());
}

/** A name as written outside the program: without its trailing dot (the root is ""). */
export function withoutDot(name: string): string {
  return name.endsWith(".") ? name.slice(0, -1) : name;
}

/** Labels of the zone used by configured static records (ns1, mx hosts, txt/cname owners...). */
export function staticLabels(dns: DnsSettings): Set<string> {
  const labels = new Set<string>();
  const suffix = `.${absoluteName(dns.domain)}`;
  const firstLabel = (fqdn: string) => {
    if (fqdn.endsWith(suffix)) labels.add(fqdn.slice(0, -suffix.length).split(".").at(-1)!);
  };
  for (const [name] of dns.nameservers) firstLabel(name);
  for (const [name] of dns.cname) firstLabel(name);
  for (const [label] of dns.txt) if (label !== "@" && label !== "*") labels.add(label.split(".").at(-1)!);
  for (const [label] of dns.mx) if (label !== "@" && label !== "*") labels.add(label.split(".").at(-1)!);
  for (const [, , host] of dns.mx) firstLabel(host);
  return labels;
}

export function isReservedLabel(label: string, reserved: Set<string>): boolean {
  return ALWAYS_RESERVED.has(label) || /^ns\d+$/.test(label) || reserved.has(label);
}

/** Why a label cannot be registered, or null when it can. */
export function labelProblem(label: string, domain: string, reserved: Set<string>): "invalid" | "reserved" | null {
  if (label.length === 0 || label.length > 63 || !LABEL.test(label)) return "invalid";
  if (withoutDot(fullName(label, domain)).length > 253) return "invalid";
  if (label.startsWith("xn--") && !isIdnaLabel(label)) return "invalid";
  return isReservedLabel(label, reserved) ? "reserved" : null;
}

/**
 * Whether an `xn--` label is valid IDNA (UTS #46, non-transitional, as WHATWG URL applies it):
 * its punycode decodes (domainToUnicode gives "" when it does not), the result is not plain
 * ASCII, encodes back to the very same label, and keeps the hyphen rules (CheckHyphens) that
 * WHATWG URL leaves out.
 */
function isIdnaLabel(label: string): boolean {
  const unicode = domainToUnicode(label);
  if (unicode === "" || /^\p{ASCII}*$/u.test(unicode)) return false;
  if (domainToASCII(unicode) !== label) return false;
  return !unicode.startsWith("-") && !unicode.endsWith("-") && unicode.slice(2, 4) !== "--";
}

/** "<label>.<domain>." as stored in domains.name and returned by /info; `domain` with or without its dot. */
export function fullName(label: string, domain: string): string {
  return `${label}.${absoluteName(domain)}`;
}

/** "<label>.<domain>" as people read it (emails, the gateway's UI). */
export function displayName(fullName: string): string {
  return withoutDot(fullName);
}
