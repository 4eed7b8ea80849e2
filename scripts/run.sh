#!/usr/bin/env bash
# Command 1: installs what is missing, builds tvsignin (release) and runs it.
# Arguments are passed to the server, e.g. `scripts/run.sh check-config`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh build
scripts/build.sh
printf '\n==> target/release/tvsignin %s\n' "$*"
export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-target/site}"
exec target/release/tvsignin "$@"
