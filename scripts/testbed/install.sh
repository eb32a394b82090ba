#!/usr/bin/env bash
# Installs every real server the test suite talks to, each skipped when already present.
# Caches live outside the repo (RAMPART_CACHE, default ~/.cache/rampart).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for part in prometheus alertmanager netdata moto cometbft etcd chromium kubernetes openstack; do
  bash "$here/$part.sh"
done
