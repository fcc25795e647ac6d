# Starting the three DNS servers (and ours with HTTP) on loopback, pinned to SERVER_CPU.
# Sourced after common.sh. Each start_* sets SERVER_PID and registers it for cleanup.

# Our compiled binary, built from this tree by the project's own build script, then copied
# alone into $WORK.
build_ours() {
  ensure_node_modules
  log "building the compiled binary (npm run build)"
  (cd "$REPO_DIR" && PATH="$REPO_DIR/node_modules/.bin:$PATH" npm run --silent build >/dev/null)
  cp "$REPO_DIR/dist/registration-server" "$WORK/registration-server"
  OURS_BIN="$WORK/registration-server"
}

# start_ours DATA_DIR DNS_PORT HTTP_PORT [extra env assignments...]
start_ours() {
  local data="$1" dns_port="$2" http_port="$3"; shift 3
  local logf="$WORK/ours-$dns_port.log"
  : >"$logf"
  env "$@" taskset -c "$SERVER_CPU" "$OURS_BIN" --config "$data/ours.toml" --db "$data/ours.sqlite" \
    --host 127.0.0.1 --http-port "$http_port" --dns-host 127.0.0.1 --dns-port "$dns_port" >"$logf" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_for_line "$logf" "ready: http=" 60
}

# start_nsd DATA_DIR PORT
start_nsd() {
  local data="$1" port="$2" dir="$WORK/nsd"
  mkdir -p "$dir"
  cat >"$dir/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$port
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "$data"
  database: ""
  zonelistfile: "$dir/zone.list"
  xfrdfile: "$dir/xfrd.state"
  xfrdir: "$dir"
  pidfile: "$dir/nsd.pid"
  logfile: "$dir/nsd.log"
  hide-version: yes
  minimal-responses: yes
  # no response rate limiting: every query is answered, as by the other two
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
  verbosity: 0
remote-control:
  control-enable: no
zone:
  name: "bench.test"
  zonefile: "bench.test.zone"
CONF
  : >"$dir/nsd.log"
  # -d: stay in the foreground, so $! is the server.
  taskset -c "$SERVER_CPU" nsd -d -c "$dir/nsd.conf" >>"$dir/nsd.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_for_dns "$port" bench.test 30
}

# start_pdns DATA_DIR PORT [DATABASE [CONF_LINES]]: gsqlite3 backend, packet cache left at its
# default; DATABASE instead of DATA_DIR/pdns.sqlite, CONF_LINES appended to pdns.conf.
start_pdns() {
  local data="$1" port="$2" database="${3:-$1/pdns.sqlite}" extra="${4:-}" dir="$WORK/pdns-$2"
  mkdir -p "$dir"
  cat >"$dir/pdns.conf" <<CONF
launch=gsqlite3
gsqlite3-database=$database
local-address=127.0.0.1
local-port=$port
daemon=no
guardian=no
disable-syslog=yes
socket-dir=$dir
webserver=no
api=no
loglevel=3
$extra
CONF
  taskset -c "$SERVER_CPU" pdns_server --config-dir="$dir" >"$dir/pdns.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_for_dns "$port" bench.test 30
}

# sign_pdns_copy DATA_DIR: copies DATA_DIR/pdns.sqlite to pdns-signed.sqlite and signs the zone
# there as `pdnsutil secure-zone` does by default (one ECDSA P-256 key, NSEC: as ours signs).
# Start it with: start_pdns DATA_DIR PORT "DATA_DIR/pdns-signed.sqlite" "$PDNS_DNSSEC_CONF".
PDNS_DNSSEC_CONF="gsqlite3-dnssec=yes"
sign_pdns_copy() {
  local data="$1" conf="$WORK/pdns-signed-conf"
  cp "$data/pdns.sqlite" "$data/pdns-signed.sqlite"
  mkdir -p "$conf"
  printf 'launch=gsqlite3\ngsqlite3-database=%s\n%s\n' "$data/pdns-signed.sqlite" "$PDNS_DNSSEC_CONF" >"$conf/pdns.conf"
  pdnsutil --config-dir="$conf" secure-zone bench.test >&2
  pdnsutil --config-dir="$conf" rectify-zone bench.test >&2
}
