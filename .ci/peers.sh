#!/usr/bin/env bash
# The real peers and tools the tests drive, as Debian packages, installed non-interactively when
# any is missing (idempotent). .ci/run runs it before `npm test` (whose transfer, TSIG and DNSSEC
# tests spawn dig, ldns-verify-zone, dnssec-verify and dnssec-dsfromkey, and skip without them)
# and .ci/e2e.sh before the end-to-end suite (delv, unbound, NSD/Knot/BIND and the rest below).
set -euo pipefail

# pagekite runs in a network namespace (unshare/nsenter from util-linux, ip from iproute2; root).
# chromium: headless, driven over the DevTools protocol by test/e2e/pages.e2e.ts.
# bind9-utils (dnssec-dsfromkey) and ldnsutils (ldns-verify-zone): the DNSSEC checks.
# nsd, knot (knotd, knotc), bind9 (named): secondaries.e2e.ts runs its own instances on free ports.
packages=(pebble lego unbound dnsutils bind9-utils ldnsutils openssl pagekite iproute2 chromium ddclient inadyn prometheus nsd knot bind9)
commands=(pebble lego unbound unbound-checkconf dig delv dnssec-dsfromkey ldns-verify-zone openssl pagekite ip unshare nsenter chromium ddclient inadyn prometheus nsd nsd-checkconf knotd knotc named named-checkconf)
missing=0
for c in "${commands[@]}"; do command -v "$c" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$c" >/dev/null 2>&1 || missing=1; done
if [ "$missing" = 1 ]; then
  echo "peers: installing ${packages[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # Daemons must not start on install (nsd, knot, named and unbound would take port 53).
  policy_added=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null && $SUDO chmod +x /usr/sbin/policy-rc.d && policy_added=1
  fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  [ -z "$policy_added" ] || $SUDO rm -f /usr/sbin/policy-rc.d
  # Where a service manager started them anyway, stop them: the tests run their own instances.
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    for svc in nsd knot named bind9 unbound; do
      if systemctl is-active --quiet "$svc" 2>/dev/null; then $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true; fi
    done
  fi
fi
