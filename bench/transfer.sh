#!/usr/bin/env bash
# Zone transfers (docs/dns.md, "Zone transfers") into a real NSD secondary, TSIG-signed (hmac-sha256) as in
# production, everything on loopback, the primary pinned to SERVER_CPU and the secondary and
# load to LOAD_CPU. One run of three measurements (usage: bench/transfer.sh [ROUNDS], default 1):
#  1. full transfer of a TRANSFER_NAMES-name zone (100,000): seconds from starting a fresh NSD
#     secondary to it answering the zone's serial; ours against an NSD primary serving the same
#     records from a zone file (target: ours within 1.5x of NSD). The secondary starts
#     PRIMARY_SETTLE (2) s after the primary is ready, as when a secondary is added to a running
#     primary; PRIMARY_SETTLE=0 measures a secondary asking while ours is still starting (its
#     zone image, expiry sweep and JIT on the one core it is pinned to).
#  2. BIG_NAMES (1,000,000) names: the same into a fresh NSD secondary from ours, with our RSS
#     before and our peak RSS (VmHWM) after: the growth is what the transfer cost (target < 100 MB).
#  3. CHANGES_PER_SECOND (100) /ping address changes for CHANGE_SECONDS (10) s with ours
#     NOTIFYing the secondary: the API's 200 to the secondary answering the new A, p50/p99
#     (target p99 < 200 ms), by bench/lib/change-latency.ts, on a zone of LATENCY_NAMES names
#     (default TRANSFER_NAMES). The secondary's reload throttle is
#     off (SECONDARY_RELOAD_TIMEOUT=0; NSD's default of 1 s adds up to a second to every change).
#     Measured with NSD and with Knot (LATENCY_SECONDARIES): NSD reloads by forking a new server
#     for each transfer, Knot applies each IXFR in place, so the two bound what we can be held to.
#     Knot twice: as installed, and "knot-large" set up as its manual advises for large zones with
#     frequent updates (by default it rewrites the whole zone file after every IXFR). Changes
#     start SETTLE_SECONDS (2) after the secondary first answers the serial; LATENCY_TRACE=1
#     prints each change's start and latency on stderr. Knot logs at "info" (each refresh's time).
# Small dry run: TRANSFER_NAMES=2000 BIG_NAMES=5000 CHANGE_SECONDS=2 bench/transfer.sh
# PARTS picks measurements (default "full latency big"), e.g. PARTS=full bench/transfer.sh 3
source "$(dirname "$0")/lib/common.sh"
source "$BENCH_DIR/lib/servers.sh"
ROUNDS="${1:-1}"
TRANSFER_NAMES="${TRANSFER_NAMES:-100000}"
BIG_NAMES="${BIG_NAMES:-1000000}"
CHANGES_PER_SECOND="${CHANGES_PER_SECOND:-100}"
CHANGE_SECONDS="${CHANGE_SECONDS:-10}"
LATENCY_NAMES="${LATENCY_NAMES:-$TRANSFER_NAMES}"
SECONDARY_RELOAD_TIMEOUT="${SECONDARY_RELOAD_TIMEOUT:-0}"
SETTLE_SECONDS="${SETTLE_SECONDS:-2}"
PRIMARY_SETTLE="${PRIMARY_SETTLE:-2}"
LATENCY_SECONDARIES="${LATENCY_SECONDARIES:-nsd knot knot-large}"
PARTS="${PARTS:-full latency big}"
part() { [[ " $PARTS " == *" $1 "* ]]; }
NSD_PRIMARY_PORT=5311 OURS_PORT=5312 SECONDARY_PORT=5313 OURS_HTTP=18090
ZONE=bench.test

