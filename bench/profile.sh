#!/usr/bin/env bash
# Profiles our server from source under load: bun --cpu-prof while wrk (HTTP) or dnsperf
# (DNS) runs, then prints the functions with the most self time.
#   bench/profile.sh info|ping|dns [SECONDS]
source "$(dirname "$0")/lib/common.sh"
TARGET="${1:-info}"
DURATION="${2:-10}"
ensure_packages wrk dnsperf bind9-dnsutils
ensure_node_modules
DATA="$WORK/dns10k"
"$BUN" "$BENCH_DIR/lib/make-data.ts" --out "$DATA" --domains 10000 >&2
PROF_DIR="$WORK/profiles"; mkdir -p "$PROF_DIR"
name="$TARGET-$(date +%H%M%S)"
logf="$WORK/profile-server.log"
: >"$logf"
# dns.rrl_rate = 0: dnsperf sends from one address, which response-rate limiting would throttle.
(cd "$REPO_DIR" && REGISTRATION_DNS_RRL_RATE=0 exec taskset -c "$SERVER_CPU" "$BUN" --cpu-prof --cpu-prof-dir="$PROF_DIR" --cpu-prof-name="$name.cpuprofile" \
  src/main.ts --config "$DATA/ours.toml" --db "$DATA/ours.sqlite" --host 127.0.0.1 --http-port 18082 \
  --dns-host 127.0.0.1 --dns-port 5305 >"$logf" 2>&1) &
SERVER_PID=$!; PIDS+=("$SERVER_PID")
wait_for_line "$logf" "ready: http=" 60
case "$TARGET" in
  dns) taskset -c "$LOAD_CPU" dnsperf -s 127.0.0.1 -p 5305 -d "$DATA/queries.txt" -c 10 -q 100 -l "$DURATION" | grep -E "per second|lost" ;;
  *) TOKENS_FILE="$DATA/tokens.txt" BENCH_PATH="/$TARGET" taskset -c "$LOAD_CPU" \
       wrk -t1 -c50 -d"${DURATION}s" --latency -s "$BENCH_DIR/lib/tokens.lua" http://127.0.0.1:18082 | grep -E "Requests/sec|99%" ;;
esac
# SIGINT: the server shuts down cleanly and bun writes the profile on exit.
kill -INT "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
"$BUN" "$BENCH_DIR/lib/profile-top.ts" "$PROF_DIR/$name.cpuprofile" 30
