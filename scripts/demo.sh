#!/usr/bin/env bash
# The README's first command: set up, then run podnet's main job on the bundled example.
#
# As root on Linux: `podnet up` builds the example shop for real (network namespaces, Flannel's
# VXLAN overlay, kube-proxy's nftables rules, CoreDNS, the Ingress controller on 127.0.0.1:8080
# and :8443) and the tour talks to it. Elsewhere, the same questions are answered by the model.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
export PODNET_HOME="${PODNET_HOME:-$PWD/.podnet-demo}"
CLUSTER=shop

run() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

if [ "$(id -u)" = "0" ] && [ "$(uname -s)" = "Linux" ]; then
  podnet down --cluster "$CLUSTER" >/dev/null 2>&1 || true
  rm -rf "$PODNET_HOME/$CLUSTER"
  run podnet up -d -f examples/shop/ --cluster "$CLUSTER"
  run podnet status --cluster "$CLUSTER"
  run podnet get pods -A -o wide --cluster "$CLUSTER"
  web=$(podnet get pods -n frontend -l app=web -o name --cluster "$CLUSTER" | head -1 | cut -d/ -f2)
  worker=$(podnet get pods -n shop -l app=worker -o name --cluster "$CLUSTER" | head -1 | cut -d/ -f2)
  run curl -sk --max-time 5 -H 'Host: shop.example.com' https://127.0.0.1:8443/cart
  echo
  run podnet exec "shop/$worker" --cluster "$CLUSTER" -- curl -s --max-time 5 http://api:8080/hostname
  echo
  run podnet dns query api.shop --from "frontend/$web" --cluster "$CLUSTER"
  run podnet trace "frontend/$web" api.shop:8080 --cluster "$CLUSTER"
  run podnet policy matrix -n frontend -n shop -n data --port 8080 --cluster "$CLUSTER"
  printf '\nThe cluster keeps running: try `podnet exec`, `podnet trace`, curl on 127.0.0.1:8080/8443.\n'
  printf 'Remove it with: PODNET_HOME=%s .venv/bin/podnet down --cluster %s\n' "$PODNET_HOME" "$CLUSTER"
else
  echo "podnet: not root on Linux: touring the model (podnet up needs root)."
  rm -rf "$PODNET_HOME/$CLUSTER"
  run podnet apply -f examples/shop/ --cluster "$CLUSTER"
  run podnet get pods -A -o wide --cluster "$CLUSTER"
  run podnet get services -A --cluster "$CLUSTER"
  web=$(podnet get pods -n frontend -l app=web -o name --cluster "$CLUSTER" | head -1 | cut -d/ -f2)
  run podnet dns query api.shop --from "frontend/$web" --cluster "$CLUSTER"
  run podnet trace "frontend/$web" api.shop:8080 --cluster "$CLUSTER"
  run podnet policy matrix -n frontend -n shop -n data --port 8080 --cluster "$CLUSTER"
  run podnet ingress route https://shop.example.com/cart --cluster "$CLUSTER"
fi
