#!/usr/bin/env bash
# npm run release: one self-contained executable per target in dist/, named
# registration-server-<version>-<target>, and dist/SHA256SUMS over them (sha256sum -c format).
# The entry points and flags (--compile among them) are the ones of `npm run build`, read from
# package.json, so a worker entry added there is in every release binary too. Bun fetches each target's runtime from the npm
# registry on first use (about 40 MB each); nothing else than npm and this machine is needed.
# RELEASE_TARGETS="linux-x64 linux-arm64" builds a subset.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

version=$(node -p 'require("./package.json").version')
# "bun build <flags and entry points> --outfile dist/registration-server" -> the middle part
args=$(node -p '
  const s = require("./package.json").scripts.build;
  const m = /^bun build (.+) --outfile \S+$/.exec(s);
  if (!m) throw new Error(`scripts.build is not "bun build ... --outfile FILE": ${s}`);
  m[1]')
# linux-x64 needs AVX2 (Haswell, 2013+); linux-x64-baseline runs on any x86-64-v2 CPU (older
# machines, VMs with a generic CPU model), a little slower.
targets=${RELEASE_TARGETS:-linux-x64 linux-x64-baseline linux-arm64 linux-x64-musl linux-arm64-musl}

mkdir -p dist
rm -f dist/registration-server-"$version"-* dist/SHA256SUMS
names=()
for target in $targets; do
  out="registration-server-$version-$target"
  echo "release: $out"
  target_args=$args
  # musl builds carry no bytecode: https://github.com/oven-sh/bun/issues/24144 reports a
  # --bytecode musl binary crashing at start, and no machine here can start a musl binary to
  # show ours does not (CI smoke-tests the x64 and arm64 glibc ones). They parse their code at
  # start instead (~0.1 s more CPU).
  case $target in *musl*) target_args=${args//--bytecode/} ;; esac
  # shellcheck disable=SC2086 # $target_args is the word list of the build script
  bun build $target_args --target="bun-$target" --outfile "dist/$out"
  names+=("$out")
done
(cd dist && sha256sum "${names[@]}" >SHA256SUMS)
echo "release: dist/SHA256SUMS"
cat dist/SHA256SUMS
