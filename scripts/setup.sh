#!/usr/bin/env bash
# Sets up podnet on a fresh Debian machine: system packages (as root), a virtualenv, the package.
# Sourced by scripts/demo.sh and scripts/test.sh; safe to run again (it only adds what is missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-python3}"
DEBIAN_PACKAGES=(python3-venv python3-pip iproute2 nftables iperf3 tcpdump iputils-ping)

need_apt=()
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  for p in "${DEBIAN_PACKAGES[@]}" "${EXTRA_DEBIAN_PACKAGES[@]:-}"; do
    [ -n "$p" ] || continue
    dpkg -s "$p" >/dev/null 2>&1 || need_apt+=("$p")
  done
  if [ "${#need_apt[@]}" -gt 0 ]; then
    echo "podnet setup: installing Debian packages: ${need_apt[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  fi
fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -e ".[test]"
