#!/usr/bin/env bash
# Install (if missing) and start Debian's PostgreSQL on 127.0.0.1:5432 for the tests, then
# print a URL the tests use to create their own databases. Needs root (CI and dev machines).
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "==> installing postgresql" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
version=$(ls /etc/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | awk '{print $4}' | grep -q online; then
  pg_ctlcluster "$version" main start >&2
fi
for _ in $(seq 1 50); do
  su postgres -c "psql -qtAc 'select 1'" >/dev/null 2>&1 && break
  sleep 0.2
done
su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'tether-tests'\"" >/dev/null
echo "postgresql://postgres:tether-tests@127.0.0.1:5432/postgres"
