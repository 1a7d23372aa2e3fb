#!/usr/bin/env bash
# Side-by-side benchmark of two servers on loopback: rnats-server (tokio) and the
# reference nats-server by default, or any two of tokio, smol (rnats-server-smol) and
# nats-server. Installs nats-server if it is missing (scripts/install-test-deps.sh,
# Debian package), builds release rnats-server, rnats-server-smol and rnats-bench, then
# runs `rnats-bench compare` with the given arguments, e.g.:
#   bench/compare.sh                      # every scenario (TCP, WebSocket, TLS), 5 rounds
#   bench/compare.sh --rounds 7 -s pub-16,wildcard --json
#   bench/compare.sh -s ws-pubsub-16,ws-pubsub-16k   # WebSocket listeners only
#   bench/compare.sh -s tls-pubsub-16,tls-pubsub-16k # TLS on the client port (tests/certs)
#   bench/compare.sh --a tokio --b smol   # the two rnats frontends (ratio tokio / smol)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh >&2
cargo build --release -p rnats-tokio -p rnats-smol -p rnats-bench >&2
exec "${CARGO_TARGET_DIR:-target}/release/rnats-bench" compare "$@"
