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
  # Every integration suite, except those whose subject is one Redis server itself: they
  # restart, flush or cut off a private redis-server (test/redis-server.ts, a TCP proxy), so
  # on a cluster they would only run again on that private server (the REDIS_WAIT_REPLICAS
  # suites give one a replica, or none). The storefront's browser tests are not about Redis.
  # cluster-failover.test.ts kills a master of a private cluster of its own.
  pnpm exec vitest run packages/core/test apps/api/test apps/worker/test \
    --exclude apps/api/test/faults-redis-restart.test.ts \
    --exclude apps/api/test/faults-script-flush.test.ts \
    --exclude apps/api/test/faults-store-outage.test.ts \
    --exclude apps/api/test/coupon-restore.test.ts \
    --exclude apps/api/test/coupon-replica-wait.test.ts \
    --exclude apps/api/test/order-replica-wait.test.ts
fi
if [ "$started" = 1 ]; then echo "cluster stopped"; fi
