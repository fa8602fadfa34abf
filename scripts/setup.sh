#!/usr/bin/env bash
# Set up everything tether needs on a fresh machine, idempotently:
# a .venv, the CPU build of torch (installed first, so nothing pulls a CUDA build), the
# package with its extras, the training frameworks the integrations are tested against, and
# the web UI (built into the package). Usage: scripts/setup.sh [EXTRAS]   (default: dev)
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
python -m pip install --quiet -e ".[$extras]" "torch==$(python -c 'import torch; print(torch.__version__.split("+")[0])')"
if [ "$extras" = "dev" ] && [ -f scripts/install-frameworks.sh ]; then
  echo "==> installing the training frameworks (Lightning, fastai, Transformers, Keras)"
  bash scripts/install-frameworks.sh
fi
if [ -f scripts/build-web.sh ]; then
  bash scripts/build-web.sh
fi
