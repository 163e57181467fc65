import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTestRuntime, scanKeys, type TestRuntime } from '../../../test/support.ts';
import { manualClock } from '../src/clock.ts';
import { getTopProducts, rebuildRanking, recordSales, TOP_CACHE_MS } from '../src/ranking/ranking.service.ts';
import { hourLabel, isRankingLoaded, windowHours } from '../src/ranking/ranking.store.ts';

const HOUR = 3_600_000;

describe('ranking (product.top)', () => {
  const clock = manualClock(new Date('2026-11-20T10:30:00.000Z'));
  let env: TestRuntime;
  const products: number[] = [];
  beforeAll(async () => {
    env = await createTestRuntime({ clock });
    // Ids 1..12: enough to have "9" and "10" (a string sort would put 10 first) and more than 5.
    for (let i = 1; i <= 12; i++) {
      const row = await env.rt.db
        .insertInto('products')
        .values({ name: `Product ${i}`, price: i * 1000, stock: 1000 })
        .returning('id')
        .executeTakeFirstOrThrow();
      products.push(row.id);
    }
  });
  afterAll(() => env.cleanup());

  const rt = () => env.rt;
  const id = (n: number) => products[n - 1]!;

  /** What Redis losing its data does to the ranking. */
  const loseRedisRanking = async () => {
    const keys = await scanKeys(rt().redis, `${rt().keys.prefix}{ranking}:*`);
    if (keys.length) await rt().redis.del(...keys);
  };

  /** A paid order as the payment flow leaves it: `sales` rows in Postgres, then recordSales. */
  const sell = async (lines: [product: number, quantity: number][], soldAt = clock.now()) => {
    const orderId = randomUUID();
    await rt()
      .db.insertInto('orders')
      .values({
        id: orderId,
        user_id: 1,
        status: 'PAID',
        total_amount: 0,
        discount_amount: 0,
        pay_amount: 0,
        expires_at: soldAt,
        created_at: soldAt,
        paid_at: soldAt,
      })
      .execute();
    const sales = lines.map(([n, quantity]) => ({ productId: id(n), quantity }));
    await rt()
      .db.insertInto('sales')
      .values(
        sales.map((s) => ({
          order_id: orderId,
          product_id: s.productId,
          quantity: s.quantity,
          sold_at: soldAt,
        })),
      )
      .execute();
    await recordSales(rt(), sales, soldAt);
  };

  /** Reads the top list as a client would see it once the cache has expired. */
  const top = async () => {
    clock.advance(TOP_CACHE_MS);
    return (await getTopProducts(rt())).items.map((i) => [products.indexOf(i.productId) + 1, i.soldQuantity]);
  };

  beforeEach(async () => {
    clock.set(new Date('2026-11-20T10:30:00.000Z'));
    await rt().db.deleteFrom('sales').execute();
    await loseRedisRanking();
  });

  it('is empty when nothing was sold, and says so without Postgres on the next read', async () => {
    expect(await getTopProducts(rt())).toEqual({ items: [] });
    expect(await isRankingLoaded(rt().redis, rt().keys)).toBe(true);
  });

  it('orders by units sold, most first, with names and prices, and shows a sale at once', async () => {
    await getTopProducts(rt());
    expect((await getTopProducts(rt())).items).toEqual([]);
    await sell([
      [1, 2],
      [2, 5],
    ]);
    await sell([[3, 1]]);
    await sell([[1, 4]]);
    // Recording a sale dropped the cached list: read-your-writes, without waiting for it to expire.
    expect((await getTopProducts(rt())).items).toEqual([
      { productId: id(1), name: 'Product 1', price: 1000, soldQuantity: 6 },
      { productId: id(2), name: 'Product 2', price: 2000, soldQuantity: 5 },
      { productId: id(3), name: 'Product 3', price: 3000, soldQuantity: 1 },
    ]);
  });

  it('returns at most 5 and breaks ties by the lower product id (numerically)', async () => {
    await getTopProducts(rt());
    // 10, 9, 11 and 12 tie on 3 units for the last places; 7 leads; 5 and 6 tie on 4 units.
    await sell([
      [10, 3],
      [9, 3],
      [12, 3],
      [11, 3],
      [7, 8],
      [6, 4],
      [5, 4],
      [1, 1],
    ]);
    expect(await top()).toEqual([
      [7, 8],
      [5, 4],
      [6, 4],
      [9, 3],
      [10, 3],
    ]);
  });

  it('counts over a rolling 72-hour window: sales older than 3 days drop out', async () => {
    await getTopProducts(rt());
    const t0 = clock.now();
    await sell([[1, 10]], t0);
    clock.advance(24 * HOUR);
    await sell([[2, 7]]);
    clock.advance(24 * HOUR);
    await sell([[3, 5]]);
    // 71 h after the first sale: all three days count.
    clock.set(new Date(t0.getTime() + 71 * HOUR));
    expect(await top()).toEqual([
      [1, 10],
      [2, 7],
      [3, 5],
    ]);
    // 72 h after it: the first sale's hour has left the window.
    clock.set(new Date(t0.getTime() + 72 * HOUR));
    expect(await top()).toEqual([
      [2, 7],
      [3, 5],
    ]);
    clock.set(new Date(t0.getTime() + 96 * HOUR));
    expect(await top()).toEqual([[3, 5]]);
    clock.set(new Date(t0.getTime() + 120 * HOUR));
    expect(await top()).toEqual([]);
  });

  it('rebuilds from Postgres sales when Redis lost the ranking, with the same window', async () => {
    await getTopProducts(rt());
    const t0 = clock.now();
    await sell([[4, 9]], new Date(t0.getTime() - 73 * HOUR)); // outside the window
    await sell([[1, 3]], new Date(t0.getTime() - 70 * HOUR));
    await sell([
      [2, 3],
      [1, 1],
    ]);
    await sell([[10, 2]], new Date(t0.getTime() - HOUR));
    const before = await top();
    expect(before).toEqual([
      [1, 4],
      [2, 3],
      [10, 2],
    ]);
    await loseRedisRanking();
    expect(await top()).toEqual(before);
    expect(await isRankingLoaded(rt().redis, rt().keys)).toBe(true);
  });

  it('counts a sale recorded while Redis had no ranking exactly once (from Postgres)', async () => {
    await sell([[5, 2]]); // marker missing: recordSales writes nothing
    expect(await rt().redis.exists(rt().keys.ranking.hour(hourLabel(windowHours(clock.now()).at(-1)!)))).toBe(
      0,
    );
    expect(await top()).toEqual([[5, 2]]);
    await sell([[5, 1]]); // loaded now: counted live
    expect(await top()).toEqual([[5, 3]]);
  });

  it('loads once when rebuilds race, and a late rebuild never overwrites live counts', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => rebuildRanking(rt())));
    expect(results.filter((r) => r.loaded).length).toBe(1);
    await sell([[2, 4]]);
    expect((await rebuildRanking(rt())).loaded).toBe(false);
    expect(await top()).toEqual([[2, 4]]);
  });

  it('ignores sales too old to be in any window, and empty sales', async () => {
    await getTopProducts(rt());
    await recordSales(
      rt(),
      [{ productId: id(1), quantity: 3 }],
      new Date(clock.now().getTime() - 200 * HOUR),
    );
    await recordSales(rt(), [], clock.now());
    expect(await top()).toEqual([]);
  });

  it('costs one merge and one GET for a storm of concurrent reads', async () => {
    await getTopProducts(rt());
    await sell([[3, 2]]);
    clock.advance(TOP_CACHE_MS);
    const sent = vi.spyOn(rt().redis, 'sendCommand');
    try {
      const results = await Promise.all(Array.from({ length: 1000 }, () => getTopProducts(rt())));
      // The entry's Redis expiry (TOP_CACHE_MS of real time) only bounds how long it is kept;
      // whether it is fresh is the service clock's call, which stands still here. Keep it for
      // the read below however slowly a loaded machine gets there.
      await rt().redis.pexpire(rt().keys.ranking.top, 600_000);
      for (const r of results) expect(r.items.map((i) => i.soldQuantity)).toEqual([2]);
      const names = sent.mock.calls.map(([command]) => (command as { name: string }).name.toLowerCase());
      expect(names.filter((n) => n === 'get')).toHaveLength(1);
      expect(names.filter((n) => n === 'evalsha' || n === 'eval')).toHaveLength(1);
      sent.mockClear();
      // Within the cache's lifetime a read is one GET and no merge.
      await getTopProducts(rt());
      const again = sent.mock.calls.map(([command]) => (command as { name: string }).name.toLowerCase());
      expect(again).toEqual(['get']);
    } finally {
      sent.mockRestore();
    }
  });

  it('recomputes over an unreadable cache entry', async () => {
    await getTopProducts(rt());
    await sell([[4, 2]]);
    await rt().redis.set(rt().keys.ranking.top, 'not json', 'PX', 60_000);
    expect(await top()).toEqual([[4, 2]]);
    await rt().redis.set(
      rt().keys.ranking.top,
      JSON.stringify({ at: clock.now().getTime() + 5000, items: [] }),
    );
    expect(await top()).toEqual([[4, 2]]); // computed "in the future" (a clock moved back): not trusted
  });

  it('serves a cache another process refreshed instead of merging again', async () => {
    await getTopProducts(rt());
    await sell([[8, 1]]);
    clock.advance(TOP_CACHE_MS);
    const json = JSON.stringify({ at: clock.now().getTime(), items: [[id(8), 99]] });
    await rt().redis.set(rt().keys.ranking.top, json, 'PX', 60_000);
    expect((await getTopProducts(rt())).items).toEqual([
      { productId: id(8), name: 'Product 8', price: 8000, soldQuantity: 99 },
    ]);
  });
});
