#!/usr/bin/env bash
# Builds the browser client into wasm/pkg/ (an npm package):
#   rnats.js / rnats.d.ts              the entry point (re-exports + async iterators)
#   rnats_wasm.js / rnats_wasm.d.ts    wasm-bindgen's ES module (--target web) and types
#   rnats_wasm_bg.wasm                 the client, optimised by wasm-opt (npm binaryen)
#   package.json
# Needs: the wasm32-unknown-unknown target, wasm-bindgen-cli at the version in Cargo.lock,
# node + npm (scripts/install-test-deps.sh installs them all).
# WASM_OPT_FLAGS overrides the wasm-opt level (default -Oz).
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd .. && pwd)
out=pkg

want=$(awk '$0=="name = \"wasm-bindgen\""{getline; gsub(/"/,"",$3); print $3}' "$root/Cargo.lock")
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  echo "wasm/build.sh: wasm-bindgen CLI ${have:-missing}, Cargo.lock has $want;" \
       "run scripts/install-test-deps.sh (or cargo install wasm-bindgen-cli --version $want)" >&2
  exit 1
fi
if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

cargo build -p rnats-wasm --target wasm32-unknown-unknown --profile wasm-release
wasm="$root/target/wasm32-unknown-unknown/wasm-release/rnats_wasm.wasm"

rm -rf "$out"
mkdir -p "$out"
wasm-bindgen --target web --out-dir "$out" --out-name rnats_wasm "$wasm"
# Debian's wasm-opt 108 writes modules that do not instantiate; npm binaryen's does.
# shellcheck disable=SC2086
node_modules/.bin/wasm-opt ${WASM_OPT_FLAGS:--Oz} "$out/rnats_wasm_bg.wasm" -o "$out/rnats_wasm_bg.wasm"
cp js/rnats.js js/rnats.d.ts "$out/"

version=$(cargo pkgid -p rnats-wasm | sed 's/.*[@#]//')
cat > "$out/package.json" <<JSON
{
  "name": "rnats-wasm",
  "version": "$version",
  "description": "A NATS client for the browser, compiled from the rnats engine (Rust/WebAssembly). API in the style of nats.ws.",
  "license": "Apache-2.0",
  "type": "module",
  "main": "rnats.js",
  "module": "rnats.js",
  "types": "rnats.d.ts",
  "exports": {
    ".": { "types": "./rnats.d.ts", "default": "./rnats.js" }
  },
  "files": [
    "rnats.js",
    "rnats.d.ts",
    "rnats_wasm.js",
    "rnats_wasm.d.ts",
    "rnats_wasm_bg.wasm",
    "rnats_wasm_bg.wasm.d.ts"
  ],
  "sideEffects": ["./rnats.js"]
}
JSON

size() { wc -c < "$1" | tr -d ' '; }
gz() { gzip -9 -c "$1" | wc -c | tr -d ' '; }
echo "wasm/pkg: rnats_wasm_bg.wasm $(size "$out/rnats_wasm_bg.wasm") B (gzip -9 $(gz "$out/rnats_wasm_bg.wasm") B)," \
     "rnats_wasm.js $(size "$out/rnats_wasm.js") B (gzip -9 $(gz "$out/rnats_wasm.js") B)," \
     "rnats.js $(size "$out/rnats.js") B; before wasm-opt: $(size "$wasm") B from cargo"
