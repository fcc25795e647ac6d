#!/usr/bin/env bash
# Abuse: what one hostile client gets out of the server, from one run on loopback.
#  1. amplification factor per query type (EDNS 4096, the amplifier's choice)
#  2. a 3,000-query spoofable burst (one source, one name) with RRL at its defaults:
#     share answered in full / truncated (slip) / dropped
#  3. a fresh client's TCP answer time during a TCP slowloris (600 trickling connections
#     from 38 addresses, reopened when closed)
#  4. HTTP /info p99 during a 20,000 QPS UDP flood of random names
#  5. DNS p99 (500 QPS of gateway names) while another process holds the write lock 10 s,
#     with a /ping every 100 ms trying to write meanwhile
# RSS of the server after each. The server is not pinned to one core here: DNS has a thread of
# its own, and pinning would measure the two threads fighting over one core. Load on LOAD_CPU.
# Usage: bench/abuse.sh
source "$(dirname "$0")/lib/common.sh"
source "$BENCH_DIR/lib/servers.sh"
ensure_packages bind9-dnsutils
ensure_node_modules
DATA="$WORK/abuse"
"$BUN" "$BENCH_DIR/lib/make-data.ts" --out "$DATA" --domains 10000 --queries 20000 --no-zones >&2
# Static records a real deployment has, so ANY and TXT at the apex have something to amplify.
cat >"$DATA/abuse.toml" <<TOML
domain = "bench.test"
[dns]
soa = "ns1.bench.test. hostmaster.bench.test. 2026010101 900 900 1209600 60"
nameservers = [["ns1.bench.test.", "127.0.0.53"], ["ns2.bench.test.", "127.0.0.54"]]
www_addresses = ["192.0.2.10", "2001:db8::10"]
tunnel_addresses = ["192.0.2.20", "2001:db8::20"]
caa = ['0 issue "letsencrypt.org"', '0 iodef "mailto:security@bench.test"']
mx = [["@", "10 mx1.bench.test."], ["@", "20 mx2.bench.test."]]
txt = [["@", "v=spf1 mx -all"], ["@", "google-site-verification=0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"], ["_psl", "https://github.com/publicsuffix/list/pull/12345"]]
TOML
build_ours
"$BUN" -e "
  const lines = []; let s = 7;
  for (let i = 0; i < 50000; i++) { s = (s * 1103515245 + 12345) >>> 0; lines.push('r' + s.toString(36) + '.bench.test A'); }
  require('fs').writeFileSync('$DATA/random-names.txt', lines.join('\n') + '\n');
"
grep -E '^gw[^ ]* A$' "$DATA/queries.txt" | awk 'NR <= 5000' >"$DATA/gateway-names.txt"
gateway=$(head -1 "$DATA/gateway-names.txt" | cut -d. -f1)
log "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

DNS=5307 HTTP=18084
abuse() { taskset -c "$LOAD_CPU" "$BUN" "$BENCH_DIR/lib/abuse.ts" "$@"; }
start() {
  local logf="$WORK/abuse-server.log"
  : >"$logf"
  env "$@" "$OURS_BIN" --config "$DATA/abuse.toml" --db "$DATA/ours.sqlite" \
    --host 127.0.0.1 --http-port "$HTTP" --dns-host 127.0.0.1 --dns-port "$DNS" >"$logf" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_for_line "$logf" "ready: http=" 60
}
with_rss() { local line; line=$(cat); echo "${line%\}},\"rssMb\":$(rss_mb "$SERVER_PID"),\"peakRssMb\":$(peak_rss_mb "$SERVER_PID")}"; }

start
echo "{\"name\":\"settings\",\"rrl\":\"defaults (dns.rrl_rate 100, dns.rrl_slip 2)\",\"rssAtStartMb\":$(rss_mb "$SERVER_PID")}"
abuse amplification "$DNS" bench.test "$gateway" | with_rss
sleep 2 # a fresh RRL second
abuse burst "$DNS" bench.test 3000 | with_rss
abuse slowloris "$DNS" 600 20 | with_rss

taskset -c "$LOAD_CPU" "$BUN" "$BENCH_DIR/lib/udp-load.ts" "$DNS" 20000 12 "$DATA/random-names.txt" "$WORK/flood.json" >/dev/null &
flood=$!
sleep 1
abuse http-probe "http://127.0.0.1:$HTTP" "$DATA/tokens.txt" 10 | sed 's/"http-probe"/"http-info-during-udp-flood"/' | with_rss
wait "$flood" || true
abuse http-probe "http://127.0.0.1:$HTTP" "$DATA/tokens.txt" 5 | sed 's/"http-probe"/"http-info-quiet"/' | with_rss

"$BUN" "$BENCH_DIR/lib/abuse.ts" hold-lock "$DATA/ours.sqlite" 10 &
holder=$!
sleep 0.5
( token=$(head -1 "$DATA/tokens.txt"); for _ in $(seq 100); do curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "http://127.0.0.1:$HTTP/ping?token=$token"; sleep 0.1; done ) >"$WORK/pings-during-lock.txt" &
pinger=$!
abuse dns-probe "$DNS" "$DATA/gateway-names.txt" 500 9 | sed 's/"dns-probe"/"dns-during-write-lock"/' | with_rss
wait "$holder" || true
wait "$pinger" || true
pings=$(awk '{ n[$1]++; if ($2 > max) max = $2 } END { s = ""; for (c in n) s = s "\"" c "\":" n[c] ","; printf "{%s\"slowestSeconds\":%s}", s, max }' "$WORK/pings-during-lock.txt")
echo "{\"name\":\"pings-during-write-lock\",\"byStatus\":$pings}"
abuse dns-probe "$DNS" "$DATA/gateway-names.txt" 500 5 | sed 's/"dns-probe"/"dns-quiet"/' | with_rss
stop_pid "$SERVER_PID"
log "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
