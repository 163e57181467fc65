/**
 * The readings the Prometheus endpoint and the jobs report: Postgres backlogs and counters
 * (metrics.repository.ts) and Redis usage and progress (metrics.store.ts). Callers read them
 * through here; how each is measured stays behind it.
 */
export {
  type Backlog,
  COUPONS_REPORTED,
  databaseTransactions,
  postgresBacklogs,
  recentCoupons,
  sumOrderUnits,
} from './metrics.repository.ts';
export {
  type CouponProgress,
  countExpiredOrders,
  couponProgress,
  expiredOrders,
  type RedisUsage,
  redisUsage,
} from './metrics.store.ts';
