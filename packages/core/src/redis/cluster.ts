import { Cluster, type Redis } from 'ioredis';
import type { RedisNode } from '../config.ts';
import { coalesceWrites, createRedis, type RedisRole, redisOptions } from './client.ts';

/**
 * Where the service's Redis is: one server (`url`) or, when `clusterNodes` is set, a Redis
 * Cluster reached through those seed nodes (REDIS_CLUSTER_NODES takes precedence).
 */
export type RedisTarget = { redisUrl: string; redisClusterNodes?: RedisNode[] | undefined };

/**
 * Either kind of connection. Code that only sends keyed commands, scripts or single-slot
 * pipelines works on both; code that scans or spans slots goes through `masters`.
 */
export type RedisClient = Redis | Cluster;

export function isCluster(target: RedisTarget): boolean {
  return (target.redisClusterNodes?.length ?? 0) > 0;
}

/**
 * A `Cluster` when the target is one, else `createRedis`'s connection. The cluster keeps the
 * same fail-fast rule for `command` connections (no offline queue), so a slot whose master is
 * being failed over answers UNAVAILABLE instead of hanging the request.
 */
export function createRedisClient(target: RedisTarget, role: RedisRole, name = 'flash-sale'): RedisClient {
  if (!isCluster(target)) return createRedis(target.redisUrl, role, name);
  // The cluster owns each node's offline queue and reconnects; the rest of the role applies.
  const { enableOfflineQueue: _queue, retryStrategy: _retry, ...node } = redisOptions(role);
  const cluster = new Cluster(target.redisClusterNodes!, {
    lazyConnect: true,
    // A node connection is opened on its first command and must queue that first burst;
    // failing fast is the cluster's job (its own offline queue below), with commandTimeout
    // bounding a dead master.
    redisOptions: { ...node, connectionName: name },
    enableOfflineQueue: role === 'worker',
    // Keep asking for the slot map while a failover is under way; never give up for good.
    clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    ...(role === 'command' ? { maxRedirections: 4 } : {}),
  });
  cluster.on('error', () => {});
  // Each master's request connection writes a turn's commands in one write, as one Redis's does
  // (docs/adr/0006); the cluster creates these connections as it learns the nodes ('+node').
  if (role === 'command') cluster.on('+node', (node: Redis) => coalesceWrites(node));
  return cluster;
}

export async function connectRedisClient(
  target: RedisTarget,
  role: RedisRole,
  name?: string,
): Promise<RedisClient> {
  const client = createRedisClient(target, role, name);
  await client.connect();
  return client;
}

/**
 * The servers holding the data: the connection itself on one Redis, each master on a
 * cluster. SCAN, KEYS and cross-slot clean-ups must run on every one of them.
 */
export function masters(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

/**
 * Deletes every key matching `pattern` on every master (SCAN + UNLINK, never KEYS), one
 * slot's keys per UNLINK so it also works on a cluster.
 */
export async function deleteKeysIn(target: RedisTarget, pattern: string): Promise<void> {
  const client = createRedisClient(target, 'worker', 'flash-sale-cleanup');
  try {
    await client.connect();
    for (const node of masters(client)) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        // On a cluster one UNLINK may only name keys of one slot: send one per key (pipelined).
        if (keys.length) await Promise.all(keys.map((k) => node.unlink(k)));
      } while (cursor !== '0');
    }
  } finally {
    client.disconnect();
  }
}

export { Cluster };
