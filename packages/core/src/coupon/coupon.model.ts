import type { CouponRow, DiscountType } from '../db/database.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * How long a coupon's Redis state (meta and the issued hash) outlives the end of its issue
 * window. Expiring it then is safe: after `issueEndsAt` nobody can be issued the coupon, the
 * issue path answers COUPON_NOT_ACTIVE from Postgres alone once the state is gone, and every
 * issuance has long been persisted (the sweep drains within seconds; `pending` itself carries
 * no expiry and is deleted by the drain once empty). The same horizon bounds which coupons
 * `coupon.mine` and the persistence sweep look at in Redis. Coupons without an end keep their
 * state while they can still be issued, i.e. for as long as they exist.
 */
export const COUPON_REDIS_RETENTION_MS = 7 * DAY_MS;

export type Discount = { type: DiscountType; value: number };

/** What the hot path needs from a coupon, as written into its Redis `meta` hash. */
export type CouponMeta = {
  total: number;
  /** ms epoch, 0 = open from the start */
  startsAtMs: number;
  /** ms epoch (exclusive), 0 = never closes */
  endsAtMs: number;
  /** 0 = issued coupons never expire */
  validDays: number;
  /** when meta and issued expire (ms epoch), 0 = never */
  expireAtMs: number;
};

export function couponMeta(
  row: Pick<CouponRow, 'total_quantity' | 'issue_starts_at' | 'issue_ends_at' | 'valid_days'>,
): CouponMeta {
  const endsAtMs = row.issue_ends_at?.getTime() ?? 0;
  return {
    total: row.total_quantity,
    startsAtMs: row.issue_starts_at?.getTime() ?? 0,
    endsAtMs,
    validDays: row.valid_days ?? 0,
    expireAtMs: endsAtMs === 0 ? 0 : endsAtMs + COUPON_REDIS_RETENTION_MS,
  };
}

/** True once the issue window has closed for good (nothing can be issued any more). */
export function windowClosed(meta: CouponMeta, nowMs: number): boolean {
  return meta.endsAtMs !== 0 && nowMs >= meta.endsAtMs;
}

/** An issued coupon is usable for `validDays` days from its issue time; null = forever. */
export function expiresAtFor(issuedAt: Date, validDays: number | null): Date | null {
  return validDays === null ? null : new Date(issuedAt.getTime() + validDays * DAY_MS);
}

export function discountOf(row: Pick<CouponRow, 'discount_type' | 'discount_value'>): Discount {
  return { type: row.discount_type, value: row.discount_value };
}

/**
 * Oldest `issue_ends_at` of a coupon whose Redis state may still exist (and so may hold
 * issuances not yet in Postgres).
 */
export function liveHorizon(nowMs: number): Date {
  return new Date(nowMs - COUPON_REDIS_RETENTION_MS);
}
