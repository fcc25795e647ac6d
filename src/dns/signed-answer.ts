// A zone answer made DNSSEC-signed (docs/dns.md, "DNSSEC"): the apex DNSKEY answered, negative answers in
// compact denial of existence (RFC 9824), and an RRSIG after every RRset. Pure: the signer
// (dnssec.ts) holds the key and the signature cache; the responder decides when to call this.
import type { Signer } from "./dnssec.ts";
import { asciiLowerCase, withoutDot } from "../names.ts";
import { TYPE_NXNAME } from "./wire.ts";
import { CLASS_ANY, CLASS_IN, RCODE, TYPE, type Question, type ResourceRecord, type ZoneAnswer } from "./zone.ts";

const TYPE_DNSKEY = TYPE.DNSKEY;
const TYPE_RRSIG = TYPE.RRSIG;
const TYPE_NSEC = TYPE.NSEC;

const isApex = (name: string, signer: Signer) => asciiLowerCase(withoutDot(name)) === asciiLowerCase(signer.zone);

/**
 * The answer with DNSSEC: a DNSKEY question at the apex gets the key (with or without the DO
 * bit: the RRset exists once the zone is signed); with `dnssecOk`, every RRset of every
 * section is followed by its RRSIG, and a negative answer becomes compact denial: NOERROR,
 * the SOA and one NSEC owned by the name, next `\000.<name>`, listing RRSIG NSEC NXNAME for a
 * name that does not exist, or RRSIG NSEC and the types it holds (and may hold any moment,
 * bar the one asked for) for NODATA.
 * Answers that are not the zone's (REFUSED, errors) come back as they were.
 */
export function signedAnswer(
  answer: ZoneAnswer,
  question: Question,
  signer: Signer,
  dnssecOk: boolean,
  nowSeconds: number,
  /** the delegated PageKite zone (zone.ts delegatedChild), or null */
  child: string | null = null,
  /** the zone's answer to the same name with another type (for a query of type RRSIG) */
  askType?: (type: number) => ZoneAnswer,
): ZoneAnswer {
  if (!answer.aa || (answer.rcode !== RCODE.NOERROR && answer.rcode !== RCODE.NXDOMAIN)) return answer;
  if (child) {
    // The delegated PageKite zone is unsigned (it has no key and the parent no DS): its answers
    // go out as they are, and the parent proves the delegation insecure, an NSEC at the cut
    // with NS and no DS (RFC 4035 3.1.4.1: DS is the parent's to answer), its next name the
    // first label with a zero octet appended, outside the child (RFC 9824 3.4).
    const name = asciiLowerCase(withoutDot(question.name));
    if (name === child && question.type === TYPE.DS && answer.denial && dnssecOk) {
      const soa = answer.authority.filter((rr) => rr.type === "SOA");
      const nsec: ResourceRecord = {
        name: answer.denial.owner,
        ttl: soa[0]?.ttl ?? 0,
        type: "NSEC",
        next: name.replace(/^[^.]*/, (first) => `${first}\u0000`),
        types: [TYPE.NS, TYPE_RRSIG, TYPE_NSEC],
      };
      return { rcode: RCODE.NOERROR, aa: true, answers: [], authority: withSignatures([...soa, nsec], signer, nowSeconds), additional: [] };
    }
    if (name === child || name.endsWith(`.${child}`)) return answer;
  }
  let result = answer;
  if (question.type === TYPE_DNSKEY && (question.class === CLASS_IN || question.class === CLASS_ANY) && isApex(question.name, signer) && answer.denial)
    result = {
      rcode: RCODE.NOERROR,
      aa: true,
      answers: signer.dnskeys().map((rr) => ({ ...rr, name: withoutDot(question.name) })),
      authority: [],
      additional: [],
    };
  if (!dnssecOk) return result;

  // RRSIG asked for at a name that holds records: the signatures of its RRsets, as BIND
  // answers (a NODATA proven by an NSEC listing RRSIG would contradict itself).
  if (question.type === TYPE_RRSIG && askType && result.denial?.records?.length) {
    const signatures: ResourceRecord[] = [];
    for (const type of new Set(result.denial.records.map((r) => TYPE[r.type]))) {
      const sets = withSignatures(askType(type).answers, signer, nowSeconds);
      signatures.push(...sets.filter((rr) => rr.type === "RRSIG" && (rr as { covered: number }).covered === type));
    }
    if (signatures.length > 0) return { rcode: RCODE.NOERROR, aa: true, answers: signatures, authority: [], additional: [] };
  }

  let answers = result.answers;
  let authority = result.authority;
  let rcode = result.rcode;
  let fleeting: ResourceRecord | null = null;
  if (result.denial) {
    const { owner, records, volatile = [] } = result.denial;
    const soa = authority.find((rr) => rr.type === "SOA");
    // A type the store may add at any moment (a challenge's TXT, a ping's address) is listed
    // unless it is the one asked for: a resolver using NSEC aggressively (RFC 8198) would
    // otherwise deny it from cache for the negative TTL after it appears (an ACME challenge
    // set right after a client looked the name up). Listing more denies less: still valid.
    const listed =
      records === null
        ? [TYPE_RRSIG, TYPE_NSEC, TYPE_NXNAME]
        : [
            ...records.map((r) => TYPE[r.type]),
            ...volatile.map((t) => TYPE[t]).filter((t) => t !== question.type),
            TYPE_RRSIG,
            TYPE_NSEC,
            ...(isApex(owner, signer) ? [TYPE_DNSKEY] : []),
          ];
    const nsec: ResourceRecord = {
      name: owner,
      ttl: soa?.ttl ?? 0,
      type: "NSEC",
      // lower case: RFC 4034 validators lower it when they check the signature, RFC 6840 ones do not
      next: successor(asciiLowerCase(withoutDot(owner))),
      types: [...new Set(listed)].sort((a, b) => a - b),
    };
    // A missing name's NSEC is made up for it alone: its signature is not kept, or a flood of
    // made-up names would push the zone's own signatures out of the cache (and transfers, which
    // reuse them, would sign the zone again).
    if (records === null) fleeting = nsec;
    rcode = RCODE.NOERROR;
    // ...and so its NSEC's RRSIG, the answer to RRSIG at a name with no other RRset signed (a
    // missing name, an empty non-terminal): a NODATA proven by an NSEC listing RRSIG is bogus.
    if (question.type === TYPE_RRSIG && result.answers.length === 0)
      return { rcode, aa: true, answers: [signer.sign([nsec], nowSeconds, records !== null)], authority: [], additional: [] };
    // Every name has its NSEC under compact denial: asked for, it is the answer (a NODATA for
    // NSEC proven by an NSEC listing NSEC would contradict itself).
    if (question.type === TYPE_NSEC && result.answers.length === 0) {
      answers = [nsec];
      authority = [];
    } else authority = [...authority, nsec];
  }
  return {
    rcode,
    aa: true,
    answers: withSignatures(answers, signer, nowSeconds, fleeting),
    authority: withSignatures(authority, signer, nowSeconds, fleeting),
    additional: withSignatures(result.additional, signer, nowSeconds),
  };
}

