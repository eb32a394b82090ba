#!/usr/bin/env bash
# Installs Debian's Alertmanager for the integration tests (the tests start it themselves).
# Idempotent: does nothing when the binary is already there.
set -euo pipefail

find_alertmanager() {
  if [[ -x /usr/bin/prometheus-alertmanager ]]; then
    echo /usr/bin/prometheus-alertmanager
  else
    command -v prometheus-alertmanager || command -v alertmanager || true
  fi
}

if [[ -n "$(find_alertmanager)" ]]; then
  echo "alertmanager: already installed at $(find_alertmanager)"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
install_package() {
  apt-get install -y --no-install-recommends prometheus-alertmanager
}
# A fresh machine may have empty or stale package lists; refresh them only when needed.
if ! install_package; then
  apt-get update
  install_package
fi

# The package's service is not used (the tests run their own instance), and on machines with
# an init system it would hold ports 9093 and 9094; stop it where possible without failing elsewhere.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus-alertmanager 2>/dev/null; then
  systemctl stop prometheus-alertmanager || true
fi

if [[ -z "$(find_alertmanager)" ]]; then
  echo "alertmanager: package installed but no alertmanager binary found" >&2
  exit 1
fi
echo "alertmanager: installed at $(find_alertmanager)"
