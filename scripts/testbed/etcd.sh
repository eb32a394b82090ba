#!/usr/bin/env bash
# Installs Debian's etcd (server and etcdctl, 3.4.x) for the integration tests; the tests start
# their own members on free loopback ports with data on tmpfs. Idempotent: does nothing when
# /usr/bin/etcd is already there.
set -euo pipefail

find_etcd() {
  if [[ -x /usr/bin/etcd ]]; then
    echo /usr/bin/etcd
  else
    command -v etcd || true
  fi
}

if [[ -n "$(find_etcd)" ]]; then
  echo "etcd: already installed at $(find_etcd)"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
install_package() {
  apt-get install -y --no-install-recommends etcd-server etcd-client
}
# A fresh machine may have empty or stale package lists; refresh them only when needed.
if ! install_package; then
  apt-get update
  install_package
fi

# The package's own service is not used (the tests run their own members), and on machines
# with an init system it would hold ports 2379/2380; stop it where possible without failing.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet etcd 2>/dev/null; then
  systemctl stop etcd || true
fi

if [[ -z "$(find_etcd)" ]]; then
  echo "etcd: package installed but no etcd binary found" >&2
  exit 1
fi
echo "etcd: installed at $(find_etcd)"
