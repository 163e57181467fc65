import type { Resources } from '../resources.ts';
import { couponMeta } from './coupon.model.ts';
import {
  findCouponRow,
  listCouponIdsAfter,
  listIssuedUsers,
  lockCouponForRestore,
} from './coupon.repository.ts';
import { isCouponLoaded, runRestoreCoupon } from './coupon.store.ts';

/**
 * Rebuilding a coupon's Redis state from Postgres after Redis lost it (restart without the
 * data, FLUSHALL). Until then the issue script answers NOT_LOADED and `coupon.issue` answers
 * UNAVAILABLE: nothing is issued from missing state.
 *
 * Safe at any moment, which is why the API runs it automatically: the script loads only when
 * meta or the issued marker is absent, so it never overwrites a live coupon, and it counts
 * every issuance Postgres or Redis still knows (rows, `issued`, `pending`), so the quantity
 * left is never more than the truth. Issuances answered but not yet persisted when Redis lost
 * its data are gone with it; Redis runs with AOF fsync every second (docker-compose.yml) to
 * keep that to about one second of issuances.
 */
export type RestoreOutcome =
  /** Meta and the issued hash were loaded from Postgres. */
  | 'RESTORED'
  /** Redis already held the coupon; nothing changed. */
  | 'ALREADY_LOADED'
  /** The window closed more than the retention ago: its state expired on purpose and stays gone. */
  | 'RETIRED'
  | 'NOT_FOUND';

export async function restoreCoupon(
  rt: Pick<Resources, 'db' | 'redis' | 'keys' | 'clock'>,
  couponId: number,
): Promise<{ outcome: RestoreOutcome; issued?: number }> {
  const keys = rt.keys.coupon(couponId);
  if (await isCouponLoaded(rt.redis, keys)) return { outcome: 'ALREADY_LOADED' };
  return rt.db.transaction().execute(async (trx) => {
    // Holds off persistence batches of this coupon, so rows + pending are complete (see the lock).
    await lockCouponForRestore(trx, couponId);
    const coupon = await findCouponRow(trx, couponId);
    if (!coupon) return { outcome: 'NOT_FOUND' as const };
    const meta = couponMeta(coupon);
    if (meta.expireAtMs !== 0 && meta.expireAtMs <= rt.clock.now().getTime())
      return { outcome: 'RETIRED' as const };
    const rows = await listIssuedUsers(trx, couponId);
    const { restored, issuedCount } = await runRestoreCoupon(rt.redis, keys, meta, rows);
    return { outcome: restored ? ('RESTORED' as const) : ('ALREADY_LOADED' as const), issued: issuedCount };
  });
}

/**
 * Starts a restore in the background unless one for this coupon is already running here
 * (couponState.restoring, per runtime): a crowd hitting a lost coupon starts one.
 */
export function triggerCouponRestore(
  rt: Pick<Resources, 'db' | 'redis' | 'keys' | 'clock' | 'couponState'>,
  couponId: number,
): void {
  const inFlight = rt.couponState.restoring;
  if (inFlight.has(couponId)) return;
  const promise = restoreCoupon(rt, couponId)
    // A failed restore (a store down) is retried by the next request that finds the coupon missing.
    .catch(() => {})
    .finally(() => inFlight.delete(couponId));
  inFlight.set(couponId, promise);
}

/** `pnpm coupons:rebuild`: restores every coupon (or the given ones); loaded coupons are left alone. */
export async function restoreAllCoupons(
  rt: Pick<Resources, 'db' | 'redis' | 'keys' | 'clock'>,
  onResult: (couponId: number, outcome: RestoreOutcome, issued?: number) => void = () => {},
  couponIds?: number[],
): Promise<Record<RestoreOutcome, number>> {
  const counts: Record<RestoreOutcome, number> = { RESTORED: 0, ALREADY_LOADED: 0, RETIRED: 0, NOT_FOUND: 0 };
  const restoreOne = async (id: number) => {
    const { outcome, issued } = await restoreCoupon(rt, id);
    counts[outcome] += 1;
    onResult(id, outcome, issued);
  };
  if (couponIds) {
    for (const id of couponIds) await restoreOne(id);
    return counts;
  }
  for (let page = await listCouponIdsAfter(rt.db, 0, 500); page.length > 0; ) {
    for (const id of page) await restoreOne(id);
    page = await listCouponIdsAfter(rt.db, page[page.length - 1]!, 500);
  }
  return counts;
}
