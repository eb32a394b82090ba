#!/usr/bin/env bash
# Installs moto's server (an AWS API emulator, from PyPI) into a virtual environment in the
# cache, outside the repo; skipped when it is already there.
set -euo pipefail
cache="${RAMPART_CACHE:-$HOME/.cache/rampart}"
venv="$cache/moto-venv"
version="5.2.5"
if [[ -x "$venv/bin/moto_server" ]] && "$venv/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$version')" 2>/dev/null; then
  exit 0
fi
mkdir -p "$cache"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$version"
"$venv/bin/moto_server" --help >/dev/null
echo "moto $version installed in $venv"
