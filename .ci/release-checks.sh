# Checks of the release artefacts (npm run release), sourced by .ci/run. Every function returns
# non-zero on failure and bounds every wait.

release_version=$(node -p 'require("./package.json").version')
release_dist="dist/registration-server-$release_version"
# arm64 binaries run through user-mode qemu with Debian's arm64 glibc as their root.
qemu_arm64=(qemu-aarch64-static -L /usr/aarch64-linux-gnu)

# What the checks below run, installed non-interactively with apt-get when missing:
# qemu-user-static and libc6-arm64-cross (arm64 binaries), dig, curl, systemd-analyze.
ensure_release_tools() {
  local packages=() sudo=""
  command -v qemu-aarch64-static >/dev/null || packages+=(qemu-user-static)
  [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || packages+=(libc6-arm64-cross)
  command -v dig >/dev/null || packages+=(dnsutils)
  command -v curl >/dev/null || packages+=(curl)
  command -v systemd-analyze >/dev/null || packages+=(systemd)
  [ ${#packages[@]} = 0 ] && return 0
  echo "release: apt-get install ${packages[*]}"
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 $sudo apt-get update -qq && timeout 600 $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
}

release_sums() {
  (cd dist && timeout 120 sha256sum -c SHA256SUMS)
}

# release_version_is CMD...: CMD --version prints exactly "registration-server <package.json version>"
release_version_is() {
  local out
  out=$(timeout 120 "$@" --version) || { echo "release: $* --version failed"; return 1; }
  [ "$out" = "registration-server $release_version" ] || { echo "release: $* --version said '$out'"; return 1; }
}

# release_smoke CMD...: (absolute paths) start the binary in an empty directory on ports of its
# choosing; then a dynamic-DNS /subscribe, a /ping, and a DNS query over UDP and TCP that must
# answer the pinging address (127.0.0.1). The ready line shows the sweep worker's entry point is in
# the binary (without it start-up stops, exit 2); the answers show the DNS worker's is.
# Slow under qemu: up to 120 s for the ready line.
release_smoke() {
  local dir pid http dns token answer transport ok=1 cmd=("$@") zone=release.test
  dir=$(mktemp -d)
  (cd "$dir" && exec "${cmd[@]}" --host 127.0.0.1 --http-port 0 --dns-host 127.0.0.1 --dns-port 0 --admin-port 0 --domain "$zone" >"$dir/log" 2>&1) &
  pid=$!
  for _ in $(seq 1 240); do grep -q "ready: " "$dir/log" 2>/dev/null && break; kill -0 $pid 2>/dev/null || break; sleep 0.5; done
  http=$(grep -oE 'ready: http=http://127\.0\.0\.1:[0-9]+' "$dir/log" | grep -oE '[0-9]+$')
  dns=$(grep -oE ' dns=127\.0\.0\.1:[0-9]+' "$dir/log" | grep -oE '[0-9]+$')
  if [ -z "$http" ] || [ -z "$dns" ]; then
    echo "release smoke: no ready line with http and dns ports"
    ok=0
  else
    token=$(curl -fsS -m 20 "http://127.0.0.1:$http/subscribe?name=release-smoke&mode=1" | grep -oE '"token":"[0-9a-f-]+"' | cut -d'"' -f4)
    [ -n "$token" ] || { echo "release smoke: /subscribe gave no token"; ok=0; }
    [ $ok = 1 ] && { curl -fsS -m 20 -o /dev/null "http://127.0.0.1:$http/ping?token=$token" || { echo "release smoke: /ping failed"; ok=0; }; }
    if [ $ok = 1 ]; then
      for transport in +notcp +tcp; do
        answer=$(dig @127.0.0.1 -p "$dns" "release-smoke.$zone" A +short +time=10 +tries=2 "$transport")
        [ "$answer" = "127.0.0.1" ] || { echo "release smoke: dig $transport answered '$answer'"; ok=0; }
      done
    fi
  fi
  kill -TERM $pid 2>/dev/null
  for _ in $(seq 1 60); do kill -0 $pid 2>/dev/null || break; sleep 0.5; done
  kill -KILL $pid 2>/dev/null
  wait $pid 2>/dev/null
  [ $ok = 1 ] || cat "$dir/log"
  rm -rf "$dir"
  [ $ok = 1 ]
}

# The shipped unit: `systemd-analyze verify` on a copy whose ExecStart points at a stand-in
# executable (the real binary is not installed here), so only the unit's own errors count.
unit_verify() {
  local dir out
  command -v systemd-analyze >/dev/null || { echo "systemd-analyze missing (Debian package systemd)"; return 1; }
  dir=$(mktemp -d)
  printf '#!/bin/sh\nexit 0\n' >"$dir/registration-server" && chmod +x "$dir/registration-server"
  sed "s|/usr/local/bin/registration-server|$dir/registration-server|g" contrib/registration-server.service >"$dir/registration-server.service"
  out=$(SYSTEMD_LOG_LEVEL=notice timeout 60 systemd-analyze verify --man=no "$dir/registration-server.service" 2>&1)
  local code=$?
  rm -rf "$dir"
  # verify exits 0 on some warnings (unknown keys, bad values): any output about our file fails too
  if [ $code != 0 ] || grep -q "registration-server.service" <<<"$out"; then echo "$out"; return 1; fi
}
