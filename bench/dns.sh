#!/usr/bin/env bash
# DNS: NSD (zone file), PowerDNS (gsqlite3, default packet cache) and ours, same 10,000-name
# zone, same dnsperf query file, server pinned to SERVER_CPU and dnsperf to LOAD_CPU.
# Per server and round: 2 s warm-up, a 10 s throughput run, then a 10 s run with -v whose
# per-answer latencies give mean and p99. Usage: bench/dns.sh [ROUNDS] (default 3).
# Response-rate limiting is off in all three (ours: dns.rrl_rate = 0, NSD: rrl-ratelimit: 0):
# dnsperf sends 250k QPS from one address, which any RRL would throttle.
source "$(dirname "$0")/lib/common.sh"
source "$BENCH_DIR/lib/servers.sh"
ROUNDS="${1:-3}"
SECONDS_PER_RUN="${DNS_SECONDS:-10}"
SERVERS="${DNS_SERVERS:-nsd pdns ours}"

ensure_packages dnsperf nsd pdns-server pdns-backend-sqlite3 bind9-dnsutils
ensure_node_modules
DATA="$WORK/dns10k"
"$BUN" "$BENCH_DIR/lib/make-data.ts" --out "$DATA" --domains 10000 --queries 200000 >&2
build_ours

RESULTS="$WORK/dns-results.jsonl"
: >"$RESULTS"
RRL_NOTE="response-rate limiting off: ours with dns.rrl_rate = 0, NSD with rrl-ratelimit: 0 (dnsperf sends from one address)"
log "$RRL_NOTE"
log "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
dnsperf_run() { # PORT OUTPUT [extra flags]
  local port="$1" outfile="$2"; shift 2
  taskset -c "$LOAD_CPU" dnsperf -s 127.0.0.1 -p "$port" -d "$DATA/queries.txt" -c 10 -q 100 "$@" >"$outfile" 2>&1 || true
}
for round in $(seq "$ROUNDS"); do
  # Rotate the order each round so no server always runs first (or last) on a warm machine.
  order=($SERVERS); shift_by=$(( (round - 1) % ${#order[@]} ))
  order=("${order[@]:$shift_by}" "${order[@]:0:$shift_by}")
  for server in "${order[@]}"; do
    case "$server" in
      nsd) port=5301; start_nsd "$DATA" $port ;;
      pdns) port=5302; start_pdns "$DATA" $port ;;
      ours) port=5303; start_ours "$DATA" $port 18080 REGISTRATION_DNS_RRL_RATE=0 ;;
    esac
    dnsperf_run $port "$WORK/dnsperf-warm.txt" -l 2
    dnsperf_run $port "$WORK/dnsperf-$server-$round.txt" -l "$SECONDS_PER_RUN"
    dnsperf_run $port "$WORK/dnsperf-$server-$round-v.txt" -l "$SECONDS_PER_RUN" -v
    rss=$(tree_peak_rss_mb "$SERVER_PID")
    stop_pid "$SERVER_PID"
    stats=$("$BUN" "$BENCH_DIR/lib/dnsperf-stats.ts" "$WORK/dnsperf-$server-$round.txt" "$WORK/dnsperf-$server-$round-v.txt")
    echo "{\"round\":$round,\"name\":\"$server\",${stats:1:-1},\"peakRssMb\":$rss}" | tee -a "$RESULTS" >&2
    rm -f "$WORK/dnsperf-$server-$round-v.txt"
  done
done
log "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BUN" "$BENCH_DIR/lib/summarize.ts" "$RESULTS" pdns nsd
echo "($RRL_NOTE)"
