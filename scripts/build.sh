#!/usr/bin/env bash
# Builds tvsignin for release: the browser bundle (target/site) and the server
# (target/release/tvsignin). Used by command 1 and command 2.
#
# The bundle is WebAssembly for the MVP feature set, so TV engines back to the Chromium 63
# class run it: `.cargo/config.toml` sets `-C target-cpu=mvp` and Cargo.toml's
# `lib-cargo-args` rebuilds the standard library to match (`-Zbuild-std`, from rustup's
# rust-src component). RUSTC_BOOTSTRAP=1 lets the stable toolchain accept that -Z flag; it is
# set for the bundle's build only, never for the server's.
set -euo pipefail
cd "$(dirname "$0")/.."

printf '\n==> RUSTC_BOOTSTRAP=1 cargo leptos build --release --frontend-only\n'
RUSTC_BOOTSTRAP=1 cargo leptos build --release --frontend-only
# The glue's one use of `import.meta` (a syntax from Chromium 64) is a default WebAssembly URL
# that the boot script always overrides: a plain expression there lets the Chromium 63 class
# parse the module. end2end/engines/glue-syntax.mjs checks the result in command 2.
printf '\n==> glue: import.meta.url -> document.baseURI\n'
sed -i 's/import\.meta\.url/document.baseURI/g' target/site/pkg/*.js
printf '\n==> cargo leptos build --release --server-only\n'
cargo leptos build --release --server-only
