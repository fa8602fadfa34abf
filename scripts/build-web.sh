#!/usr/bin/env bash
# Build the web UI (web/) into src/tether/server/static/, which `tether server` and `tether ui`
# serve at /. Idempotent: `npm ci` installs exactly web/package-lock.json, then Vite rebuilds.
# Without Node.js the build is skipped (the API works; / answers that the UI is not built).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "build-web: node and npm not found: the web UI is not built (needs Node.js >= 20.19)" >&2
  exit 0
fi
# Vite 8 needs Node.js 20.19+ (or 22.12+).
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
  echo "build-web: Node.js $(node --version) is too old: the web UI is not built (needs >= 20.19)" >&2
  exit 0
fi
cd web
echo "==> web UI: npm ci"
npm ci --no-audit --no-fund --loglevel=error
echo "==> web UI: npm run build -> src/tether/server/static/"
npm run build --silent
