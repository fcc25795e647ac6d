#!/usr/bin/env bash
# A signing flood against ours with dns.dnssec on (docs/operations.md, "Response-rate
# limiting"): DO-bit queries for random names that do not exist, each of which needs an NSEC
# signed for it alone, from one client (one /24) at FLOOD_QPS. The same flood with response-rate
# limiting at its defaults (rate 100, slip 2) and off (dns.rrl_rate = 0), alternating, ROUNDS
# rounds each. Per run: the server's CPU over the flood (whole process, and its busiest thread:
# the DNS thread), and what dnsperf got back: answers (truncated ones included) and lost (dropped).
# Usage: bench/dnssec-flood.sh [ROUNDS] (default 3).
source "$(dirname "$0")/lib/common.sh"
source "$BENCH_DIR/lib/servers.sh"
ROUNDS="${1:-3}"
FLOOD_QUERIES="${FLOOD_QUERIES:-10000}"
FLOOD_QPS="${FLOOD_QPS:-2500}"
WARM_UP_QUERIES="${WARM_UP_QUERIES:-5000}"

ensure_packages dnsperf
ensure_node_modules
DATA="$WORK/flood10k"
"$BUN" "$BENCH_DIR/lib/make-data.ts" --out "$DATA" --domains 10000 --queries 1 --no-zones --no-pdns >&2
build_ours

# Names no gateway has (the zone's are gw-style labels from make-data.ts): each an NXDOMAIN.
awk -v n="$WARM_UP_QUERIES" 'BEGIN { srand(1); for (i = 0; i < n; i++) printf "warm%08x.bench.test A\n", int(rand() * 4294967295) }' >"$WORK/flood-warm.txt"
awk -v n="$FLOOD_QUERIES" 'BEGIN { srand(2); for (i = 0; i < n; i++) printf "flood%08x.bench.test A\n", int(rand() * 4294967295) }' >"$WORK/flood-queries.txt"

# stat_ms STATFILE: user + system CPU of a process or thread (/proc/.../stat), in ms.
stat_ms() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); split($0, f, " "); printf "%d", (f[12] + f[13]) * 1000 / hz }' "$1"; }
cpu_ms() { stat_ms "/proc/$1/stat"; } # PID: the whole process
# thread_ms PID: every thread's CPU as "tid ms" lines
thread_ms() {
  local tid
  for tid in /proc/"$1"/task/*; do echo "${tid##*/} $(stat_ms "$tid/stat")"; done
}

# -q: as many outstanding as the flood has (dropped answers are waited for, 1 s each, not sent again)
flood() { # PORT FILE OUTPUT
  taskset -c "$LOAD_CPU" dnsperf -D -s 127.0.0.1 -p "$1" -d "$2" -n 1 -c 1 -q "$FLOOD_QUERIES" -Q "$FLOOD_QPS" -t 1 >"$3" 2>&1 || true
}
field() { sed -n "s/^ *$2: *\([0-9]*\).*/\1/p" "$1"; }

RESULTS="$WORK/flood-results.jsonl"
: >"$RESULTS"
log "$FLOOD_QUERIES DO-bit queries for missing names at $FLOOD_QPS/s from one client, after $WARM_UP_QUERIES to warm up"
log "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
  order=(rrl-default rrl-off)
  [ $((round % 2)) -eq 0 ] && order=(rrl-off rrl-default)
  for mode in "${order[@]}"; do
    port=5331
    if [ "$mode" = rrl-off ]; then
      start_ours "$DATA" $port 18091 REGISTRATION_DNS_DNSSEC=true REGISTRATION_DNS_RRL_RATE=0
    else
      start_ours "$DATA" $port 18091 REGISTRATION_DNS_DNSSEC=true
    fi
    flood $port "$WORK/flood-warm.txt" "$WORK/flood-warm-out.txt"
    sleep 1.5 # a new second for the rate limit's buckets
    thread_ms "$SERVER_PID" >"$WORK/flood-threads-before.txt"
    before=$(cpu_ms "$SERVER_PID")
    flood $port "$WORK/flood-queries.txt" "$WORK/flood-out.txt"
    after=$(cpu_ms "$SERVER_PID")
    # the thread whose CPU grew most over the flood: the DNS thread
    dns_ms=$(thread_ms "$SERVER_PID" | awk 'NR == FNR { b[$1] = $2; next } { d = $2 - b[$1]; if (d > best) best = d } END { print best + 0 }' "$WORK/flood-threads-before.txt" -)
    stop_pid "$SERVER_PID"
    completed=$(field "$WORK/flood-out.txt" "Queries completed")
    lost=$(field "$WORK/flood-out.txt" "Queries lost")
    echo "{\"round\":$round,\"name\":\"$mode\",\"processCpuMs\":$((after - before)),\"dnsThreadCpuMs\":$dns_ms,\"answered\":${completed:-0},\"lost\":${lost:-0}}" | tee -a "$RESULTS" >&2
  done
done
log "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
# medians per mode
"$BUN" -e '
  const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };
  for (const name of ["rrl-default", "rrl-off"]) {
    const mine = rows.filter((r) => r.name === name);
    const m = (k) => median(mine.map((r) => r[k]));
    console.log(`${name.padEnd(12)} process CPU ${(m("processCpuMs") / 1000).toFixed(2)} s, DNS thread ${(m("dnsThreadCpuMs") / 1000).toFixed(2)} s, answered ${m("answered")}, lost (dropped) ${m("lost")}  (medians of ${mine.length})`);
  }
' "$RESULTS"
