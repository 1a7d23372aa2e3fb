#!/usr/bin/env bash
# Proves rnats-engine is `no_std` + `alloc` without its default `std` feature: builds it for
# a bare-metal target without 64-bit atomics (thumbv7em: no std exists there at all) and
# for wasm32-unknown-unknown, then fails if any crate compiled for the target is built with
# a std feature or needs an OS (feature unification could otherwise switch std back on
# silently, and only for some targets). Proc-macros and their dependencies run on the host
# and are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

bare_metal=thumbv7em-none-eabihf
rustup target add "$bare_metal" wasm32-unknown-unknown >/dev/null

cargo build -p rnats-engine --no-default-features --target "$bare_metal"
cargo build -p rnats-engine --no-default-features --target wasm32-unknown-unknown

# One line per crate: "<depth><name> v<version> [<enabled features>]".
tree=$(cargo tree -p rnats-engine -e normal --no-default-features --target "$bare_metal" \
  --prefix depth --no-dedupe -f '{p} [{f}]')
target_crates=$(awk '
  { match($0, /^[0-9]+/); depth = substr($0, 1, RLENGTH) + 0; line = substr($0, RLENGTH + 1) }
  skip_below >= 0 && depth > skip_below { next }
  { skip_below = -1 }
  line ~ /\(proc-macro\)/ { skip_below = depth; next }
  { print line }
' skip_below=-1 <<<"$tree" | sort -u)
echo "$target_crates"

offending=$(grep -E '[[,](std|use_std)[],]|^(bcrypt|getrandom|libc) ' <<<"$target_crates" || true)
if [ -n "$offending" ]; then
  echo "rnats-engine --no-default-features pulls in std on $bare_metal:" >&2
  echo "$offending" >&2
  exit 1
fi
echo "rnats-engine is no_std: no crate built for $bare_metal has a std feature or needs an OS"