ensure_packages nsd knot bind9-dnsutils
ensure_node_modules
build_ours
KEY_SECRET=$(head -c 32 /dev/urandom | base64)
RESULTS="$WORK/transfer-results.jsonl"
: >"$RESULTS"
log "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# make_data DIR NAMES: our database, the NSD zone file, tokens and names (no PowerDNS, no queries).
make_data() {
  "$BUN" "$BENCH_DIR/lib/make-data.ts" --out "$1" --domains "$2" --queries 0 --no-pdns >&2
  # The transfer settings, appended to the [dns] table make-data.ts ends its ours.toml with.
  cat >>"$1/ours.toml" <<TOML
tsig_keys = [["xfr-key.", "hmac-sha256", "$KEY_SECRET"]]
transfer_acl = [["127.0.0.1/32", "xfr-key."]]
notify = [["127.0.0.1:$SECONDARY_PORT", "xfr-key."]]
TOML
}

nsd_common() { # DIR PORT [SERVER LINE]: the server: and key: sections of an NSD config in DIR
  cat <<CONF
server:
  ip-address: 127.0.0.1@$2
  ${3:-}
  do-ip6: no
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "$1"
  database: ""
  zonelistfile: "$1/zone.list"
  xfrdfile: "$1/xfrd.state"
  xfrdir: "$1"
  pidfile: "$1/nsd.pid"
  logfile: "$1/nsd.log"
  verbosity: 1
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: no
key:
  name: "xfr-key"
  algorithm: hmac-sha256
  secret: "$KEY_SECRET"
CONF
}

# start_nsd_primary DATA_DIR: NSD serving DATA_DIR/bench.test.zone, transfers to xfr-key.
start_nsd_primary() {
  local dir="$WORK/nsd-primary"
  rm -rf "$dir" && mkdir -p "$dir"
  cp "$1/$ZONE.zone" "$dir/"
  { nsd_common "$dir" $NSD_PRIMARY_PORT
    printf 'zone:\n  name: "%s"\n  zonefile: "%s.zone"\n  provide-xfr: 127.0.0.1 xfr-key\n' "$ZONE" "$ZONE"; } >"$dir/nsd.conf"
  nsd-checkconf "$dir/nsd.conf" >&2
  taskset -c "$SERVER_CPU" nsd -d -c "$dir/nsd.conf" >>"$dir/nsd.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_for_dns $NSD_PRIMARY_PORT $ZONE 120
}

# start_secondary PRIMARY_PORT: a fresh NSD secondary (no zone yet) on LOAD_CPU; sets SECONDARY_PID.
start_secondary() {
  local dir="$WORK/nsd-secondary"
  rm -rf "$dir" && mkdir -p "$dir"
  # NSD throttles reloads after a transfer to one a second by default (xfrd-reload-timeout: 1),
  # which would be most of what change latency measures: 0 lets each transfer be served at once.
  { nsd_common "$dir" $SECONDARY_PORT "xfrd-reload-timeout: $SECONDARY_RELOAD_TIMEOUT"
    printf 'zone:\n  name: "%s"\n  zonefile: "%s.zone"\n  request-xfr: 127.0.0.1@%s xfr-key\n  allow-notify: 127.0.0.1 xfr-key\n' "$ZONE" "$ZONE" "$1"; } >"$dir/nsd.conf"
  nsd-checkconf "$dir/nsd.conf" >&2
  taskset -c "$LOAD_CPU" nsd -d -c "$dir/nsd.conf" >>"$dir/nsd.log" 2>&1 &
  SECONDARY_PID=$!
  PIDS+=("$SECONDARY_PID")
}

