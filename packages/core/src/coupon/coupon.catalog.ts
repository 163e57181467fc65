import type { CouponRow } from '../db/database.ts';
import { AppError, AppErrorCode } from '../errors.ts';
import type { Resources } from '../resources.ts';
import { findCouponCached, rememberCoupon } from './coupon.cache.ts';
import { couponMeta, type Discount, discountOf, windowClosed } from './coupon.model.ts';
import { countIssuedRows, listOpenCouponRows } from './coupon.repository.ts';
import { triggerCouponRestore } from './coupon.restore.ts';
import { issueRefusal } from './coupon.service.ts';
import { issuedCounts } from './coupon.store.ts';

/** A coupon as anyone may see it (`coupon.get`, `coupon.list`): what it gives and how many are left. */
export type PublicCoupon = {
  id: number;
  name: string;
  discount: Discount;
  totalQuantity: number;
  /** Not yet issued, from the same Redis count `coupon.issue` decides on. */
  remaining: number;
  issueStartsAt: string | null;
  issueEndsAt: string | null;
  validDays: number | null;
};

type CatalogRuntime = Pick<Resources, 'db' | 'redis' | 'keys' | 'clock' | 'couponState'>;

// Issued counts of coupons whose window closed and whose Redis state expired on purpose: final
// (nothing is issued after the window), so Postgres is asked once per coupon and process
// (couponState.finalCounts).
const FINAL_MAX_ENTRIES = 10_000;

function toPublic(row: CouponRow, issued: number): PublicCoupon {
  return {
    id: row.id,
    name: row.name,
    discount: discountOf(row),
    totalQuantity: row.total_quantity,
    remaining: Math.max(0, row.total_quantity - issued),
    issueStartsAt: row.issue_starts_at?.toISOString() ?? null,
    issueEndsAt: row.issue_ends_at?.toISOString() ?? null,
    validDays: row.valid_days,
  };
}

/**
 * The issued count of a coupon Redis does not hold. A closed window: the final count from
 * Postgres (cached). Otherwise Redis lost live state: restore it in the background and answer
 * UNAVAILABLE meanwhile, as `coupon.issue` does, rather than a count that may be short of the
 * unpersisted issuances.
 */
async function issuedWithoutRedis(rt: CatalogRuntime, row: CouponRow): Promise<number> {
  if (!windowClosed(couponMeta(row), rt.clock.now().getTime())) {
    triggerCouponRestore(rt, row.id);
    throw issueRefusal('NOT_LOADED', row.id);
  }
  const cache = rt.couponState.finalCounts;
  let count = cache.get(row.id);
  if (!count) {
    if (cache.size >= FINAL_MAX_ENTRIES) cache.clear();
    count = countIssuedRows(rt.db, row.id);
    cache.set(row.id, count);
    count.catch(() => cache.delete(row.id));
  }
  return count;
}

/**
 * `coupon.get`: the static fields from the in-process coupon cache (coupons never change once
 * created) and the remaining count from Redis, so a page polling it every second costs one
 * Redis round trip and no Postgres.
 */
export async function getCoupon(rt: CatalogRuntime, couponId: number): Promise<PublicCoupon> {
  const row = await findCouponCached(rt, couponId);
  if (!row) throw new AppError(AppErrorCode.COUPON_NOT_FOUND, 'Coupon not found', { couponId });
  const [issued] = await issuedCounts(rt.redis, [rt.keys.coupon(couponId)]);
  return toPublic(row, issued ?? (await issuedWithoutRedis(rt, row)));
}

export type CouponPage = { items: PublicCoupon[]; nextCursor: number | null };

/**
 * `coupon.list`: coupons whose issue window has not ended, soonest to open first, one Postgres
 * query for the page and one Redis round trip for every remaining count. `nextCursor` is the
 * last coupon's id, null on the last page.
 */
export async function listCoupons(
  rt: CatalogRuntime,
  page: { cursor?: number; limit: number },
): Promise<CouponPage> {
  const rows = await listOpenCouponRows(rt.db, { now: rt.clock.now(), ...page });
  for (const row of rows) rememberCoupon(rt, row);
  const counts = await issuedCounts(
    rt.redis,
    rows.map((r) => rt.keys.coupon(r.id)),
  );
  const items = await Promise.all(
    rows.map(async (row, i) => toPublic(row, counts[i] ?? (await issuedWithoutRedis(rt, row)))),
  );
  return { items, nextCursor: rows.length === page.limit ? rows[rows.length - 1]!.id : null };
}
