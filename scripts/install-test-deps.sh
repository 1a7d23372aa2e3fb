#!/usr/bin/env bash
# Installs what the test suite needs and a fresh Debian machine lacks:
# the reference nats-server (Debian package), which every differential test runs beside rnats;
# and the npm packages of the JavaScript tests (tests/js: nats.ws and ws, pinned in its
# package-lock.json), which need Node 20 and npm.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v nats-server >/dev/null 2>&1; then
  echo "installing the reference nats-server (Debian package nats-server)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q
  as_root apt-get -o DPkg::Lock::Timeout=600 install -y -q nats-server
fi
nats-server --version

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "installing Node.js and npm (Debian packages nodejs, npm)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q
  as_root apt-get -o DPkg::Lock::Timeout=600 install -y -q nodejs npm
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "warning: Node $(node --version) found; the JavaScript tests are written for Node 20" >&2
fi
# `npm ci` installs exactly the lock file; skipped while the installed copy matches it.
stamp=tests/js/node_modules/.rnats-installed-lock.json
if ! cmp -s tests/js/package-lock.json "$stamp" 2>/dev/null; then
  echo "installing the npm packages of tests/js (npm ci)"
  (cd tests/js && npm ci --no-audit --no-fund)
  cp tests/js/package-lock.json "$stamp"
fi
echo "node $(node --version), tests/js: $(cd tests/js && node -p 'Object.entries(require("./package.json").devDependencies).map(([k, v]) => k + "@" + v).join(" ")')"

# The browser client's tests (wasm/test.sh): the wasm32 target; wasm-bindgen-cli at exactly
# the wasm-bindgen version in Cargo.lock (cargo install takes minutes, so only when the
# installed one differs; not --locked, which fails on this registry); headless Chromium
# (Debian package chromium); wasm/'s npm packages (binaryen's wasm-opt, playwright-core).
rustup target add wasm32-unknown-unknown >/dev/null
wasm_bindgen=$(awk '$0=="name = \"wasm-bindgen\""{getline; gsub(/"/,"",$3); print $3}' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $wasm_bindgen" ]; then
  echo "installing wasm-bindgen-cli $wasm_bindgen (cargo install, a few minutes)"
  cargo install wasm-bindgen-cli --version "$wasm_bindgen"
fi
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing headless Chromium (Debian package chromium)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q
  as_root apt-get -o DPkg::Lock::Timeout=600 install -y -q chromium
fi
stamp=wasm/node_modules/.rnats-installed-lock.json
if ! cmp -s wasm/package-lock.json "$stamp" 2>/dev/null; then
  echo "installing the npm packages of wasm/ (npm ci)"
  (cd wasm && npm ci --no-audit --no-fund)
  cp wasm/package-lock.json "$stamp"
fi
echo "$(wasm-bindgen --version), $(chromium --version 2>/dev/null | head -1)"
