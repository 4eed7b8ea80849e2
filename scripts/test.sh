#!/usr/bin/env bash
# Command 2: installs what the tests need, then runs every check and test:
# rustfmt, clippy (both builds, warnings denied), the browser build, Rust unit and integration
# tests, the local provider's self-test, the release build and its check against the oldest TV
# engine, the Playwright suite (including two old engines) against the release build, and the
# Debian package's check (scripts/package-test.sh: installs the package here, then purges it).
set -euo pipefail
# A one-off build gains nothing from incremental caches, and they cost gigabytes of disk.
export CARGO_INCREMENTAL=0
cd "$(dirname "$0")/.."

started=$SECONDS
run() {
  printf '\n==> %s\n' "$*"
  local t=$SECONDS
  "$@"
  printf '    (%ss)\n' "$((SECONDS - t))"
}

scripts/setup.sh test

run cargo fmt --check
run cargo clippy --features ssr --all-targets -- -D warnings
run cargo clippy --lib --features hydrate --target wasm32-unknown-unknown -- -D warnings
# A production build without the demo provider (and the tests that need none).
run cargo clippy --no-default-features --features ssr --all-targets -- -D warnings
run cargo build --lib --features hydrate --target wasm32-unknown-unknown
run cargo test --features ssr
run node end2end/idp/selftest.mjs
run scripts/build.sh
# The served bundle against the oldest engine claimed for the full experience.
run cargo run --quiet --features ssr --example wasm_mvp -- target/site/pkg
run node end2end/engines/glue-syntax.mjs target/site/pkg
(cd end2end && run npx playwright test)
# The same release build, packaged, installed, run under systemd, removed (about a minute).
run scripts/package-test.sh --no-build

printf '\nAll checks and tests passed in %ss.\n' "$((SECONDS - started))"
