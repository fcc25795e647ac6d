# Shared by the bench/*.sh entry points: installs, pinning, process lifetimes.
# Sourced, not run. Every process started here is killed on exit (trap), by its own pid.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
BUN="${BUN:-$REPO_DIR/node_modules/.bin/bun}"
# Server on one core, load generator on the other (override on bigger machines).
SERVER_CPU="${SERVER_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
WORK="${BENCH_WORK:-/tmp/registration-bench}"
mkdir -p "$WORK"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Debian packages the benchmarks use; daemons must not start on install.
ensure_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  local policy_added=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null && $sudo chmod +x /usr/sbin/policy-rc.d && policy_added=1
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  [ -n "$policy_added" ] && $sudo rm -f /usr/sbin/policy-rc.d
  # Where a service manager did start them anyway, stop them: we run our own instances.
  for svc in nsd pdns; do
    if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
      $sudo systemctl disable --now "$svc" >/dev/null 2>&1 || true
    fi
  done
}

ensure_node_modules() {
  [ -x "$BUN" ] || (cd "$REPO_DIR" && npm ci --silent)
}

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  PIDS=()
}
trap cleanup EXIT INT TERM

# stop PID: SIGTERM, wait up to 5 s, then SIGKILL.
stop_pid() {
  local pid="$1"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Peak resident set (VmHWM) of a live process, in MB.
peak_rss_mb() { awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
rss_mb() { awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
# tree_peak_rss_mb PID: the peaks of a server and its children added (NSD and PowerDNS fork)
tree_peak_rss_mb() {
  local rss child
  rss=$(peak_rss_mb "$1")
  for child in $(pgrep -P "$1" || true); do rss=$((rss + $(peak_rss_mb "$child"))); done
  echo "$rss"
}

# wait_for_line FILE PATTERN SECONDS
wait_for_line() {
  local deadline=$((SECONDS + $3))
  until grep -q "$2" "$1" 2>/dev/null; do
    [ $SECONDS -ge $deadline ] && { log "timed out waiting for '$2' in $1"; tail -20 "$1" >&2; return 1; }
    sleep 0.05
  done
}

# wait_for_dns PORT NAME SECONDS: until the server answers on UDP.
wait_for_dns() {
  local deadline=$((SECONDS + $3))
  until dig +tries=1 +time=1 -p "$1" @127.0.0.1 "$2" SOA >/dev/null 2>&1 && dig +tries=1 +time=1 -p "$1" @127.0.0.1 "$2" SOA | grep -q 'status: NOERROR'; do
    [ $SECONDS -ge $deadline ] && { log "DNS on port $1 did not answer"; return 1; }
    sleep 0.1
  done
}

load_ok() { awk '{ exit !($1 < 0.5) }' /proc/loadavg; }
