import { type ChargeBatcher, createChargeBatcher } from './balance/balance.batch.ts';
import type { GroupCommit } from './batch/group-commit.ts';
import { type Clock, systemClock } from './clock.ts';
import type { Config } from './config.ts';
import { createCouponState } from './coupon/coupon.state.ts';
import { createDb, DEFAULT_DB_POOL_SIZE } from './db/client.ts';
import { createOrderBatcher, type OrderBatcher } from './order/order.batch.ts';
import { createOrderSaver, type UnsavedOrderRef } from './order/order.persist.ts';
import { createOrderState } from './order/order.state.ts';
import { createPaymentBatcher, type PaymentBatcher } from './payment/payment.batch.ts';
import { createProductState } from './product/product.state.ts';
import { createQueues } from './queue/queues.ts';
import { createJobTriggers } from './queue/throttled-add.ts';
import { createRankingState } from './ranking/ranking.state.ts';
import { connectRedisClient, isCluster, type RedisClient } from './redis/cluster.ts';
import { createKeys } from './redis/keys.ts';
import { createReplicaWaiter } from './redis/replica-wait.ts';
import type { Resources } from './resources.ts';

/**
 * The composition root: everything a process (API or worker) shares, built once here and closed
 * on shutdown. Service functions take the part they use as their first argument (resources.ts);
 * every cache, batcher and piece of work in flight is built in `createRuntime` below, so a
 * reader finds all of the process' state in this one function.
 */
export type Runtime = Resources & {
  /** Group commit of orders without an idempotency key (order.batch.ts). */
  orderBatcher: OrderBatcher;
  /** Group commit of payments (payment.batch.ts). */
  paymentBatcher: PaymentBatcher;
  /** Group commit of charges (balance.batch.ts). */
  chargeBatcher: ChargeBatcher;
  /** Saves orders still waiting in Redis that a payment needs now, a turn's worth at once. */
  orderSaver: GroupCommit<UnsavedOrderRef, void>;
  close(): Promise<void>;
};

export async function createRuntime(
  config: Config,
  options: { clock?: Clock; name?: string; dbPoolSize?: number; dbQueryDeadlineMillis?: number } = {},
): Promise<Runtime> {
  const name = options.name ?? 'flash-sale';
  const db = createDb(config.databaseUrl, {
    applicationName: name,
    max: options.dbPoolSize,
    queryDeadlineMillis: options.dbQueryDeadlineMillis,
  });
  let redis: RedisClient;
  let queueRedis: RedisClient;
  try {
    redis = await connectRedisClient(config, 'command', name);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  try {
    // The queue producers get a connection of their own: BullMQ defines its ~60 scripts on the
    // connection it is given, and ioredis copies every defined script onto each pipeline or
    // transaction it builds (a cost on every Redis call in the profiles while the request
    // connection built one per event-loop turn).
    queueRedis = await connectRedisClient(config, 'command', `${name}-queues`);
  } catch (err) {
    redis.disconnect();
    await db.destroy();
    throw err;
  }
  const keys = createKeys(config.redisKeyPrefix);
  const queues = createQueues(queueRedis, (queue) => keys.bullPrefixOf(queue, isCluster(config)));
  // Order batches take at most a quarter of the pool (two of the default twenty): payments,
  // charges, keyed orders and an inventory rebuild (two connections) always find one.
  const poolSize = options.dbPoolSize ?? DEFAULT_DB_POOL_SIZE;
  const orderBatcher = createOrderBatcher(db, {
    maxInFlight: Math.max(1, Math.min(2, Math.floor(poolSize / 4))),
  });
  const clock = options.clock ?? systemClock;
  // Everything the areas keep in memory: built here, once per runtime, so a reader sees all of it.
  const jobTriggers = createJobTriggers();
  const couponState = createCouponState();
  const orderState = createOrderState();
  const productState = createProductState();
  const rankingState = createRankingState();
  const replicaWaiter = createReplicaWaiter(redis, config.redisWait);
  // Payment batches too take at most two connections, for the same reason.
  const paymentBatcher = createPaymentBatcher(
    { db, redis, keys, queues, clock, jobTriggers, couponState },
    { maxInFlight: Math.max(1, Math.min(2, Math.floor(poolSize / 4))) },
  );
  const orderSaver = createOrderSaver({ db, redis, keys });
  // Charge batches too: at most two connections.
  const chargeBatcher = createChargeBatcher(db, {
    maxInFlight: Math.max(1, Math.min(2, Math.floor(poolSize / 4))),
  });
  return {
    config,
    db,
    redis,
    keys,
    replicaWaiter,
    queues,
    clock,
    jobTriggers,
    couponState,
    orderState,
    productState,
    rankingState,
    orderBatcher,
    paymentBatcher,
    orderSaver,
    chargeBatcher,
    async close() {
      // First: open batches still need Redis (holds, post-commit steps) and the pool (their commit).
      await Promise.all([orderBatcher.close(), paymentBatcher.close(), chargeBatcher.close()]);
      await orderSaver.close();
      await queues.close();
      await Promise.allSettled([redis.quit(), queueRedis.quit(), db.destroy()]);
    },
  };
}
