import { drainCouponPending } from '@flash/core/coupon/coupon.persist';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createTestServer, type TestServer } from '../../../test/support.ts';

describe('a flash crowd racing for coupons', () => {
  let s: TestServer;
  let admin: string;
  const tokens = new Map<number, string>();
  beforeAll(async () => {
    s = await createTestServer();
    admin = await s.token(1, { admin: true });
  });
  afterAll(() => s.cleanup());

  const tokenOf = async (userId: number) => {
    let token = tokens.get(userId);
    if (!token) {
      token = await s.token(userId);
      tokens.set(userId, token);
    }
    return token;
  };
  const createCoupon = async (totalQuantity: number): Promise<number> =>
    (
      await call(
        s.app,
        'mutation',
        'admin.coupon.create',
        { name: 'Flash', discount: { type: 'FIXED', value: 5_000 }, totalQuantity },
        admin,
      )
    ).body.result.data.couponId;
  const issue = async (couponId: number, userId: number) =>
    call(s.app, 'mutation', 'coupon.issue', { couponId }, await tokenOf(userId));
  const persistedUsers = async (couponId: number) =>
    (
      await s.rt.db
        .selectFrom('issued_coupons')
        .select('user_id')
        .where('coupon_id', '=', couponId)
        .orderBy('user_id')
        .execute()
    ).map((r) => r.user_id);

  it('5,000 concurrent calls from 2,500 users for 1,000 coupons: exactly 1,000 issued, nobody twice', async () => {
    const couponId = await createCoupon(1_000);
    const users = Array.from({ length: 2_500 }, (_, i) => 1_000 + i);
    await Promise.all(users.map(tokenOf));
    // Every user calls twice, all 5,000 calls in flight at once, in a shuffled order.
    const callers = [...users, ...users].sort(() => Math.random() - 0.5);
    const responses = await Promise.all(callers.map((u) => issue(couponId, u)));

    const winners = callers.filter((_, i) => responses[i]!.status === 200);
    expect(winners).toHaveLength(1_000);
    expect(new Set(winners).size).toBe(1_000);
    const refusals = responses.filter((r) => r.status !== 200);
    expect(refusals).toHaveLength(4_000);
    for (const r of refusals) {
      expect(r.status).toBe(409);
      expect(['COUPON_SOLD_OUT', 'COUPON_ALREADY_ISSUED']).toContain(r.body.error.data.appCode);
    }
    // Each winner's second call is ALREADY_ISSUED; the other 1,500 users are told SOLD_OUT both times.
    const already = refusals.filter((r) => r.body.error.data.appCode === 'COUPON_ALREADY_ISSUED');
    expect(already).toHaveLength(1_000);

    const drained = await drainCouponPending(s.rt, couponId);
    expect(drained.persisted).toBe(1_000);
    expect(await persistedUsers(couponId)).toEqual([...winners].sort((a, b) => a - b));
    expect(await s.rt.redis.exists(s.rt.keys.coupon(couponId).pending)).toBe(0);
  });
});
