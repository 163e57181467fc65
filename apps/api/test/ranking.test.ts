import { randomUUID } from 'node:crypto';
import { manualClock, recordSales, TOP_CACHE_MS } from '@flash/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createTestServer, type TestServer } from '../../../test/support.ts';

const HOUR = 3_600_000;

describe('product.top', () => {
  const clock = manualClock(new Date('2026-11-20T12:00:00.000Z'));
  let s: TestServer;
  const ids: number[] = [];
  beforeAll(async () => {
    s = await createTestServer({ clock });
    const admin = await s.token(1, { admin: true });
    for (let i = 1; i <= 7; i++) {
      const res = await call(
        s.app,
        'mutation',
        'admin.product.create',
        { name: `P${i}`, price: i * 100, stock: 50 },
        admin,
      );
      ids.push(res.body.result.data.id);
    }
  });
  afterAll(() => s.cleanup());

  const sell = async (productId: number, quantity: number, soldAt = clock.now()) => {
    const orderId = randomUUID();
    await s.rt.db
      .insertInto('orders')
      .values({
        id: orderId,
        user_id: 9,
        status: 'PAID',
        total_amount: 0,
        discount_amount: 0,
        pay_amount: 0,
        expires_at: soldAt,
        created_at: soldAt,
        paid_at: soldAt,
      })
      .execute();
    await s.rt.db
      .insertInto('sales')
      .values({ order_id: orderId, product_id: productId, quantity, sold_at: soldAt })
      .execute();
    await recordSales(s.rt, [{ productId, quantity }], soldAt);
  };

  const top = async () => {
    clock.advance(TOP_CACHE_MS);
    const res = await call(s.app, 'query', 'product.top');
    expect(res.status).toBe(200);
    return res.body.result.data;
  };

  it('is public and empty before any sale', async () => {
    expect(await top()).toEqual({ items: [] });
  });

  it('lists at most 5, most sold first, ties by lower product id, over the last 3 days', async () => {
    const [p1, p2, p3, p4, p5, p6, p7] = ids as [number, number, number, number, number, number, number];
    await sell(p7, 100, new Date(clock.now().getTime() - 80 * HOUR)); // older than 3 days
    await sell(p1, 3);
    await sell(p2, 9, new Date(clock.now().getTime() - 60 * HOUR));
    await sell(p3, 3);
    await sell(p4, 5);
    await sell(p5, 3);
    await sell(p6, 3);
    expect((await top()).items).toEqual([
      { productId: p2, name: 'P2', price: 200, soldQuantity: 9 },
      { productId: p4, name: 'P4', price: 400, soldQuantity: 5 },
      { productId: p1, name: 'P1', price: 100, soldQuantity: 3 },
      { productId: p3, name: 'P3', price: 300, soldQuantity: 3 },
      { productId: p5, name: 'P5', price: 500, soldQuantity: 3 },
    ]);
    // 13 hours later p2's sale is more than 72 hours old.
    clock.advance(13 * HOUR);
    expect((await top()).items.map((i: { productId: number }) => i.productId)).toEqual([p4, p1, p3, p5, p6]);
  });

  it('refuses input it does not take', async () => {
    const res = await call(s.app, 'query', 'product.top', { anything: 1 });
    expect(res.status).toBe(400);
    expect(res.body.error.data.appCode).toBe('INVALID_INPUT');
  });
});
