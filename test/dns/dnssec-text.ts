// Records in zone-file presentation form, for feeding the DNSSEC tools (ldns, BIND) in tests.
import type { ResourceRecord } from "../../src/dns/zone.ts";

const TYPE_NAMES: Record<number, string> = {
  1: "A",
  2: "NS",
  5: "CNAME",
  6: "SOA",
  13: "HINFO",
  15: "MX",
  16: "TXT",
  28: "AAAA",
  43: "DS",
  46: "RRSIG",
  47: "NSEC",
  48: "DNSKEY",
  257: "CAA",
};
const typeName = (type: number) => TYPE_NAMES[type] ?? `TYPE${type}`;

/** A name with its dot; octets outside the printable letters as \DDD. */
function fqdn(name: string): string {
  if (name === "") return ".";
  const escaped = [...name].map((c) => {
    const code = c.charCodeAt(0);
    return code <= 0x20 || code >= 0x7f || c === '"' || c === ";" || c === "\\" || c === "(" || c === ")" ? `\\${String(code).padStart(3, "0")}` : c;
  });
  return `${escaped.join("")}.`;
}

const quoted = (text: string) => `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
const time = (seconds: number) => new Date(seconds * 1000).toISOString().replace(/[-:T]/g, "").slice(0, 14);

export function presentation(rr: ResourceRecord): string {
  const head = `${fqdn(rr.name)} ${rr.ttl} IN ${rr.type}`;
  switch (rr.type) {
    case "A":
    case "AAAA":
      return `${head} ${rr.address}`;
    case "NS":
    case "CNAME":
      return `${head} ${fqdn(rr.target)}`;
    case "SOA":
      return `${head} ${fqdn(rr.mname)} ${fqdn(rr.rname)} ${rr.serial} ${rr.refresh} ${rr.retry} ${rr.expire} ${rr.minimum}`;
    case "MX":
      return `${head} ${rr.priority} ${fqdn(rr.exchange)}`;
    case "TXT": {
      const parts: string[] = [];
      for (let i = 0; i < rr.text.length || i === 0; i += 255) parts.push(quoted(rr.text.slice(i, i + 255)));
      return `${head} ${parts.join(" ")}`;
    }
    case "CAA":
      return `${head} ${rr.flags} ${rr.tag} ${quoted(rr.value)}`;
    case "HINFO":
      return `${head} ${quoted(rr.cpu)} ${quoted(rr.os)}`;
    case "DNSKEY":
      return `${head} ${rr.flags} ${rr.protocol} ${rr.algorithm} ${Buffer.from(rr.key).toString("base64")}`;
    case "DS":
      return `${head} ${rr.keyTag} ${rr.algorithm} ${rr.digestType} ${Buffer.from(rr.digest).toString("hex").toUpperCase()}`;
    case "RRSIG":
      return `${head} ${typeName(rr.covered)} ${rr.algorithm} ${rr.labels} ${rr.originalTtl} ${time(rr.expiration)} ${time(rr.inception)} ${rr.keyTag} ${fqdn(rr.signer)} ${Buffer.from(rr.signature).toString("base64")}`;
    case "NSEC":
      return `${head} ${fqdn(rr.next)} ${[...rr.types]
        .sort((a, b) => a - b)
        .map(typeName)
        .join(" ")}`;
  }
}
