import { drainCouponPending } from '@flash/core';
import { listIssuedUsers } from '@flash/core/internal/coupon/coupon.repository';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBin } from '../../../test/processes.ts';
import { type PrivateRedis, startPrivateRedis } from '../../../test/redis-server.ts';
import { call, createTestServer, type TestServer } from '../../../test/support.ts';

// A real FLUSHALL, on a private redis-server, so the other test files sharing 6379 are untouched.
describe('coupons after Redis lost its data (FLUSHALL)', () => {
  let redis: PrivateRedis;
  let s: TestServer;
  let admin: string;
  beforeAll(async () => {
    redis = await startPrivateRedis();
    s = await createTestServer({ overrides: { REDIS_URL: redis.url } });
    admin = await s.token(1, { admin: true });
  });
  afterAll(async () => {
    await s.cleanup();
    await redis.stop();
  });

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
    call(s.app, 'mutation', 'coupon.issue', { couponId }, await s.token(userId));
  const persistedUsers = async (couponId: number) =>
    (await listIssuedUsers(s.rt.db, couponId)).map((r) => r.userId);

  it('answers UNAVAILABLE, restores itself from Postgres, and never issues more than the quantity', async () => {
    const couponId = await createCoupon(100);
    for (let u = 1; u <= 60; u++) expect((await issue(couponId, u)).status).toBe(200);
    await drainCouponPending(s.rt, couponId);
    expect(await persistedUsers(couponId)).toHaveLength(60);

    expect(await s.rt.redis.flushall()).toBe('OK');

    const during = await issue(couponId, 500);
    expect(during.status).toBe(503);
    expect(during.body.error.data).toMatchObject({ code: 'SERVICE_UNAVAILABLE', appCode: 'UNAVAILABLE' });

    // The API restores the coupon in the background; the next calls are served again.
    await expect.poll(async () => (await issue(couponId, 501)).status, { timeout: 5_000 }).toBe(200);
    expect((await issue(couponId, 7)).body.error.data.appCode).toBe('COUPON_ALREADY_ISSUED');

    // 60 persisted + user 501 = 61 issued: 300 users race for the remaining 39.
    const crowd = Array.from({ length: 300 }, (_, i) => 2_000 + i);
    const responses = await Promise.all(crowd.map((u) => issue(couponId, u)));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(39);
    expect(responses.filter((r) => r.body.error?.data.appCode === 'COUPON_SOLD_OUT')).toHaveLength(261);

    await drainCouponPending(s.rt, couponId);
    expect(await persistedUsers(couponId)).toHaveLength(100);
  });

  it('still answers COUPON_NOT_FOUND for an unknown coupon while Redis is empty', async () => {
    await s.rt.redis.flushall();
    const res = await issue(424_242, 1);
    expect(res.status).toBe(404);
    expect(res.body.error.data.appCode).toBe('COUPON_NOT_FOUND');
  });

  it('`pnpm coupons:rebuild` restores every coupon before traffic asks for it', async () => {
    const a = await createCoupon(3);
    const b = await createCoupon(5);
    await issue(a, 1);
    await issue(b, 1);
    await issue(b, 2);
    await drainCouponPending(s.rt, a);
    await drainCouponPending(s.rt, b);
    await s.rt.redis.flushall();

    const output = await runBin('coupons-rebuild.ts', s.childEnv);
    expect(output).toContain(`coupon ${a}: restored, 1 issued`);
    expect(output).toContain(`coupon ${b}: restored, 2 issued`);

    // Served straight away (no UNAVAILABLE), with what was already issued counted.
    expect((await issue(a, 2)).status).toBe(200);
    expect((await issue(a, 3)).status).toBe(200);
    expect((await issue(a, 4)).body.error.data.appCode).toBe('COUPON_SOLD_OUT');
    expect((await issue(b, 2)).body.error.data.appCode).toBe('COUPON_ALREADY_ISSUED');
  });
});
