#!/usr/bin/env bash
# Install the training frameworks that tether's integrations are tested against, into .venv,
# idempotently, without ever replacing the torch that is already there (2.13.0, CPU build).
#
#   Lightning (both the `lightning` and the `pytorch_lightning` packages), fastai, Hugging Face
#   Transformers (+ accelerate, which its Trainer needs) and Keras 3 (run on the torch backend).
#
# torch is pinned on every pip command line, so pip fails rather than pull another build.
# fastai requires torchvision, which has no build here for this torch: fastai is installed with
# --no-deps plus its other requirements (fastai.basics, .learner and .callback need no
# torchvision; only fastai.vision does). spaCy is left out too: only fastai.text uses it.
# Usage: scripts/install-frameworks.sh   (called by scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
. .venv/bin/activate

torch_version="$(python -c 'import torch; print(torch.__version__.split("+")[0])')"
pin="torch==${torch_version}"

frameworks=(
  "lightning>=2.2,<3"
  "pytorch-lightning>=2.2,<3"
  "transformers>=4.40,<6"
  "accelerate>=0.26"
  "keras>=3.0,<4"
)
fastai_requirements=(
  "fastcore>=2.2.22"
  "fasttransform>=0.0.3"
  "fastprogress>=0.2.4"
  "fastdownload>=0.0.8,<2"
  "plum-dispatch<2.10"
  "cloudpickle"
  "matplotlib"
  "pandas"
  "pillow>=9.0.0"
  "pyyaml"
  "requests"
  "scikit-learn"
  "scipy"
  "packaging"
)

installed() {
  python - "$@" <<'EOF'
import importlib.util, sys
sys.exit(0 if all(importlib.util.find_spec(m) for m in sys.argv[1:]) else 1)
EOF
}

if installed lightning pytorch_lightning transformers accelerate keras fastai fastcore \
  fasttransform fastprogress plum sklearn matplotlib; then
  echo "==> frameworks already installed"
else
  echo "==> installing Lightning, Transformers, Keras (with ${pin})"
  python -m pip install --quiet "$pin" "${frameworks[@]}"
  echo "==> installing fastai without torchvision"
  python -m pip install --quiet "$pin" "${fastai_requirements[@]}"
  python -m pip install --quiet --no-deps "fastai>=2.7,<3"
fi

# Fail loudly if anything above replaced torch.
python - "$torch_version" <<'EOF'
import sys, torch
found = torch.__version__.split("+")[0]
if found != sys.argv[1]:
    sys.exit(f"torch changed from {sys.argv[1]} to {found}: reinstall torch=={sys.argv[1]}")
EOF
