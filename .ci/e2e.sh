#!/usr/bin/env bash
# End-to-end suite with real peers (pebble + lego, unbound, dig, pagekite, chromium, ddclient, inadyn, prometheus, nsd) against the compiled binary.
# Installs the Debian packages it needs (idempotent, non-interactive), builds
# dist/registration-server, then runs test/e2e/*.e2e.ts and prints bun's test summary.
set -euo pipefail
cd "$(dirname "$0")/.."

# pagekite runs in a network namespace (unshare/nsenter from util-linux, ip from iproute2; root).
# chromium: headless, driven over the DevTools protocol by test/e2e/pages.e2e.ts.
# bind9-utils (dnssec-dsfromkey) and ldnsutils (ldns-verify-zone): the DNSSEC checks.
packages=(pebble lego unbound dnsutils bind9-utils ldnsutils openssl pagekite iproute2 chromium ddclient inadyn prometheus nsd)
commands=(pebble lego unbound unbound-checkconf dig delv dnssec-dsfromkey ldns-verify-zone openssl pagekite ip unshare nsenter chromium ddclient inadyn prometheus nsd)
missing=0
for c in "${commands[@]}"; do command -v "$c" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$c" >/dev/null 2>&1 || missing=1; done
if [ "$missing" = 1 ]; then
  echo "e2e: installing ${packages[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
export PATH="$PWD/node_modules/.bin:$PATH:/usr/sbin:/sbin"

[ -x node_modules/.bin/bun ] || npm ci --no-audit --no-fund
echo "e2e: building dist/registration-server"
npm run --silent build >/dev/null

# Bounded as a whole (each test is bounded too); every process the suite starts is stopped by its PID.
timeout --kill-after=10 540 npm run --silent test:e2e
