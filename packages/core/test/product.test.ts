import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';
import {
  createProduct,
  getProduct,
  getProductInfos,
  getProductsForOrder,
  listProducts,
} from '../src/product/product.service.ts';

describe('catalog', () => {
  let env: TestRuntime;
  beforeAll(async () => {
    env = await createTestRuntime();
  });
  afterAll(() => env.cleanup());

  it('gets a product with its live stock', async () => {
    const created = await createProduct(env.rt, { name: 'Lamp', price: 25_000, stock: 4 });
    expect(await getProduct(env.rt, created.id)).toEqual({
      id: created.id,
      name: 'Lamp',
      price: 25_000,
      imageUrl: null,
      stock: 4,
    });
    await env.rt.redis.incrby(env.rt.keys.stock(created.id).available, -3);
    expect((await getProduct(env.rt, created.id)).stock).toBe(1);
  });

  it('clamps a negative available count to 0', async () => {
    const created = await createProduct(env.rt, { name: 'Oversold', price: 1, stock: 0 });
    await env.rt.redis.set(env.rt.keys.stock(created.id).available, '-2');
    expect((await getProduct(env.rt, created.id)).stock).toBe(0);
  });

  it('answers an unknown product with PRODUCT_NOT_FOUND', async () => {
    await expect(getProduct(env.rt, 99_999_999)).rejects.toMatchObject({
      code: 'PRODUCT_NOT_FOUND',
      details: { productId: 99_999_999 },
    });
  });

  it('finds a product created behind its back (unknown ids are not cached)', async () => {
    await expect(getProduct(env.rt, 5_000_000)).rejects.toMatchObject({ code: 'PRODUCT_NOT_FOUND' });
    await env.rt.db
      .insertInto('products')
      .values({ id: 5_000_000, name: 'Direct', price: 10, stock: 2 })
      .execute();
    // Inserted without the service: no inventory entry yet, so reading repairs it from Postgres.
    expect(await getProduct(env.rt, 5_000_000)).toEqual({
      id: 5_000_000,
      name: 'Direct',
      price: 10,
      imageUrl: null,
      stock: 2,
    });
  });

  it('gives the order flow prices for the products that exist', async () => {
    const a = await createProduct(env.rt, { name: 'A', price: 100, stock: 1 });
    const b = await createProduct(env.rt, { name: 'B', price: 200, stock: 1 });
    const found = await getProductsForOrder(env.rt, [b.id, 424_242, a.id, a.id]);
    expect([...found.entries()].sort(([x], [y]) => x - y)).toEqual([
      [a.id, { id: a.id, name: 'A', price: 100, imageUrl: null }],
      [b.id, { id: b.id, name: 'B', price: 200, imageUrl: null }],
    ]);
    // And again from memory, without asking Postgres.
    const infos = await getProductInfos(env.rt, [a.id]);
    expect(infos.get(a.id)).toEqual({ id: a.id, name: 'A', price: 100, imageUrl: null });
  });

  it('paginates by id visiting every product exactly once, also while products are added', async () => {
    for (let i = 0; i < 45; i++) await createProduct(env.rt, { name: `bulk-${i}`, price: i, stock: i });
    const all = await env.rt.db.selectFrom('products').select('id').orderBy('id').execute();
    const seen: number[] = [];
    let cursor: number | undefined;
    let pages = 0;
    for (;;) {
      const page = await listProducts(env.rt, { cursor, limit: 7 });
      seen.push(...page.items.map((p) => p.id));
      for (const item of page.items) expect(item.stock).toBeGreaterThanOrEqual(0);
      pages++;
      // A product added mid-walk has a higher id than any seen: it shows up on a later page.
      if (pages === 2)
        all.push({ id: (await createProduct(env.rt, { name: 'late', price: 1, stock: 1 })).id });
      if (page.nextCursor === null) break;
      cursor = page.nextCursor;
    }
    expect(seen).toEqual(all.map((r) => r.id).sort((x, y) => x - y));
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('ends with nextCursor null when the last page is exactly full or empty', async () => {
    const last = await listProducts(env.rt, { limit: 100 });
    const total = last.items.length;
    expect(total).toBeLessThan(100);
    const exact = await listProducts(env.rt, { limit: total });
    expect(exact.nextCursor).toBe(exact.items[total - 1]!.id);
    expect(await listProducts(env.rt, { cursor: exact.nextCursor!, limit: total })).toEqual({
      items: [],
      nextCursor: null,
    });
  });
});
