#!/usr/bin/env bash
# Set up everything tether needs on a fresh machine, idempotently:
# a .venv, the CPU build of torch (installed first, so nothing pulls a CUDA build), and the
# package with its extras. Usage: scripts/setup.sh [EXTRAS]   (default: dev)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-dev}"
python="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$python" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install --quiet --upgrade pip >/dev/null

if ! python -c "import torch" 2>/dev/null; then
  echo "==> installing torch 2.13.0 (CPU build)"
  python -m pip install --quiet torch==2.13.0
fi
echo "==> installing tether[$extras]"
python -m pip install --quiet -e ".[$extras]"
