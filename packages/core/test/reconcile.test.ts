import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';
import { drainCouponPending } from '../src/coupon/coupon.persist.ts';
import { createCoupon, issueCoupon } from '../src/coupon/coupon.service.ts';
import { createOrder } from '../src/order/order.service.ts';
import { createProduct } from '../src/product/product.service.ts';
import { reconcile } from '../src/reconcile/reconcile.service.ts';

describe('reconciler', () => {
  let env: TestRuntime;
  beforeAll(async () => {
    env = await createTestRuntime();
  });
  afterAll(() => env.cleanup());

  it('finds nothing when Redis and Postgres agree, and reports each kind of drift once created', async () => {
    const { rt } = env;
    const product = await createProduct(rt, { name: 'reconciled', price: 1_000, stock: 10 });
    const { couponId } = await createCoupon(rt, {
      name: 'r',
      discount: { type: 'FIXED', value: 100 },
      totalQuantity: 3,
      issueStartsAt: null,
      issueEndsAt: null,
      validDays: null,
    });
    for (const userId of [1, 2]) await issueCoupon(rt, userId, couponId);
    await drainCouponPending(rt, couponId);
    await createOrder(rt, 9, { items: [{ productId: product.id, quantity: 4 }] });

    const clean = await reconcile(rt);
    expect(clean.drifts).toEqual([]);
    expect(clean).toMatchObject({ coupons: 1, holds: 1 });

    // Drift, one kind at a time, the way a partial failure would leave it.
    const k = rt.keys;
    await rt.redis.incrby(k.stock(product.id).available, 5);
    await rt.redis.hset(k.stock(product.id).holds, '00000000-0000-4000-8000-00000000dead', '1');
    await rt.redis.hset(k.coupon(couponId).issued, '77', String(Date.now()));
    const report = await reconcile(rt);
    const kinds = report.drifts.map((d) => [d.kind, d.id]);
    expect(kinds).toEqual(
      expect.arrayContaining([
        ['stock-mismatch', String(product.id)],
        ['hold-without-pending-order', '00000000-0000-4000-8000-00000000dead'],
        ['coupon-issuance-unaccounted', String(couponId)],
      ]),
    );
    expect(report.drifts).toHaveLength(3);
    expect(report.drifts.find((d) => d.kind === 'stock-mismatch')).toMatchObject({ redis: 11, postgres: 6 });

    // Over-issued beyond the quantity is critical.
    await rt.redis.hset(k.coupon(couponId).issued, '78', String(Date.now()), '79', String(Date.now()));
    const over = await reconcile(rt);
    expect(over.drifts.find((d) => d.kind === 'coupon-over-issued')).toMatchObject({
      severity: 'critical',
      redis: 5,
    });

    // Redis losing its data is reported, not hidden.
    // Two slots: one DEL each, so the test also runs on a cluster.
    await rt.redis.del(k.coupon(couponId).meta);
    await rt.redis.del(k.stock(product.id).available);
    const lost = (await reconcile(rt)).drifts.map((d) => d.kind);
    expect(lost).toEqual(expect.arrayContaining(['coupon-not-loaded', 'inventory-not-loaded']));
  });
});