/**
 * The name right after `name` in canonical order (RFC 9824 2): `\000.<name>`; for a name too
 * long to take another label (255 octets on the wire), the first name after it and all it could
 * hold below it (nextAfter).
 */
export function successor(name: string): string {
  const wireLength = name === "" ? 1 : name.length + 2;
  if (wireLength + 2 <= 255) return `\u0000.${name}`;
  return nextAfter(name);
}

/**
 * The least name greater than `name` and every name below it: its first label with a zero octet
 * appended when that fits, or failing that with its last octet below 0xff one higher (never an
 * upper-case letter, which canonical order reads as lower case) and the 0xff octets after it
 * dropped; a first label of 0xff octets alone gives the name after its parent the same way.
 */
function nextAfter(name: string): string {
  const dot = name.indexOf(".");
  const first = dot < 0 ? name : name.slice(0, dot);
  const rest = dot < 0 ? "" : name.slice(dot);
  if (name.length + 3 <= 255 && first.length < 63) return `${first}\u0000${rest}`;
  let k = first.length - 1;
  while (k >= 0 && first.charCodeAt(k) === 0xff) k--;
  if (k < 0) {
    if (rest === "") throw new Error(`no successor name for ${name}`);
    return nextAfter(rest.slice(1));
  }
  let octet = first.charCodeAt(k) + 1;
  if (octet >= 0x41 && octet <= 0x5a) octet = 0x5b;
  return `${first.slice(0, k)}${String.fromCharCode(octet)}${rest}`;
}

/** The records grouped into RRsets (in the order each first appears), each followed by its RRSIG; `fleeting`'s not kept in the cache. */
function withSignatures(records: ResourceRecord[], signer: Signer, nowSeconds: number, fleeting: ResourceRecord | null = null): ResourceRecord[] {
  if (records.length === 0) return records;
  const sets = new Map<string, ResourceRecord[]>();
  for (const rr of records) {
    const key = `${asciiLowerCase(rr.name)} ${rr.type}`;
    const set = sets.get(key);
    if (set) set.push(rr);
    else sets.set(key, [rr]);
  }
  const out: ResourceRecord[] = [];
  for (const set of sets.values()) out.push(...set, signer.sign(set, nowSeconds, set[0] !== fleeting));
  return out;
}
