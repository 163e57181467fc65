import { masters, type RedisClient } from '../redis/cluster.ts';
import type { Keys } from '../redis/keys.ts';
import type { Backlog } from './metrics.repository.ts';

function infoField(info: string, field: string): number {
  const match = new RegExp(`^${field}:([\\d.]+)`, 'm').exec(info);
  return match ? Number(match[1]) : 0;
}

export type RedisUsage = {
  usedMemoryBytes: number;
  /** 0 when no `maxmemory` is set (Redis then grows until the machine refuses). */
  maxMemoryBytes: number;
  /** used_cpu_sys + used_cpu_user since the server started. */
  cpuSeconds: number;
};

/** Memory and CPU of Redis, summed over the masters on a cluster (replicas only replay). */
export async function redisUsage(redis: RedisClient): Promise<RedisUsage> {
  const usage: RedisUsage = { usedMemoryBytes: 0, maxMemoryBytes: 0, cpuSeconds: 0 };
  for (const node of masters(redis)) {
    const [memory, cpu] = await Promise.all([node.info('memory'), node.info('cpu')]);
    usage.usedMemoryBytes += infoField(memory, 'used_memory');
    usage.maxMemoryBytes += infoField(memory, 'maxmemory');
    usage.cpuSeconds += infoField(cpu, 'used_cpu_sys') + infoField(cpu, 'used_cpu_user');
  }
  return usage;
}

export type CouponProgress = { couponId: number; issued: number; pending: Backlog };

/**
 * Per coupon: how many were issued (the size of its issued hash, which survives API restarts)
 * and its issuances not yet persisted to Postgres (the pending stream; the oldest entry's id is
 * its time in ms).
 */
export async function couponProgress(
  redis: RedisClient,
  keys: Keys,
  couponIds: number[],
  nowMs: number,
): Promise<CouponProgress[]> {
  return Promise.all(
    couponIds.map(async (couponId) => {
      const k = keys.coupon(couponId);
      const [issued, items, first] = await Promise.all([
        redis.hlen(k.issued),
        redis.xlen(k.pending),
        redis.xrange(k.pending, '-', '+', 'COUNT', 1),
      ]);
      const oldestMs = first[0] ? Number(first[0][0].split('-')[0]) : nowMs;
      // The hash's "_" field marks it loaded (issueCoupon-5.lua); an absent hash is a coupon not loaded.
      return {
        couponId,
        issued: Math.max(0, issued - 1),
        pending: { items, oldestSeconds: Math.max(0, (nowMs - oldestMs) / 1000) },
      };
    }),
  );
}

/** Orders expired by the worker's sweeps, counted in Redis so every worker process adds to one total. */
export async function countExpiredOrders(redis: RedisClient, keys: Keys, n: number): Promise<void> {
  if (n > 0) await redis.incrby(keys.ordersExpiredTotal, n);
}

export async function expiredOrders(redis: RedisClient, keys: Keys): Promise<number> {
  return Number((await redis.get(keys.ordersExpiredTotal)) ?? 0);
}
