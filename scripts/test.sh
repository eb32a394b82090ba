#!/usr/bin/env bash
# The whole test suite, as `npm test` runs it: installs the real servers the tests use
# (skipped when present), then type-checks, lints, checks the layers (.dependency-cruiser.cjs)
# and runs every test on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/testbed/install.sh

echo "== type-check"
tsc --noEmit -p .
echo "== lint and format"
biome check .
echo "== layers"
depcruise src --config .dependency-cruiser.cjs
echo "== tests"
# Every test file is a process of its own that compiles src/ and the SDKs again (and spawns
# controllers and nodes that do too): Node's on-disk compile cache does it once per source.
export NODE_COMPILE_CACHE="${NODE_COMPILE_CACHE:-${TMPDIR:-/tmp}/rampart-node-compile-cache}"
node --test --test-concurrency=2 --test-timeout=600000 \
  "src/**/*.test.ts" "test/**/*.test.ts"
