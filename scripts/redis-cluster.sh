#!/usr/bin/env bash
# A throw-away 6-node Redis Cluster (3 masters, 3 replicas) on loopback, from the machine's
# redis-server, for `pnpm test:cluster` and `pnpm bench --cluster`. Never touches 6379.
#
#   scripts/redis-cluster.sh up     starts it; prints the REDIS_CLUSTER_NODES value
#   scripts/redis-cluster.sh down   stops it and removes its data
#   scripts/redis-cluster.sh nodes  prints the REDIS_CLUSTER_NODES value of a running one
#   scripts/redis-cluster.sh rejoin <port> <master-port>  a killed node back as a new replica
#
# REDIS_CLUSTER_BASE_PORT (default 7300) picks ports base..base+5; the cluster bus uses
# port+10000. REDIS_CLUSTER_DIR (default $TMPDIR/flash-redis-cluster-<base>) holds data,
# logs and pids. cluster-node-timeout is low (REDIS_CLUSTER_NODE_TIMEOUT, default 2000 ms) so
# a failover test sees the replica promoted within seconds.
set -euo pipefail

BASE="${REDIS_CLUSTER_BASE_PORT:-7300}"
DIR="${REDIS_CLUSTER_DIR:-${TMPDIR:-/tmp}/flash-redis-cluster-$BASE}"
TIMEOUT="${REDIS_CLUSTER_NODE_TIMEOUT:-2000}"
PORTS=()
for i in 0 1 2 3 4 5; do PORTS+=($((BASE + i))); done

nodes() {
  local out=()
  for p in "${PORTS[@]}"; do out+=("127.0.0.1:$p"); done
  (IFS=,; echo "${out[*]}")
}

# One node, in its directory.
start_node() {
  redis-server --port "$1" --bind 127.0.0.1 --daemonize yes \
    --dir "$DIR/$1" --pidfile "$DIR/$1/redis.pid" --logfile "$DIR/$1/redis.log" \
    --cluster-enabled yes --cluster-config-file nodes.conf \
    --cluster-node-timeout "$TIMEOUT" \
    --save "" --appendonly no --repl-diskless-sync-delay 0
}

up() {
  for p in "${PORTS[@]}"; do
    if redis-cli -h 127.0.0.1 -p "$p" ping >/dev/null 2>&1; then
      echo "port $p already answers: is a cluster already up? ($0 down first)" >&2
      exit 1
    fi
  done
  mkdir -p "$DIR"
  for p in "${PORTS[@]}"; do
    mkdir -p "$DIR/$p"
    rm -f "$DIR/$p/nodes.conf"
    start_node "$p"
  done
  for p in "${PORTS[@]}"; do
    for _ in $(seq 1 50); do
      redis-cli -h 127.0.0.1 -p "$p" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
  done
  local addrs=()
  for p in "${PORTS[@]}"; do addrs+=("127.0.0.1:$p"); done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$DIR/create.log"
  # Created is not ready: wait until every node agrees all slots are served.
  for _ in $(seq 1 100); do
    local ok=1
    for p in "${PORTS[@]}"; do
      redis-cli -h 127.0.0.1 -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ok=0
    done
    [ "$ok" = 1 ] && break
    sleep 0.1
  done
  # Nor are its replicas: a replica takes over only once it has synced with its master, so a
  # failover test must not kill a master before then. Wait until all three replicas are in sync.
  for _ in $(seq 1 200); do
    local synced=0
    for p in "${PORTS[@]}"; do
      redis-cli -h 127.0.0.1 -p "$p" info replication 2>/dev/null | grep -q 'master_link_status:up' &&
        synced=$((synced + 1))
    done
    [ "$synced" -ge 3 ] && break
    sleep 0.1
  done
  nodes
}

down() {
  for p in "${PORTS[@]}"; do
    local pidfile="$DIR/$p/redis.pid"
    if [ -f "$pidfile" ]; then
      local pid
      pid="$(cat "$pidfile")"
      # Only a redis-server we started: the pid file is ours and the process still is one.
      if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "redis-server .*:$p"; then
        kill "$pid" 2>/dev/null || true
      fi
    fi
  done
  for p in "${PORTS[@]}"; do
    for _ in $(seq 1 50); do
      redis-cli -h 127.0.0.1 -p "$p" ping >/dev/null 2>&1 || break
      sleep 0.1
    done
  done
  rm -rf "$DIR"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  nodes) nodes ;;
  rejoin)
    # A killed node back as a new, empty replica of <master-port> (what an operator does to
    # replace a node). Not with its old nodes.conf: without persistence it would come back as
    # an empty master of its old slots and could serve writes until it learns it lost them.
    [ -n "${2:-}" ] && [ -n "${3:-}" ] && [ -d "$DIR/$2" ] || {
      echo "usage: $0 rejoin <port of a killed node of this cluster> <port of the master to replicate>" >&2
      exit 2
    }
    rm -f "$DIR/$2/nodes.conf"
    start_node "$2"
    for _ in $(seq 1 50); do
      redis-cli -h 127.0.0.1 -p "$2" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
    redis-cli -h 127.0.0.1 -p "$2" cluster meet 127.0.0.1 "$3" >/dev/null
    master_id="$(redis-cli -h 127.0.0.1 -p "$3" cluster myid)"
    # REPLICATE needs the node to know its master, which the MEET handshake takes a moment for.
    for _ in $(seq 1 100); do
      redis-cli -h 127.0.0.1 -p "$2" cluster replicate "$master_id" 2>/dev/null | grep -q OK && exit 0
      sleep 0.1
    done
    echo "node $2 did not become a replica of $3" >&2
    exit 1
    ;;
  *)
    echo "usage: $0 up|down|nodes|rejoin <port> <master-port>" >&2
    exit 2
    ;;
esac
