#!/usr/bin/env bash
# The main job: set up, run a small tracked training that logs and prints from several
# processes (DataLoader workers, spawned DDP ranks), show the run in the terminal, then open
# the web UI on the embedded SQLite default (Ctrl-C to stop; TETHER_DEMO_NO_UI=1 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
# shellcheck disable=SC1091
. .venv/bin/activate
workdir="${TETHER_DEMO_DIR:-$PWD/demo-runs}"
mkdir -p "$workdir"
echo "==> training (runs are stored under $workdir/tether)"
TETHER_MODE=offline python examples/multiprocess_training.py --dir "$workdir"
echo "==> tether ls $workdir"
tether ls "$workdir"
echo "==> tether show latest"
tether show latest --dir "$workdir" --lines 12
if [ "${TETHER_DEMO_NO_UI:-}" != "1" ]; then
  echo "==> tether ui $workdir   (open the URL below; Ctrl-C to stop)"
  exec tether ui "$workdir" --port "${TETHER_UI_PORT:-8080}"
fi
