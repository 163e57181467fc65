import type { CouponRow } from '../db/database.ts';
import type { Resources } from '../resources.ts';
import { findCouponRow } from './coupon.repository.ts';
import type { CachedCoupon } from './coupon.state.ts';

/** Coupon rows never change once created, so a found row can be kept a while. */
const FOUND_TTL_MS = 60_000;
/** Short, so a coupon created elsewhere is seen soon, yet a flood of unknown ids costs one query a second. */
const MISSING_TTL_MS = 1_000;
const MAX_ENTRIES = 10_000;

/**
 * A coupon row by id, cached in-process. Concurrent lookups of one id share one query, so a
 * crowd hitting an unknown or not-loaded coupon reaches Postgres once, not once per request.
 */
export function findCouponCached(
  rt: Pick<Resources, 'db' | 'couponState'>,
  couponId: number,
): Promise<CouponRow | undefined> {
  const cache = rt.couponState.rows;
  const now = Date.now();
  const hit = cache.get(couponId);
  if (hit && hit.until > now) return hit.row;
  if (cache.size >= MAX_ENTRIES) cache.clear();
  const entry: CachedCoupon = { row: findCouponRow(rt.db, couponId), until: Number.POSITIVE_INFINITY };
  cache.set(couponId, entry);
  entry.row.then(
    (row) => {
      entry.until = Date.now() + (row ? FOUND_TTL_MS : MISSING_TTL_MS);
    },
    // A failed lookup (Postgres down) is not an answer: the next caller asks again.
    () => {
      if (cache.get(couponId) === entry) cache.delete(couponId);
    },
  );
  return entry.row;
}

/** Seeds the cache with a row just written (so its creator never sees a stale "missing"). */
export function rememberCoupon(rt: Pick<Resources, 'couponState'>, row: CouponRow): void {
  rt.couponState.rows.set(row.id, { row: Promise.resolve(row), until: Date.now() + FOUND_TTL_MS });
}
