#!/usr/bin/env bash
# Fuzzes every parser of provider input (discovery, device authorization, token, error,
# userinfo, JWKS + ID token) with cargo-fuzz / libFuzzer. Separate from scripts/test.sh: it
# needs the nightly toolchain and takes a while.
#
#   scripts/fuzz.sh [seconds-per-target]     (default 10)
#
# Each target starts from its committed seeds (fuzz/seeds/<target>) plus whatever earlier runs
# found (fuzz/corpus/<target>, git-ignored). Inputs are capped at 64 KiB and memory at 512 MB,
# so an unbounded allocation fails like a panic does. A crash leaves the input in
# fuzz/artifacts/<target>/ and cargo-fuzz prints how to reproduce it; the script goes on with
# the other targets and exits 1 at the end. FUZZ_TOOLCHAIN picks the toolchain (default nightly).
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-10}"
if ! [[ "$secs" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/fuzz.sh [seconds-per-target]" >&2
  exit 2
fi
toolchain="${FUZZ_TOOLCHAIN:-nightly}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> cargo install cargo-fuzz --locked"
  cargo install cargo-fuzz --locked
fi
if ! rustup toolchain list | grep -q "^$toolchain"; then
  echo "==> rustup toolchain install $toolchain --profile minimal"
  rustup toolchain install "$toolchain" --profile minimal
fi

targets=$(cargo "+$toolchain" fuzz list)
echo "==> cargo +$toolchain fuzz build   (targets: $(echo $targets))"
cargo "+$toolchain" fuzz build

failed=()
for target in $targets; do
  mkdir -p "fuzz/corpus/$target"
  cmd=(cargo "+$toolchain" fuzz run "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" --
       "-max_total_time=$secs" -max_len=65536 -rss_limit_mb=512 -timeout=10 -print_final_stats=1)
  echo
  echo "==> ${cmd[*]}"
  if ! "${cmd[@]}"; then
    failed+=("$target")
  fi
done

echo
if ((${#failed[@]})); then
  echo "fuzzing found problems in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "all fuzz targets ran ${secs}s each without a crash"
