#!/usr/bin/env bash
# The longer chaos series: Rampart replicas on etcd, the acting one SIGKILLed at random points
# during scale-up, scale-down and snapshot (test/integration/etcd-chaos.test.ts), TRIALS times
# (default 200; the test suite runs 30). Needs the testbed's etcd (scripts/testbed/etcd.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/testbed/etcd.sh
RAMPART_CHAOS_TRIALS="${TRIALS:-200}" exec ./node_modules/.bin/node --test --test-timeout=0 \
  test/integration/etcd-chaos.test.ts
