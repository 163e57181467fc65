#!/usr/bin/env bash
# `pnpm test:cluster`: the integration suites that apply, against a throw-away 6-node Redis
# Cluster (scripts/redis-cluster.sh). With REDIS_CLUSTER_NODES already set, that cluster is
# used and left running; otherwise one is started and stopped around the run.
# Extra arguments go to vitest (e.g. a single file).
set -euo pipefail
cd "$(dirname "$0")/.."

started=0
if [ -z "${REDIS_CLUSTER_NODES:-}" ]; then
  REDIS_CLUSTER_NODES="$(scripts/redis-cluster.sh up)"
  started=1
  trap 'scripts/redis-cluster.sh down' EXIT
fi
export REDIS_CLUSTER_NODES

if [ "$#" -gt 0 ]; then
  pnpm exec vitest run "$@"
else
  pnpm exec vitest run \
    apps/api/test/coupon.test.ts \
    apps/api/test/order-payment.test.ts \
    packages/core/test/coupon-scripts.test.ts \
    packages/core/test/coupon-persist.test.ts \
    packages/core/test/inventory.test.ts \
    packages/core/test/reconcile.test.ts
fi
[ "$started" = 1 ] && echo "cluster stopped"
