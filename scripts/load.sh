#!/usr/bin/env bash
# Load test (issue 6, in-memory mode): N simulated TVs against one tvsignin server.
# Usage: scripts/load.sh [N] [extra loadgen flags...]
#   e.g. scripts/load.sh 10000 --approve-min 25 --approve-max 40 --ramp 500
# Everything runs on 127.0.0.1; the run stops by itself (--timeout-secs, default 120).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000}"
shift || true

# Each TV holds one push stream open: ~2 sockets per TV on loopback (client + server side),
# split between this process and the server, which inherits this limit.
ulimit -n 65535 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "open file limit: $(ulimit -n)"

if [ ! -x target/release/tvsignin ]; then
  echo "+ cargo build --release --features ssr --bin tvsignin"
  cargo build --release --features ssr --bin tvsignin
fi
echo "+ cargo build --release --features ssr --example loadgen"
cargo build --release --features ssr --example loadgen

CMD=(target/release/examples/loadgen --tvs "$N" "$@")
echo "+ ${CMD[*]}"
exec "${CMD[@]}"
