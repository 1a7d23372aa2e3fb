#!/usr/bin/env bash
# Side-by-side benchmark of rnats-server and the reference nats-server on loopback.
# Installs nats-server if it is missing (scripts/install-test-deps.sh, Debian package),
# builds release rnats-server and rnats-bench, then runs `rnats-bench compare` with the
# given arguments, e.g.:
#   bench/compare.sh                      # every scenario, 5 alternating rounds
#   bench/compare.sh --rounds 7 -s pub-16,wildcard --json
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh >&2
cargo build --release -p rnats-tokio -p rnats-bench >&2
exec "${CARGO_TARGET_DIR:-target}/release/rnats-bench" compare "$@"
