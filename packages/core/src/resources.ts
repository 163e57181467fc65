import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { CouponState } from './coupon/coupon.state.ts';
import type { Db } from './db/client.ts';
import type { OrderState } from './order/order.state.ts';
import type { ProductState } from './product/product.state.ts';
import type { Queues } from './queue/queues.ts';
import type { JobTriggers } from './queue/throttled-add.ts';
import type { RankingState } from './ranking/ranking.state.ts';
import type { RedisClient } from './redis/cluster.ts';
import type { Keys } from './redis/keys.ts';
import type { ReplicaWaiter } from './redis/replica-wait.ts';

/**
 * What the areas are built from: connections, settings, the clock, and the state each area keeps
 * in memory. The composition root (runtime.ts) builds one set per process (or per test); each
 * service function takes the few of these it uses (`Pick<Resources, 'db' | 'redis'>`), so a
 * caller can see what it touches, and nothing here imports an area's service: the areas depend
 * on this leaf, never on the root that builds them.
 */
export type Resources = {
  config: Config;
  db: Db;
  /** One Redis or a Cluster (REDIS_CLUSTER_NODES). */
  redis: RedisClient;
  keys: Keys;
  /** Runs the scripts whose answers must reach replicas first (REDIS_WAIT_REPLICAS), owning their WAIT lanes. */
  replicaWaiter: ReplicaWaiter;
  queues: Queues;
  clock: Clock;
  /** Job adds throttled per key (throttled-add.ts): coupon drains, order saves, outbox exports. */
  jobTriggers: JobTriggers;
  /** Coupon rows, final counts, drains and restores running here (coupon.state.ts). */
  couponState: CouponState;
  /** Products listed as active, and the drain of unsaved orders running here (order.state.ts). */
  orderState: OrderState;
  /** Product names and prices, inventory rebuilds and loads running here (product.state.ts). */
  productState: ProductState;
  /** Ranking reads and rebuilds in flight (ranking.state.ts). */
  rankingState: RankingState;
};
