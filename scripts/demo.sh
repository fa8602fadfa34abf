#!/usr/bin/env bash
# The main job: set up, run a small tracked training that logs and prints from several
# processes (fork children, DataLoader workers, spawned ranks), then list and show the run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
# shellcheck disable=SC1091
. .venv/bin/activate
workdir="${TETHER_DEMO_DIR:-$PWD/demo-runs}"
mkdir -p "$workdir"
echo "==> training (runs are stored under $workdir/tether)"
python examples/multiprocess_training.py --dir "$workdir"
echo "==> tether ls $workdir"
tether ls "$workdir"
echo "==> tether show latest"
tether show latest --dir "$workdir" --lines 12
