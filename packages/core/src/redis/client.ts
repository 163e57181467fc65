import { Redis, type RedisOptions } from 'ioredis';

export type { Redis } from 'ioredis';

/**
 * Two kinds of connection, because BullMQ and request handlers want opposite things:
 * - `command`: request paths and queue producers. While Redis is down a call fails at once
 *   (no offline queue, one retry) so a request answers UNAVAILABLE instead of hanging.
 * - `worker`: BullMQ workers, which must wait out outages (`maxRetriesPerRequest: null`).
 */
export type RedisRole = 'command' | 'worker';

export function redisOptions(role: RedisRole): RedisOptions {
  const common: RedisOptions = {
    connectTimeout: 2000,
    // Reconnect quickly but never give up: Redis coming back must heal the process on its own.
    retryStrategy: (times) => Math.min(50 * times, 1000),
  };
  if (role === 'worker') return { ...common, maxRetriesPerRequest: null };
  return {
    ...common,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    commandTimeout: 3000,
  };
}

/**
 * A connection that sends every command issued during one turn of the event loop in one write:
 * under a flash crowd that is one system call for many requests instead of one each. It wraps
 * `sendCommand` (public) to cork the socket (`Writable.cork`) until the turn ends.
 *
 * Why not ioredis' own `enableAutoPipelining`, which batches the same way: it gathers each turn's
 * commands in a `Pipeline`, and finished pipelines kept the next ones' commands reachable past
 * the young generation, which made young collections copy them. Here each command stays a plain
 * command, answered on its own. The measured difference is in docs/adr/0006.
 *
 * Not the group commit (batch/group-commit.ts) either, on purpose: nothing here is committed or
 * answered as a batch (ioredis answers each command), so there is no per-item outcome to hand
 * back; wrapping each command in a queued item and a promise would cost more than the write it
 * saves (docs/adr/0300-group-commit.md).
 */
export function coalesceWrites(redis: Redis): void {
  let corked: Redis['stream'] | undefined;
  const flush = () => {
    const socket = corked;
    corked = undefined;
    socket?.uncork();
  };
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = (command, stream) => {
    // Only a ready connection writes to its socket; before that ioredis queues or refuses.
    if (corked === undefined && redis.status === 'ready' && redis.stream) {
      corked = redis.stream;
      corked.cork();
      setImmediate(flush);
    }
    return send(command, stream);
  };
}

export function createRedis(url: string, role: RedisRole, name = 'flash-sale'): Redis {
  const redis = new Redis(url, { ...redisOptions(role), connectionName: name, lazyConnect: true });
  if (role === 'command') coalesceWrites(redis);
  // Errors surface on the commands that fail; without a listener ioredis would log each one.
  redis.on('error', () => {});
  return redis;
}

/** Connects and waits until the connection is ready (commands fail fast without an offline queue). */
export async function connectRedis(url: string, role: RedisRole, name?: string): Promise<Redis> {
  const redis = createRedis(url, role, name);
  await redis.connect();
  return redis;
}

/**
 * Deletes every key matching `pattern` (SCAN + UNLINK, never KEYS): how test runs, load tests
 * and benchmarks remove their own key prefix from a shared Redis.
 */
export async function deleteKeysMatching(url: string, pattern: string): Promise<void> {
  const redis = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
