#!/usr/bin/env bash
# Runs every test of the workspace: engine unit and simulation tests, and the integration
# suite that drives rnats-server and the reference nats-server with real clients, and the
# browser client (wasm/) in headless Chromium against both servers; and the fuzz seeds and
# regression inputs replayed through the fuzz targets' checks (no fuzzing).
# Installs what the tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo test --workspace --no-fail-fast "$@"   # every failing test binary reported, not just the first
wasm/test.sh
(cd fuzz && cargo test --tests)