# start_knot_secondary PRIMARY_PORT [large]: a fresh Knot secondary on LOAD_CPU, same port and
# key. "large": as Knot's manual advises for "large zones with frequent updates" (knot.conf(5),
# zonefile-sync; journal-db-mode asynchronous "recommended on secondary servers"): the zone file
# is written a minute after a change instead of after each one (the journal keeps every change).
# The journal's depth is raised from its default of 20 changesets: a full journal makes Knot
# write the zone file at once to drop the oldest, which at 100 changes a second (one changeset
# per refresh, ~15 a second) undid zonefile-sync and stalled a refresh 0.2-0.8 s every ~1.5 s.
start_knot_secondary() {
  local dir="$WORK/knot-secondary" zone_extra="" db_extra=""
  if [ "${2:-}" = large ]; then
    zone_extra="    zonefile-sync: 60
    journal-max-depth: 10000"
    db_extra="  journal-db-mode: asynchronous"
  fi
  rm -rf "$dir" && mkdir -p "$dir"
  cat >"$dir/knot.conf" <<CONF
server:
  listen: 127.0.0.1@$SECONDARY_PORT
  rundir: "$dir"
log:
  - target: stderr
    any: info
database:
  storage: "$dir"
$db_extra
key:
  - id: xfr-key
    algorithm: hmac-sha256
    secret: $KEY_SECRET
remote:
  - id: primary
    address: 127.0.0.1@$1
    key: xfr-key
acl:
  - id: notify
    address: 127.0.0.1
    key: xfr-key
    action: notify
zone:
  - domain: $ZONE
    storage: "$dir"
    master: primary
    acl: notify
$zone_extra
CONF
  knotc -c "$dir/knot.conf" conf-check >&2
  taskset -c "$LOAD_CPU" knotd -c "$dir/knot.conf" >"$dir/knot.log" 2>&1 &
  SECONDARY_PID=$!
  PIDS+=("$SECONDARY_PID")
}

serial_at() { # PORT: the SOA serial a server answers, or nothing
  dig +tries=1 +time=1 +short -p "$1" @127.0.0.1 $ZONE SOA 2>/dev/null | awk '{ print $3 }'
}

# full_transfer PRIMARY_PORT: seconds from starting a fresh secondary to it answering the
# primary's serial (polled every 20 ms); prints them and NSD's own "received update" line.
full_transfer() {
  local want started now
  want=$(serial_at "$1")
  [ -n "$want" ] || { log "primary on port $1 gives no SOA"; return 1; }
  started=$(date +%s.%N)
  start_secondary "$1"
  until [ "$(serial_at $SECONDARY_PORT)" = "$want" ]; do
    kill -0 "$SECONDARY_PID" 2>/dev/null || { log "the secondary exited"; tail -5 "$WORK/nsd-secondary/nsd.log" >&2; return 1; }
    now=$(date +%s.%N)
    if awk -v a="$started" -v b="$now" 'BEGIN { exit !(b - a > 600) }'; then log "the secondary never served serial $want"; tail -5 "$WORK/nsd-secondary/nsd.log" >&2; return 1; fi
    sleep 0.02
  done
  now=$(date +%s.%N)
  TRANSFER_SECONDS=$(awk -v a="$started" -v b="$now" 'BEGIN { printf "%.3f", b - a }')
  log "secondary answered serial $want after $TRANSFER_SECONDS s: $(grep -o 'received update to serial.*' "$WORK/nsd-secondary/nsd.log" | tail -1)"
  stop_pid "$SECONDARY_PID"
}

DATA="$WORK/transfer-${TRANSFER_NAMES}"
make_data "$DATA" "$TRANSFER_NAMES"
# the zone the change latency is measured on: by default the full transfer's
LATENCY_DATA="$DATA"
if [ "$LATENCY_NAMES" != "$TRANSFER_NAMES" ] && part latency; then
  LATENCY_DATA="$WORK/transfer-${LATENCY_NAMES}"
  make_data "$LATENCY_DATA" "$LATENCY_NAMES"
