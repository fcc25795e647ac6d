#!/usr/bin/env bash
# Scale: 1,000,000 domains. Database size on disk; compiled binary start-up to both listeners
# answering (3 rounds); RSS; then 500,000 of the rows go stale and the expiry sweep removes
# them while a steady 5,000 QPS of DNS queries runs: p99 during the sweep, lost, duration.
# Usage: bench/scale.sh
source "$(dirname "$0")/lib/common.sh"
source "$BENCH_DIR/lib/servers.sh"
DOMAINS="${SCALE_DOMAINS:-1000000}"
STALE=$((DOMAINS / 2))
ensure_packages bind9-dnsutils
ensure_node_modules
DATA="$WORK/scale"
"$BUN" "$BENCH_DIR/lib/make-data.ts" --out "$DATA" --domains "$DOMAINS" --queries 200000 --no-zones >&2
build_ours
log "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
db_mb=$(du -m "$DATA/ours.sqlite" | cut -f1)
echo "{\"name\":\"database\",\"domains\":$DOMAINS,\"sizeMb\":$db_mb}"

for round in 1 2 3; do
  stats=$(taskset -c "$LOAD_CPU" "$BUN" "$BENCH_DIR/lib/startup-time.ts" 18083 5306 bench.test -- \
    taskset -c "$SERVER_CPU" "$OURS_BIN" --config "$DATA/ours.toml" --db "$DATA/ours.sqlite" --host 127.0.0.1 --http-port 18083 --dns-host 127.0.0.1 --dns-port 5306)
  echo "{\"name\":\"startup\",\"round\":$round,${stats:1}"
done

# Half the rows go stale 25 s from now; the sweep at start-up finds none, the one 30 s after start all
# (more than expiry.max_fraction lets one sweep free: the run confirms it with max_fraction = 1).
inactive_days=60
"$BUN" -e "
  const { Database } = require('bun:sqlite');
  const db = new Database('$DATA/ours.sqlite');
  const ts = Math.floor(Date.now() / 1000) - $inactive_days * 86400 + 25;
  db.run('UPDATE domains SET timestamp = ? WHERE id % 2 = 0', [ts]);
  db.run('PRAGMA wal_checkpoint(TRUNCATE)');
  db.close();
"
# dns.rrl_rate = 0: the load comes from one address, and its NXDOMAIN share alone (500/s) is past the default rate.
# expiry.max_fraction = 1: half the names go stale at once here, on purpose.
start_ours "$DATA" 5306 18083 REGISTRATION_EXPIRY_INACTIVE_DAYS=$inactive_days REGISTRATION_EXPIRY_INTERVAL_SECONDS=30 REGISTRATION_DNS_RRL_RATE=0 REGISTRATION_EXPIRY_MAX_FRACTION=1
log "response-rate limiting off (dns.rrl_rate = 0)"
log "server up ($(rss_mb "$SERVER_PID") MB); 5,000 QPS for 75 s, the sweep starts at about 30 s"
# RSS every 5 s, to tell what the sweep costs from what the query load costs
( for i in $(seq 16); do sleep 5; echo "rss after $((i * 5)) s: $(rss_mb "$SERVER_PID" 2>/dev/null) MB" >&2; done ) &
sampler=$!
taskset -c "$LOAD_CPU" "$BUN" "$BENCH_DIR/lib/udp-load.ts" 5306 5000 75 "$DATA/queries.txt" "$WORK/sweep-load.json" >&2
kill "$sampler" 2>/dev/null || true
peak=$(peak_rss_mb "$SERVER_PID")
stop_pid "$SERVER_PID"
report=$("$BUN" "$BENCH_DIR/lib/sweep-report.ts" "$WORK/sweep-load.json" "$WORK/ours-5306.log")
echo "{\"name\":\"sweep\",${report:1:-1},\"peakRssMb\":$peak}"
log "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
