#!/usr/bin/env bash
# Installs Debian's netdata agent for the integration tests (the tests start it themselves).
# Idempotent: does nothing when the binary is already there.
set -euo pipefail

find_netdata() {
  if [[ -x /usr/sbin/netdata ]]; then
    echo /usr/sbin/netdata
  else
    command -v netdata || true
  fi
}

if [[ -n "$(find_netdata)" ]]; then
  echo "netdata: already installed at $(find_netdata)"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
install_package() {
  apt-get install -y --no-install-recommends netdata
}
# A fresh machine may have empty or stale package lists; refresh them only when needed.
if ! install_package; then
  apt-get update
  install_package
fi

# The package's service is not used (the tests run their own instance on a free port).
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet netdata 2>/dev/null; then
  systemctl stop netdata || true
fi

if [[ -z "$(find_netdata)" ]]; then
  echo "netdata: package installed but no netdata binary found" >&2
  exit 1
fi
echo "netdata: installed at $(find_netdata)"
