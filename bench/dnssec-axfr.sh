#!/usr/bin/env bash
# The signed full transfer (presigned AXFR: docs/dns.md, "Zone transfers"): how long `dig AXFR` takes to receive a
# DOMAINS-name zone (default 100,000) from ours with dns.dnssec on, cold (a fresh process, an
# empty signature cache: every RRset signed during the transfer) and warm (the same process
# again), against PowerDNS (gsqlite3, `pdnsutil secure-zone`, which builds the NSEC chain and
# signs while it sends), and ours unsigned, in the same rounds. Records counted from dig's
# "XFR size" line. Usage: bench/dnssec-axfr.sh [ROUNDS] (default 3); DNSSEC_AXFR_DOMAINS=N.
# The AXFR part of the DNSSEC benchmark (bench/dnssec.sh runs the DO-bit QPS rounds).
source "$(dirname "$0")/lib/common.sh"
source "$BENCH_DIR/lib/servers.sh"
ROUNDS="${1:-3}"
DOMAINS="${DNSSEC_AXFR_DOMAINS:-100000}"
SERVERS="${DNSSEC_AXFR_SERVERS:-ours-signed pdns-signed ours-unsigned}"

ensure_packages pdns-server pdns-backend-sqlite3 bind9-dnsutils
ensure_node_modules
DATA="$WORK/axfr-$DOMAINS"
"$BUN" "$BENCH_DIR/lib/make-data.ts" --out "$DATA" --domains "$DOMAINS" --queries 1000 >&2
build_ours

# PowerDNS signs its own copy of the zone (bench/lib/servers.sh sign_pdns_copy), AXFR open to loopback.
sign_pdns_copy "$DATA"
PDNS_AXFR_CONF="$PDNS_DNSSEC_CONF
disable-axfr=no
allow-axfr-ips=127.0.0.0/8"

# axfr PORT: prints "<seconds> <records>" for one whole transfer, received by dig on LOAD_CPU.
axfr() {
  local start end out
  start=$(date +%s.%N)
  out=$(taskset -c "$LOAD_CPU" dig +tries=1 +time=120 -p "$1" @127.0.0.1 bench.test AXFR 2>&1 | tail -3)
  end=$(date +%s.%N)
  local records
  records=$(sed -n 's/^;; XFR size: \([0-9]*\) records.*/\1/p' <<<"$out")
  [ -n "$records" ] || { log "AXFR from port $1 failed: $out"; records=0; }
  echo "$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }') $records"
}

RESULTS="$WORK/dnssec-axfr-results.jsonl"
: >"$RESULTS"
log "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
  order=($SERVERS); shift_by=$(( (round - 1) % ${#order[@]} ))
  order=("${order[@]:$shift_by}" "${order[@]:0:$shift_by}")
  for server in "${order[@]}"; do
    case "$server" in
      ours-signed) port=5313; start_ours "$DATA" $port 18081 REGISTRATION_DNS_RRL_RATE=0 REGISTRATION_DNS_DNSSEC=true 'REGISTRATION_DNS_TRANSFER_ACL=[["127.0.0.1", ""]]' ;;
      ours-unsigned) port=5314; start_ours "$DATA" $port 18082 REGISTRATION_DNS_RRL_RATE=0 'REGISTRATION_DNS_TRANSFER_ACL=[["127.0.0.1", ""]]' ;;
      pdns-signed) port=5315; start_pdns "$DATA" $port "$DATA/pdns-signed.sqlite" "$PDNS_AXFR_CONF" ;;
    esac
    read -r cold cold_records <<<"$(axfr $port)"
    read -r warm warm_records <<<"$(axfr $port)"
    rss=$(tree_peak_rss_mb "$SERVER_PID")
    stop_pid "$SERVER_PID"
    echo "{\"round\":$round,\"name\":\"$server\",\"domains\":$DOMAINS,\"coldSeconds\":$cold,\"warmSeconds\":$warm,\"records\":$cold_records,\"warmRecords\":$warm_records,\"peakRssMb\":$rss}" | tee -a "$RESULTS" >&2
  done
done
log "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
# Median per server of the rounds.
"$BUN" -e '
const rows = require("node:fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
console.log("| server | records | cold AXFR (s) | warm AXFR (s) | peak RSS (MB) |\n| --- | --- | --- | --- | --- |");
for (const name of [...new Set(rows.map((r) => r.name))]) {
  const of = rows.filter((r) => r.name === name);
  console.log(`| ${name} | ${median(of.map((r) => r.records))} | ${median(of.map((r) => r.coldSeconds))} | ${median(of.map((r) => r.warmSeconds))} | ${median(of.map((r) => r.peakRssMb))} |`);
}' "$RESULTS"
