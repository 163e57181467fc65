import type { CouponRow } from '../db/database.ts';

/** What one drain of a coupon's pending issuances did (coupon.persist.ts). */
export type DrainResult = { batches: number; persisted: number; inserted: number };

/**
 * What the coupon area keeps in memory, one per runtime (built in runtime.ts): caches and the
 * work running in this process. A process can hold several runtimes (tests do), each with its
 * own database and Redis prefix, so none of this lives in a module.
 */
/** A coupon row (or its absence) as the cache keeps it, until `until` (ms epoch). */
export type CachedCoupon = { row: Promise<CouponRow | undefined>; until: number };

export type CouponState = {
  /** Coupon rows by id, and lookups in flight (coupon.cache.ts). */
  rows: Map<number, CachedCoupon>;
  /** Final issued counts of coupons whose window closed and whose Redis state expired (coupon.catalog.ts). */
  finalCounts: Map<number, Promise<number>>;
  /** Drains running here, per coupon: a second request joins the running one (coupon.persist.ts). */
  drains: Map<number, { promise: Promise<DrainResult>; again: boolean }>;
  /** Restores running here, per coupon: a crowd hitting a lost coupon starts one (coupon.restore.ts). */
  restoring: Map<number, Promise<unknown>>;
};

export function createCouponState(): CouponState {
  return { rows: new Map(), finalCounts: new Map(), drains: new Map(), restoring: new Map() };
}
