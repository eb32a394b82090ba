#!/usr/bin/env bash
# Installs Debian's Chromium for the dashboard's browser tests (driven by playwright-core with
# the system browser; no browser is ever downloaded). Idempotent: does nothing when present.
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then
  echo "chromium: already installed at /usr/bin/chromium"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
install_package() {
  # fonts-dejavu-core: readable text in the screenshots on a machine without desktop fonts.
  apt-get install -y --no-install-recommends chromium fonts-dejavu-core
}
# A fresh machine may have empty or stale package lists; refresh them only when needed.
if ! install_package; then
  apt-get update
  install_package
fi

if [[ ! -x /usr/bin/chromium ]]; then
  echo "chromium: package installed but /usr/bin/chromium is missing" >&2
  exit 1
fi
echo "chromium: installed at /usr/bin/chromium"
