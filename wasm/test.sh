#!/usr/bin/env bash
# The browser client's tests (run by scripts/test.sh, after scripts/install-test-deps.sh):
# builds wasm/pkg and rnats-server, then runs wasm/tests/run.mjs — the suite in
# tests/browser/ and the chat demo in headless Chromium, against nats-server and
# rnats-server, each with a `websocket` block. Screenshots go to target/wasm-test/.
set -euo pipefail
cd "$(dirname "$0")/.."
wasm/build.sh
cargo build -p rnats-tokio --bin rnats-server
# Both servers must serve WebSocket (set RNATS_WASM_REQUIRE_ALL=0 to skip one that cannot).
RNATS_WASM_REQUIRE_ALL=${RNATS_WASM_REQUIRE_ALL:-1} node wasm/tests/run.mjs
