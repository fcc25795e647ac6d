#!/usr/bin/env bash
# DNSSEC answers (docs/dns.md, "Signed answers"): DO-bit query throughput of ours signed (dns.dnssec = true) against
# PowerDNS signed (gsqlite3, `pdnsutil secure-zone`, default packet cache) and ours unsigned, in
# the same rounds, same 10,000-name zone and dnsperf query file as bench/dns.sh, every query
# with the DO bit (dnsperf -D). Per server and round: the first FIRST_SECONDS (20) from a fresh
# start, reported apart (cold signature and answer caches), then a 10 s steady run and a 10 s
# run with -v for latencies. Usage: bench/dnssec.sh [ROUNDS] (default 1).
# The signed full transfer is bench/dnssec-axfr.sh.
source "$(dirname "$0")/lib/common.sh"
source "$BENCH_DIR/lib/servers.sh"
ROUNDS="${1:-1}"
SECONDS_PER_RUN="${DNS_SECONDS:-10}"
FIRST_SECONDS="${FIRST_SECONDS:-20}"
SERVERS="${DNSSEC_SERVERS:-pdns-signed ours-signed ours-unsigned}"

ensure_packages dnsperf pdns-server pdns-backend-sqlite3 bind9-dnsutils
ensure_node_modules
DATA="$WORK/dns10k"
"$BUN" "$BENCH_DIR/lib/make-data.ts" --out "$DATA" --domains 10000 --queries 200000 >&2
build_ours

sign_pdns_copy "$DATA"

RESULTS="$WORK/dnssec-results.jsonl"
: >"$RESULTS"
log "every query with the DO bit (dnsperf -D); response-rate limiting off in ours (dns.rrl_rate = 0)"
log "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
dnsperf_run() { # PORT OUTPUT [extra flags]
  local port="$1" outfile="$2"; shift 2
  taskset -c "$LOAD_CPU" dnsperf -D -s 127.0.0.1 -p "$port" -d "$DATA/queries.txt" -c 10 -q 100 "$@" >"$outfile" 2>&1 || true
}
qps() { sed -n 's/^ *Queries per second: *\([0-9.]*\).*/\1/p' "$1"; }
for round in $(seq "$ROUNDS"); do
  order=($SERVERS); shift_by=$(( (round - 1) % ${#order[@]} ))
  order=("${order[@]:$shift_by}" "${order[@]:0:$shift_by}")
  for server in "${order[@]}"; do
    case "$server" in
      pdns-signed) port=5321; start_pdns "$DATA" $port "$DATA/pdns-signed.sqlite" "$PDNS_DNSSEC_CONF" ;;
      ours-signed) port=5322; start_ours "$DATA" $port 18083 REGISTRATION_DNS_RRL_RATE=0 REGISTRATION_DNS_DNSSEC=true ;;
      ours-unsigned) port=5323; start_ours "$DATA" $port 18084 REGISTRATION_DNS_RRL_RATE=0 ;;
    esac
    dnsperf_run $port "$WORK/dnssec-$server-$round-first.txt" -l "$FIRST_SECONDS"
    dnsperf_run $port "$WORK/dnssec-$server-$round.txt" -l "$SECONDS_PER_RUN"
    dnsperf_run $port "$WORK/dnssec-$server-$round-v.txt" -l "$SECONDS_PER_RUN" -v
    rss=$(tree_peak_rss_mb "$SERVER_PID")
    stop_pid "$SERVER_PID"
    first=$(qps "$WORK/dnssec-$server-$round-first.txt")
    stats=$("$BUN" "$BENCH_DIR/lib/dnsperf-stats.ts" "$WORK/dnssec-$server-$round.txt" "$WORK/dnssec-$server-$round-v.txt")
    echo "{\"round\":$round,\"name\":\"$server\",\"firstQps\":${first:-0},${stats:1:-1},\"peakRssMb\":$rss}" | tee -a "$RESULTS" >&2
    rm -f "$WORK/dnssec-$server-$round-v.txt"
  done
done
log "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BUN" "$BENCH_DIR/lib/summarize.ts" "$RESULTS" pdns-signed ours-unsigned
