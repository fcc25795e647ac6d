#!/usr/bin/env bash
# HTTP: wrk (one thread, 50 connections, 10 s, pinned to LOAD_CPU) against a bare Bun.serve
# "OK" and our server's /info and /ping with a random real token per request, 10,000 domains.
# Ratios are taken inside each round. Usage: bench/http.sh [ROUNDS] (default 3).
source "$(dirname "$0")/lib/common.sh"
source "$BENCH_DIR/lib/servers.sh"
ROUNDS="${1:-3}"
DURATION="${HTTP_SECONDS:-10}"
CONNECTIONS="${HTTP_CONNECTIONS:-50}"

ensure_packages wrk bind9-dnsutils
ensure_node_modules
DATA="$WORK/http10k"
"$BUN" "$BENCH_DIR/lib/make-data.ts" --out "$DATA" --domains 10000 --queries 0 --no-zones >&2
build_ours

RESULTS="$WORK/http-results.jsonl"
: >"$RESULTS"
log "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
wrk_run() { # NAME URL_PATH PORT ROUND
  local name="$1" path="$2" port="$3" round="$4" out="$WORK/wrk-$1-$4.txt"
  TOKENS_FILE="$DATA/tokens.txt" BENCH_PATH="$path" taskset -c "$LOAD_CPU" \
    wrk -t1 -c"$CONNECTIONS" -d2s -s "$BENCH_DIR/lib/tokens.lua" "http://127.0.0.1:$port" >/dev/null 2>&1 # warm-up
  TOKENS_FILE="$DATA/tokens.txt" BENCH_PATH="$path" taskset -c "$LOAD_CPU" \
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$BENCH_DIR/lib/tokens.lua" "http://127.0.0.1:$port" >"$out" 2>&1
  local stats rss
  stats=$("$BUN" "$BENCH_DIR/lib/wrk-stats.ts" "$out")
  rss=$(peak_rss_mb "$SERVER_PID")
  echo "{\"round\":$round,\"name\":\"$name\",${stats:1:-1},\"peakRssMb\":$rss}" | tee -a "$RESULTS" >&2
}
for round in $(seq "$ROUNDS"); do
  taskset -c "$SERVER_CPU" "$BUN" "$BENCH_DIR/lib/bare-http.ts" 18090 >"$WORK/bare.log" 2>&1 &
  SERVER_PID=$!; PIDS+=("$SERVER_PID")
  wait_for_line "$WORK/bare.log" "ready:" 30
  wrk_run bare / 18090 "$round"
  stop_pid "$SERVER_PID"

  start_ours "$DATA" 5304 18081
  wrk_run info /info 18081 "$round"
  wrk_run ping /ping 18081 "$round"
  stop_pid "$SERVER_PID"
done
log "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BUN" "$BENCH_DIR/lib/summarize.ts" "$RESULTS" bare
