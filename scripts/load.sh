#!/usr/bin/env bash
# Load test (issue 6): N simulated TVs against one tvsignin server (in-memory mode), or
# against several replicas sharing one redis-server (Redis mode).
# Usage: scripts/load.sh [N] [extra loadgen flags...]
#   e.g. scripts/load.sh 10000 --approve-min 25 --approve-max 40 --ramp 500
#        scripts/load.sh 1000 --redis --replicas 2
# Every flag after N goes to the load generator unchanged (see --help of the example).
# Everything runs on 127.0.0.1; the run stops by itself (--timeout-secs, default 120).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000}"
shift || true

# Redis mode (--redis, or --replicas N with N > 1) needs redis-server on PATH.
redis=false
prev=""
for arg in "$@"; do
  case "$arg" in
    --redis) redis=true ;;
    --replicas=*) [ "${arg#--replicas=}" != 1 ] && redis=true ;;
  esac
  if [ "$prev" = "--replicas" ] && [ "$arg" != 1 ]; then
    redis=true
  fi
  prev="$arg"
done
if [ "$redis" = true ] && ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server not found: run scripts/setup.sh test (or apt install redis-server)" >&2
  exit 1
fi

# Each TV holds one push stream open: ~2 sockets per TV on loopback (client + server side),
# split between this process and the servers, which inherit this limit.
ulimit -n 65535 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "open file limit: $(ulimit -n)"

# Cargo's output directory (CARGO_TARGET_DIR if set).
TARGET="${CARGO_TARGET_DIR:-target}"
# Always asked for: cargo does nothing when the binary is up to date, and a stale server
# would measure old code.
# One invocation for both, so the library is built once with one feature set.
echo "+ cargo build --release --features ssr --bin tvsignin --example loadgen"
cargo build --release --features ssr --bin tvsignin --example loadgen

CMD=("$TARGET/release/examples/loadgen" --tvs "$N" --server-bin "$TARGET/release/tvsignin" "$@")
echo "+ ${CMD[*]}"
exec "${CMD[@]}"
