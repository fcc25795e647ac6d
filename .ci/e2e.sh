#!/usr/bin/env bash
# End-to-end suite with real peers (pebble + lego, unbound, delv, dig, pagekite, chromium, ddclient, inadyn, prometheus,
# and NSD, Knot and BIND as zone-transfer secondaries) against the compiled binary.
# Installs the Debian packages it needs (.ci/peers.sh: idempotent, non-interactive), builds
# dist/registration-server, then runs test/e2e/*.e2e.ts and prints bun's test summary.
set -euo pipefail
cd "$(dirname "$0")/.."

bash .ci/peers.sh
export PATH="$PWD/node_modules/.bin:$PATH:/usr/sbin:/sbin"

[ -x node_modules/.bin/bun ] || npm ci --no-audit --no-fund
echo "e2e: building dist/registration-server"
npm run --silent build >/dev/null

# Bounded as a whole (each test is bounded too); every process the suite starts is stopped by its PID.
timeout --kill-after=10 900 npm run --silent test:e2e
