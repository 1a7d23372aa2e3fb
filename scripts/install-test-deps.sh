#!/usr/bin/env bash
# Installs what the test suite needs and a fresh Debian machine lacks:
# the reference nats-server (Debian package), which every differential test runs beside rnats.
set -euo pipefail

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
