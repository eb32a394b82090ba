#!/usr/bin/env bash
# Builds CometBFT with `go install` into the cache, outside the repo; skipped when the
# pinned version is already there. Module and build caches live in the cache too.
set -euo pipefail
cache="${RAMPART_CACHE:-$HOME/.cache/rampart}"
version="v0.38.26"
bin="$cache/bin/cometbft"
if [[ -x "$bin" ]] && [[ "$("$bin" version 2>/dev/null)" == "${version#v}" ]]; then
  exit 0
fi
command -v go >/dev/null || { echo "cometbft.sh: Go is needed to build CometBFT (go install)" >&2; exit 1; }
mkdir -p "$cache/bin"
echo "building CometBFT $version (a few minutes the first time)…"
GOBIN="$cache/bin" GOMODCACHE="$cache/go/mod" GOCACHE="$cache/go/build" GOFLAGS=-mod=mod \
  go install "github.com/cometbft/cometbft/cmd/cometbft@$version"
"$bin" version
