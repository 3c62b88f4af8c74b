#!/usr/bin/env bash
# The README's second command: set up, then run the whole test suite (type checks included).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
.venv/bin/python -m mypy
.venv/bin/python -m pytest -q "$@"