fi
for round in $(seq "$ROUNDS"); do
  # 1. full transfer, NSD primary and ours (order alternates by round)
  order=(nsd ours); [ $((round % 2)) = 0 ] && order=(ours nsd)
  part full || order=()
  declare -A took=()
  for primary in "${order[@]}"; do
    case "$primary" in
      nsd) start_nsd_primary "$DATA"; port=$NSD_PRIMARY_PORT ;;
      ours) start_ours "$DATA" $OURS_PORT $OURS_HTTP; port=$OURS_PORT ;;
    esac
    sleep "$PRIMARY_SETTLE"
    full_transfer $port
    took[$primary]=$TRANSFER_SECONDS
    stop_pid "$SERVER_PID"
  done
  part full && ratio=$(awk -v o="${took[ours]}" -v n="${took[nsd]}" 'BEGIN { printf "%.2f", o / n }') &&
  echo "{\"round\":$round,\"what\":\"full transfer\",\"names\":$TRANSFER_NAMES,\"nsdSeconds\":${took[nsd]},\"oursSeconds\":${took[ours]},\"oursOverNsd\":$ratio}" | tee -a "$RESULTS" >&2

  # 3. change-to-secondary-answer latency, ours NOTIFYing the secondary, on a copy of the data
  # (the pings change it; the next round's full transfers compare the zone as generated)
  part latency || continue
  for secondary in $LATENCY_SECONDARIES; do
    rm -rf "$LATENCY_DATA-changes" && cp -r "$LATENCY_DATA" "$LATENCY_DATA-changes"
    start_ours "$LATENCY_DATA-changes" $OURS_PORT $OURS_HTTP REGISTRATION_HTTP_TRUST_PROXY=true REGISTRATION_DNS_RRL_RATE=0
    want=$(serial_at $OURS_PORT)
    case "$secondary" in
      nsd) start_secondary $OURS_PORT ;;
      knot) start_knot_secondary $OURS_PORT ;;
      knot-large) start_knot_secondary $OURS_PORT large ;;
    esac
    for _ in $(seq 3000); do [ "$(serial_at $SECONDARY_PORT)" = "$want" ] && break; sleep 0.02; done
    # Steady state, not the first second after a transfer: Knot answers the new serial while it
    # still settles the zone it just loaded, and changes sent then all waited ~0.85 s for it.
    sleep "$SETTLE_SECONDS"
    latency=$(taskset -c "$LOAD_CPU" "$BUN" "$BENCH_DIR/lib/change-latency.ts" --api "http://127.0.0.1:$OURS_HTTP" --dns "127.0.0.1:$SECONDARY_PORT" \
      --names "$LATENCY_DATA/names.txt" --tokens "$LATENCY_DATA/tokens.txt" --rate "$CHANGES_PER_SECOND" --seconds "$CHANGE_SECONDS")
    echo "{\"round\":$round,\"what\":\"change latency\",\"names\":$LATENCY_NAMES,\"secondary\":\"$secondary\",${latency:1}" | tee -a "$RESULTS" >&2
    stop_pid "$SECONDARY_PID"
    stop_pid "$SERVER_PID"
  done
done

# 2. BIG_NAMES names from ours: transfer time and our RSS growth
if part big; then
BIG="$WORK/transfer-${BIG_NAMES}"
make_data "$BIG" "$BIG_NAMES"
start_ours "$BIG" $OURS_PORT $OURS_HTTP
sleep 2
rss_before=$(rss_mb "$SERVER_PID")
hwm_before=$(peak_rss_mb "$SERVER_PID")
# VmRSS every 50 ms while the transfer runs (VmHWM alone may still hold the start-up's peak)
( while kill -0 "$SERVER_PID" 2>/dev/null; do rss_mb "$SERVER_PID" 2>/dev/null || true; echo; sleep 0.05; done ) >"$WORK/rss-samples.txt" &
SAMPLER_PID=$!
PIDS+=("$SAMPLER_PID")
full_transfer $OURS_PORT
kill "$SAMPLER_PID" 2>/dev/null || true
peak=$(awk 'NF && $1 > m { m = $1 } END { print m + 0 }' "$WORK/rss-samples.txt")
hwm_after=$(peak_rss_mb "$SERVER_PID")
rss_after=$(rss_mb "$SERVER_PID")
stop_pid "$SERVER_PID"
echo "{\"what\":\"big transfer\",\"names\":$BIG_NAMES,\"oursSeconds\":$TRANSFER_SECONDS,\"rssBeforeMb\":$rss_before,\"peakRssDuringMb\":$peak,\"rssAfterMb\":$rss_after,\"growthMb\":$((peak - rss_before)),\"vmHwmBeforeMb\":$hwm_before,\"vmHwmAfterMb\":$hwm_after}" | tee -a "$RESULTS" >&2
fi

log "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$RESULTS"
