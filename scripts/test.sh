#!/usr/bin/env bash
# The test command: set up (scripts/setup.sh), then lint, type-check and run the test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -k capture -x
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
# shellcheck disable=SC1091
. .venv/bin/activate
echo "==> ruff"
ruff check
ruff format --check
echo "==> mypy --strict"
mypy
echo "==> chromium (browser tests)"
if ! bash scripts/chromium.sh && [ "${CI:-}" = "true" ]; then
  echo "chromium could not be installed; CI needs it" >&2
  exit 1
fi
echo "==> postgresql"
if url=$(bash scripts/postgres.sh); then
  export TETHER_TEST_POSTGRES_URL="$url"
elif [ "${CI:-}" = "true" ]; then
  echo "PostgreSQL could not be started; CI needs it" >&2
  exit 1
else
  echo "PostgreSQL unavailable: its tests will be skipped" >&2
fi
echo "==> seaweedfs (S3 blob store tests)"
if url=$(bash scripts/seaweedfs.sh); then
  export TETHER_TEST_S3_URL="$url"
elif [ "${CI:-}" = "true" ]; then
  echo "SeaweedFS could not be started; CI needs it" >&2
  exit 1
else
  echo "SeaweedFS unavailable: the S3 blob store tests will be skipped" >&2
fi
echo "==> pytest"
# Two workers (PYTEST_WORKERS): most tests wait on the processes, servers and browsers
# they start, so two at a time keep both cores busy; a file's tests stay on one worker, so a
# module's server or browser is started once. PYTEST_WORKERS=0 runs in one process.
workers="${PYTEST_WORKERS:-2}"
if [ "$workers" = "0" ]; then
  python -m pytest "$@"
else
  python -m pytest -n "$workers" --dist loadfile "$@"
fi
