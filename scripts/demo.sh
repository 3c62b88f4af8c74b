#!/usr/bin/env bash
# The README's first command: set up, then run podnet's main job on the bundled example.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
export PODNET_HOME="${PODNET_HOME:-$PWD/.podnet-demo}"

run() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

rm -rf "$PODNET_HOME"  # start from an empty cluster store each time
run podnet apply -f examples/shop/ --cluster shop
run podnet get nodes -o wide --cluster shop
run podnet get pods -A -o wide --cluster shop
run podnet get services -A --cluster shop
run podnet get endpointslices -n shop --cluster shop
run podnet get ingress -A --cluster shop
run podnet describe service api -n shop --cluster shop
