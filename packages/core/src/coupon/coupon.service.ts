import { AppError, AppErrorCode } from '../errors.ts';
import { callerLimits, enforceRateLimit, rateLimitedError } from '../rate-limit/rate-limit.service.ts';
import type { Resources } from '../resources.ts';
import { findCouponCached, rememberCoupon } from './coupon.cache.ts';
import {
  couponMeta,
  type Discount,
  discountOf,
  expiresAtFor,
  liveHorizon,
  windowClosed,
} from './coupon.model.ts';
import { requestCouponDrain, revokeUnreplicatedIssuance } from './coupon.persist.ts';
import {
  findCouponRow,
  findUserIssuedCoupon,
  insertCoupon,
  listUserCouponRows,
  type NewCoupon,
} from './coupon.repository.ts';
import { triggerCouponRestore } from './coupon.restore.ts';
import { type IssueReply, issuedAtInRedis, runIssueCoupon, runRestoreCoupon } from './coupon.store.ts';

export type { Discount } from './coupon.model.ts';
// For the reconciler and `pnpm coupons:rebuild`: which coupons may hold Redis state, the marker
// of a loaded issued hash, and the restore of every coupon.
export { liveHorizon } from './coupon.model.ts';
export { ensureIssuedCouponRow, listLiveCouponIds } from './coupon.repository.ts';
export { restoreAllCoupons } from './coupon.restore.ts';
export { ISSUED_MARKER } from './coupon.store.ts';

export type CreateCouponInput = NewCoupon;

/**
 * `admin.coupon.create`: Postgres first (the record), then the Redis state the hot path reads.
 * If the Redis step fails the coupon still exists; the first issue finds it missing, restores
 * it and answers UNAVAILABLE meanwhile, so the creation is not reported as failed (a retry by
 * the admin would create a second coupon).
 */
export async function createCoupon(
  rt: Pick<Resources, 'db' | 'redis' | 'keys' | 'clock' | 'couponState'>,
  input: CreateCouponInput,
): Promise<{ couponId: number }> {
  const row = await insertCoupon(rt.db, input);
  rememberCoupon(rt, row);
  const meta = couponMeta(row);
  if (meta.expireAtMs === 0 || meta.expireAtMs > rt.clock.now().getTime()) {
    await runRestoreCoupon(rt.redis, rt.keys.coupon(row.id), meta, []).catch(() => {});
  }
  return { couponId: row.id };
}

export type IssuedCoupon = { couponId: number; status: 'ISSUED'; issuedAt: string };

/**
 * `coupon.issue`: one Lua script checks the caller's rate limits, decides and records (one Redis
 * round trip, no Postgres); the drain request that follows is not awaited. Postgres is read only
 * when Redis lacks the coupon. The limits are per coupon: each coupon's limiters live in its
 * own cluster slot, next to the state the script decides on.
 */
export async function issueCoupon(
  rt: Pick<
    Resources,
    'config' | 'db' | 'redis' | 'keys' | 'replicaWaiter' | 'clock' | 'queues' | 'jobTriggers' | 'couponState'
  >,
  userId: number,
  couponId: number,
  /** A client's call, limited per user and per address (config.rateLimit); without it, not limited. */
  caller?: { ip: string },
): Promise<IssuedCoupon> {
  const nowMs = rt.clock.now().getTime();
  const reply = await runIssueCoupon(rt.redis, rt.keys.coupon(couponId), {
    userId,
    nowMs,
    limits: caller ? callerLimits(rt, { userId, ip: caller.ip }) : undefined,
    wait: rt.replicaWaiter,
  });
  switch (reply.code) {
    case 'OK':
      requestCouponDrain(rt, couponId);
      return { couponId, status: 'ISSUED', issuedAt: new Date(nowMs).toISOString() };
    case 'UNREPLICATED':
      // Answered UNAVAILABLE, so it is taken back first (when it still can be), and only then
      // answered: a retry finds the final state. If the revocation fails (a store down), the
      // issuance may stay; a retry then answers COUPON_ALREADY_ISSUED, never a second coupon.
      await revokeUnreplicatedIssuance(rt, couponId, {
        userId,
        issuedAtMs: nowMs,
        pendingId: reply.pendingId,
      }).catch(() => {});
      throw new AppError(
        AppErrorCode.UNAVAILABLE,
        'No Redis replica confirmed the issuance in time, please retry',
        {
          couponId,
        },
      );
    case 'RATE_LIMITED':
      throw rateLimitedError(reply.limit, reply.retryAfterMs);
    case 'NOT_LOADED':
      // The one path that reaches Postgres. The script's limits are per coupon, so a caller could
      // send each call to another unknown id with a fresh allowance: here the procedure-wide
      // limits apply too, and a flood of made-up ids costs Postgres a bounded rate per caller.
      if (caller) await enforceRateLimit(rt, { procedure: 'coupon.issue', userId, ip: caller.ip });
      return notLoaded(rt, couponId, nowMs);
    default:
      throw issueRefusal(reply.code, couponId);
  }
}

