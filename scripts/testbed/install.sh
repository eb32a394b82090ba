#!/usr/bin/env bash
# Installs every real server the test suite talks to, each skipped when already present.
# Caches live outside the repo (RAMPART_CACHE, default ~/.cache/rampart).
#
# The Go builds (CometBFT, gaiad, the Kubernetes control plane) are the slow part and keep
# the CPU busy; the package installs mostly wait on downloads and dpkg. So the builds start
# first, in the background, one after another, and the installs run meanwhile. Either
# failing fails the whole; the builds' output follows the installs' (from its log).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${RAMPART_CACHE:-$HOME/.cache/rampart}"
mkdir -p "$cache"
builds_log="$cache/go-builds.log"

(for part in cometbft gaiad kubernetes; do bash "$here/$part.sh"; done) >"$builds_log" 2>&1 &
builds=$!
for part in prometheus alertmanager netdata moto etcd chromium openstack; do
  bash "$here/$part.sh"
done
status=0
wait "$builds" || status=$?
cat "$builds_log"
if [ "$status" -ne 0 ]; then
  echo "the Go builds failed (exit $status): see above" >&2
  exit "$status"
fi
