#!/usr/bin/env bash
# Installs what building and testing tvsignin needs, skipping whatever is already present.
# Usage: scripts/setup.sh [build|package|test]
#   build: what command 1 needs; package: also cargo-deb (scripts/package.sh);
#   test: all of that and what command 2 needs.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE="${1:-build}"
CARGO_LEPTOS_VERSION="0.3.11"
# cargo-leptos 0.3.11's lockfile needs Rust >= 1.96; it is built with that toolchain only.
CARGO_LEPTOS_TOOLCHAIN="1.96.0"
CARGO_DEB_VERSION="3.8.0"
# Must equal the `wasm-bindgen` pin in Cargo.toml exactly.
WASM_BINDGEN_VERSION="$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p' Cargo.toml)"

step() { printf '\n==> %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
else
  step "wasm32-unknown-unknown target: present"
fi

# The browser bundle rebuilds the standard library for the WebAssembly MVP (scripts/build.sh).
if rustup component list --installed | grep -q '^rust-src'; then
  step "rust-src component: present"
else
  step "rustup component add rust-src"
  rustup component add rust-src
fi

if have cargo-leptos && cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  step "cargo-leptos $CARGO_LEPTOS_VERSION: present"
else
  step "installing cargo-leptos $CARGO_LEPTOS_VERSION with Rust $CARGO_LEPTOS_TOOLCHAIN (about 13 minutes on 2 cores)"
  if ! rustup toolchain list | grep -q "^$CARGO_LEPTOS_TOOLCHAIN"; then
    rustup toolchain install "$CARGO_LEPTOS_TOOLCHAIN" --profile minimal
  fi
  cargo "+$CARGO_LEPTOS_TOOLCHAIN" install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
fi

if have wasm-bindgen && wasm-bindgen --version | grep -q "$WASM_BINDGEN_VERSION"; then
  step "wasm-bindgen CLI $WASM_BINDGEN_VERSION: present"
else
  step "cargo install wasm-bindgen-cli --version $WASM_BINDGEN_VERSION --locked"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked --force
fi

# wasm-opt comes from the npm `binaryen` package in the root package.json
# (cargo-leptos puts node_modules/.bin first on PATH). Debian's binaryen is too old and breaks hydration.
if [ -x node_modules/.bin/wasm-opt ] && [ package-lock.json -ot node_modules/.package-lock.json ]; then
  step "root npm packages (wasm-opt): present"
else
  step "npm ci (root: binaryen for wasm-opt)"
  npm ci --no-audit --no-fund
fi

if [ "$MODE" = "package" ] || [ "$MODE" = "test" ]; then
  if cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
    step "cargo-deb $CARGO_DEB_VERSION: present"
  else
    step "cargo install cargo-deb --version $CARGO_DEB_VERSION --locked (about 1.5 minutes on 2 cores)"
    cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked
  fi
fi

if [ "$MODE" = "test" ]; then
  missing=()
  have chromium || missing+=(chromium)
  have tmux || missing+=(tmux)
  # The fleet tests and the load benchmark run a real Redis (the package brings redis-cli).
  have redis-server || missing+=(redis-server)
  # Services that packages below start on install, which the tests do not use.
  services=()
  # nginx and Caddy in front of tvsignin and an app, with auth_request and with README's
  # Caddyfile (end2end/tests/forward-auth.spec.ts).
  [ -x /usr/sbin/nginx ] || { missing+=(nginx-light); services+=(nginx); }
  [ -x /usr/bin/caddy ] || { missing+=(caddy); services+=(caddy); }
  # Two real old browser engines for the TV tiers (end2end/tests/old-engines.spec.ts), headless
  # under Xvfb; they are bound to Debian's own Python.
  have xvfb-run || missing+=(xvfb xauth)
  /usr/bin/python3 -c 'import PyQt5.QtWebEngineWidgets' 2>/dev/null || missing+=(python3-pyqt5.qtwebengine)
  /usr/bin/python3 -c 'import PyQt5.QtWebKitWidgets' 2>/dev/null || missing+=(python3-pyqt5.qtwebkit)
  # The package check (scripts/package-test.sh): systemd-analyze, and systemd-nspawn to run
  # the unit under a real systemd.
  have systemd-analyze || missing+=(systemd)
  have systemd-nspawn || missing+=(systemd-container)
  # Japanese glyphs for the localised screens' layout checks (end2end/tests/i18n.spec.ts).
  fc-list :lang=ja 2>/dev/null | grep -q . || missing+=(fonts-noto-cjk)
  if [ ${#missing[@]} -gt 0 ]; then
    step "apt-get install ${missing[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
    # The tests start their own nginx and Caddy on free loopback ports; the services the
    # packages enable and start would only hold port 80 (and 443).
    for service in "${services[@]}"; do
      if [ -d /run/systemd/system ]; then
        step "systemctl disable --now $service (the tests run their own)"
        $SUDO systemctl disable --now "$service.service" || true
      elif [ -x "/etc/init.d/$service" ]; then
        step "stop the $service service (the tests run their own)"
        $SUDO "/etc/init.d/$service" stop || true
      fi
    done
  else
    step "chromium, tmux, redis-server, nginx, caddy, xvfb, QtWebEngine, QtWebKit, systemd tools, CJK fonts: present"
  fi
  if [ -d end2end/node_modules/@playwright/test ] && [ end2end/package-lock.json -ot end2end/node_modules/.package-lock.json ]; then
    step "end2end npm packages: present"
  else
    step "npm ci (end2end: Playwright, oidc-provider, QR decoder)"
    (cd end2end && npm ci --no-audit --no-fund)
  fi
fi
step "set-up done"
