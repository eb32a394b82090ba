#!/usr/bin/env bash
# Installs Debian's Prometheus server for the integration tests (the tests start it themselves).
# Idempotent: does nothing when the binary is already there.
set -euo pipefail

find_prometheus() {
  if [[ -x /usr/bin/prometheus ]]; then
    echo /usr/bin/prometheus
  else
    command -v prometheus || true
  fi
}

if [[ -n "$(find_prometheus)" ]]; then
  echo "prometheus: already installed at $(find_prometheus)"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
install_package() {
  apt-get install -y --no-install-recommends prometheus
}
# A fresh machine may have empty or stale package lists; refresh them only when needed.
if ! install_package; then
  apt-get update
  install_package
fi

# The package's service is not used (the tests run their own instance), and on machines with
# an init system it would hold port 9090; stop it where possible without failing elsewhere.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  systemctl stop prometheus || true
fi

if [[ -z "$(find_prometheus)" ]]; then
  echo "prometheus: package installed but no prometheus binary found" >&2
  exit 1
fi
echo "prometheus: installed at $(find_prometheus)"
