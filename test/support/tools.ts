// Outside programs some tests drive (dig, ldns-verify-zone, unbound, NSD...): Debian packages
// .ci/run installs before the tests. Elsewhere a test that needs one missing is skipped, and
// says which program and package it wanted, so `npm test` runs on a machine with Node.js alone.
import { existsSync } from "node:fs";

/** Where each program is installed on Debian, and its package. */
const PROGRAMS: Record<string, { path: string; pkg: string }> = {
  dig: { path: "/usr/bin/dig", pkg: "bind9-dnsutils" },
  delv: { path: "/usr/bin/delv", pkg: "bind9-dnsutils" },
  "dnssec-verify": { path: "/usr/bin/dnssec-verify", pkg: "bind9-utils" },
  "dnssec-dsfromkey": { path: "/usr/bin/dnssec-dsfromkey", pkg: "bind9-utils" },
  "ldns-verify-zone": { path: "/usr/bin/ldns-verify-zone", pkg: "ldnsutils" },
  "ldns-key2ds": { path: "/usr/bin/ldns-key2ds", pkg: "ldnsutils" },
  unbound: { path: "/usr/sbin/unbound", pkg: "unbound" },
};

/** Whether every named program is installed; when not, one line says what is missing. */
export function haveTools(...names: (keyof typeof PROGRAMS)[]): boolean {
  const missing = names.filter((name) => !existsSync(PROGRAMS[name].path));
  if (missing.length > 0)
    console.log(`skipping tests that need ${missing.join(", ")} (apt-get install ${[...new Set(missing.map((m) => PROGRAMS[m].pkg))].join(" ")})`);
  return missing.length === 0;
}
