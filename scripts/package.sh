#!/usr/bin/env bash
# Builds the Debian package, target/debian/tvsignin_<version>-1_<arch>.deb: the release build
# (scripts/build.sh), the browser files staged and precompressed in target/package, then
# cargo-deb (scripts/setup.sh installs it first if missing). Install the package with
# `sudo dpkg -i <that file>`; scripts/package-test.sh checks it.
# Usage: scripts/package.sh [--no-build]   (--no-build: package the release build already there)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

build=1
case "${1:-}" in
  --no-build) build=0 ;;
  "") ;;
  *) echo "usage: scripts/package.sh [--no-build]" >&2; exit 2 ;;
esac

scripts/setup.sh package
if [ "$build" = 1 ]; then
  scripts/build.sh
else
  step "release build: packaging the one in target/ as it is (--no-build)"
fi

# Only what the server serves: the public files and the bundle that hash.txt names (an
# older bundle left in target/site/pkg stays out), compressed now because the service
# cannot write under /usr.
hashes=target/release/hash.txt
if [ ! -f "$hashes" ] || [ ! -x target/release/tvsignin ]; then
  echo "no release build with hashed file names (target/release/tvsignin, $hashes): run scripts/build.sh" >&2
  exit 1
fi
step "staging the browser files in target/package"
rm -rf target/package
mkdir -p target/package/site/pkg
for file in target/site/*; do
  [ "$(basename "$file")" = pkg ] || cp -p "$file" target/package/site/
done
for kind in js wasm css; do
  hash="$(sed -n "s/^$kind: *//p" "$hashes")"
  cp -p "target/site/pkg/tvsignin.$hash.$kind" target/package/site/pkg/
done
cp -p "$hashes" target/package/hash.txt
step "target/release/tvsignin precompress target/package/site/pkg"
target/release/tvsignin precompress target/package/site/pkg

step "cargo deb --no-build"
cargo deb --no-build
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"
deb="target/debian/tvsignin_${version}-1_$(dpkg --print-architecture).deb"
[ -f "$deb" ] || { echo "cargo deb did not write $deb" >&2; exit 1; }
step "built $deb ($(du -h "$deb" | cut -f1))"