/** The one mapping from the issue script's refusals to the contract's errors. */
export function issueRefusal(
  code: Exclude<IssueReply['code'], 'OK' | 'RATE_LIMITED'>,
  couponId: number,
): AppError {
  switch (code) {
    case 'NOT_LOADED':
      return new AppError(AppErrorCode.UNAVAILABLE, 'Coupon is being restored, please retry', { couponId });
    case 'NOT_ACTIVE':
      return new AppError(AppErrorCode.COUPON_NOT_ACTIVE, 'Coupon is outside its issue window', { couponId });
    case 'ALREADY_ISSUED':
      return new AppError(AppErrorCode.COUPON_ALREADY_ISSUED, 'Coupon already issued to this user', {
        couponId,
      });
    case 'SOLD_OUT':
      return new AppError(AppErrorCode.COUPON_SOLD_OUT, 'Coupon is sold out', { couponId });
  }
}

/**
 * Redis does not hold the coupon: unknown id (COUPON_NOT_FOUND), a window closed long ago whose
 * state expired on purpose (COUPON_NOT_ACTIVE), or lost state: restore it in the background and
 * fail closed with UNAVAILABLE until it is back.
 */
async function notLoaded(
  rt: Pick<Resources, 'db' | 'redis' | 'keys' | 'clock' | 'couponState'>,
  couponId: number,
  nowMs: number,
): Promise<never> {
  const coupon = await findCouponCached(rt, couponId);
  if (!coupon) throw new AppError(AppErrorCode.COUPON_NOT_FOUND, 'Coupon not found', { couponId });
  if (windowClosed(couponMeta(coupon), nowMs)) throw issueRefusal('NOT_ACTIVE', couponId);
  triggerCouponRestore(rt, couponId);
  throw issueRefusal('NOT_LOADED', couponId);
}

export type CouponStatus = 'AVAILABLE' | 'USED' | 'EXPIRED';
export type MyCoupon = {
  couponId: number;
  name: string;
  discount: Discount;
  status: CouponStatus;
  issuedAt: string;
  /** When this user's coupon stops being usable (`validDays` after its issue); null: never. */
  expiresAt: string | null;
};

/**
 * `coupon.mine`: the user's rows in Postgres, plus issuances Redis has answered that the worker
 * has not persisted yet (read-your-writes). Redis is asked only about live coupons without a
 * row for this user (one pipelined HGET each); `issued` keeps its entries after persistence,
 * so a coupon is found in one place or the other at every moment and listed once.
 */
export async function listMyCoupons(
  rt: Pick<Resources, 'db' | 'redis' | 'keys' | 'clock'>,
  userId: number,
): Promise<{ items: MyCoupon[] }> {
  const now = rt.clock.now();
  const rows = await listUserCouponRows(rt.db, userId, liveHorizon(now.getTime()));
  const unpersisted = rows.filter((r) => r.issuedAt === null);
  const inRedis = await issuedAtInRedis(
    rt.redis,
    unpersisted.map((r) => rt.keys.coupon(r.couponId)),
    userId,
  );
  const items: (MyCoupon & { at: number })[] = [];
  let next = 0;
  for (const row of rows) {
    let issuedAt = row.issuedAt;
    let expiresAt = row.expiresAt;
    if (issuedAt === null) {
      const ms = inRedis[next++];
      if (ms === undefined) continue;
      issuedAt = new Date(ms);
      expiresAt = expiresAtFor(issuedAt, row.validDays);
    }
    const status: CouponStatus =
      row.status === 'USED'
        ? 'USED'
        : expiresAt && expiresAt.getTime() <= now.getTime()
          ? 'EXPIRED'
          : 'AVAILABLE';
    items.push({
      couponId: row.couponId,
      name: row.name,
      discount: { type: row.discountType, value: row.discountValue },
      status,
      issuedAt: issuedAt.toISOString(),
      expiresAt: expiresAt ? expiresAt.toISOString() : null,
      at: issuedAt.getTime(),
    });
  }
  // Newest first; the coupon id breaks ties so the order is stable.
  items.sort((a, b) => b.at - a.at || b.couponId - a.couponId);
  return { items: items.map(({ at: _at, ...item }) => item) };
}

export type HeldCoupon = {
  couponId: number;
  name: string;
  discount: Discount;
  issuedAt: Date;
  expiresAt: Date | null;
  status: 'AVAILABLE' | 'USED';
};

/**
 * For the order flow: the coupon as this user holds it, from Postgres or, when the worker has
 * not persisted the issuance yet, from the Redis issued hash (then AVAILABLE). Expiry is left to
 * the caller (`expiresAt`). Undefined when the user does not hold it.
 */
export async function findHeldCoupon(
  rt: Pick<Resources, 'db' | 'redis' | 'keys' | 'couponState'>,
  userId: number,
  couponId: number,
): Promise<HeldCoupon | undefined> {
  const row = await findUserIssuedCoupon(rt.db, userId, couponId);
  if (row) {
    return {
      couponId,
      name: row.name,
      discount: { type: row.discountType, value: row.discountValue },
      issuedAt: row.issuedAt,
      expiresAt: row.expiresAt,
      status: row.status,
    };
  }
  const [issuedAtMs] = await issuedAtInRedis(rt.redis, [rt.keys.coupon(couponId)], userId);
  if (issuedAtMs === undefined) return undefined;
  const coupon = (await findCouponCached(rt, couponId)) ?? (await findCouponRow(rt.db, couponId));
  if (!coupon) return undefined;
  const issuedAt = new Date(issuedAtMs);
  return {
    couponId,
    name: coupon.name,
    discount: discountOf(coupon),
    issuedAt,
    expiresAt: expiresAtFor(issuedAt, coupon.valid_days),
    status: 'AVAILABLE',
  };
}
