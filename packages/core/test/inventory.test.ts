import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runBin } from '../../../test/processes.ts';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';
import type { HoldReply } from '../src/order/order.store.ts';
import { lockInventoryForRebuild } from '../src/product/inventory.repository.ts';
import { ensureInventoryLoaded, readStocks, rebuildInventory } from '../src/product/inventory.service.ts';
import { addRestocked, loadStockSnapshot, readAvailable } from '../src/product/inventory.store.ts';
import { createProduct, getProduct, restockProduct } from '../src/product/product.service.ts';
import { decodeReply } from '../src/redis/replies.ts';
import { runScript } from '../src/redis/scripts.ts';

describe('inventory in Redis', () => {
  let env: TestRuntime;
  beforeAll(async () => {
    env = await createTestRuntime();
  });
  afterAll(() => env.cleanup());

  const rt = () => env.rt;
  const k = (productId: number) => env.rt.keys.stock(productId);

  /** What a Redis flush or restart (or a lost master) does to one product's stock. */
  const loseProduct = (productId: number) => rt().redis.del(k(productId).available, k(productId).holds);
  /** ... and to every product's. */
  const loseRedisInventory = async () => {
    const ids = await rt().db.selectFrom('products').select('id').execute();
    for (const { id } of ids) await loseProduct(id);
  };

  const insertProduct = async (stock: number, price = 1000) =>
    (
      await rt()
        .db.insertInto('products')
        .values({ name: `p-${randomUUID().slice(0, 8)}`, price, stock })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;

  const insertOrder = async (status: 'PENDING_PAYMENT' | 'PAID' | 'EXPIRED', lines: [number, number][]) => {
    const id = randomUUID();
    const now = new Date();
    await rt()
      .db.insertInto('orders')
      .values({
        id,
        user_id: 1,
        status,
        total_amount: 0,
        discount_amount: 0,
        pay_amount: 0,
        expires_at: new Date(now.getTime() + 900_000),
        created_at: now,
      })
      .execute();
    await rt()
      .db.insertInto('order_lines')
      .values(lines.map(([product_id, quantity]) => ({ order_id: id, product_id, quantity, unit_price: 0 })))
      .execute();
    return id;
  };

  /** The order flow's own hold script (scripts/lua/holdStock-7.lua), to race against restocks. */
  const hold = async (productId: number, quantity: number): Promise<HoldReply['code']> => {
    const p = k(productId);
    const raw = await runScript(
      rt().redis,
      'holdStock',
      [
        p.available,
        p.holds,
        p.holdStarted,
        p.unsaved,
        p.limiter('u:0'),
        p.limiter('ip:none'),
        p.unsavedOf(0),
      ],
      [randomUUID(), Date.now(), 'off', 0, 'off', 0, '', productId, quantity],
    );
    return decodeReply('holdStock', raw).code;
  };

  beforeEach(async () => {
    await loseRedisInventory();
  });

  describe('scripts fail closed on a product that is not loaded', () => {
    // Ids no product of this file gets: these tests write Redis only.
    const [x, y] = [900_001, 900_002];
    it('read, restock and hold refuse and write nothing', async () => {
      await Promise.all([loseProduct(x), loseProduct(y)]);
      expect(await readAvailable(rt().redis, rt().keys, [x, y])).toEqual([undefined, undefined]);
      expect(await addRestocked(rt().redis, rt().keys, x, 5)).toBe('not-loaded');
      expect(await hold(y, 1)).toBe('NOT_LOADED');
      for (const id of [x, y]) {
        expect(await rt().redis.exists(k(id).available, k(id).holds, k(id).holdStarted)).toBe(0);
      }
    });

    it('each product is loaded on its own: one lost (one master) leaves the others serving', async () => {
      await loadStockSnapshot(rt().redis, rt().keys, x, { available: 3, holds: new Map() });
      await loadStockSnapshot(rt().redis, rt().keys, y, { available: 4, holds: new Map() });
      await loseProduct(y);
      expect(await readAvailable(rt().redis, rt().keys, [x, y])).toEqual([3, undefined]);
      expect(await addRestocked(rt().redis, rt().keys, x, 5)).toBe(8);
      expect(await hold(x, 8)).toBe('OK');
      expect(await addRestocked(rt().redis, rt().keys, y, 5)).toBe('not-loaded');
      expect(await hold(y, 1)).toBe('NOT_LOADED');
    });
  });

  describe('rebuild from Postgres', () => {
    it('computes available = stock - pending holds and recreates the hold records', async () => {
      const a = await insertProduct(10);
      const b = await insertProduct(5);
      const c = await insertProduct(0);
      const pending1 = await insertOrder('PENDING_PAYMENT', [
        [a, 3],
        [b, 1],
      ]);
      const pending2 = await insertOrder('PENDING_PAYMENT', [[a, 2]]);
      await insertOrder('PAID', [[a, 4]]);
      await insertOrder('EXPIRED', [[b, 2]]);

      const result = await rebuildInventory(rt());
      expect(result.loaded).toBe(true);
      expect(await readAvailable(rt().redis, rt().keys, [a, b, c])).toEqual([5, 4, 0]);
      // One hold per order and product, in the product's slot.
      expect(await rt().redis.hgetall(k(a).holds)).toEqual({ [pending1]: '3', [pending2]: '2' });
      expect(await rt().redis.hgetall(k(b).holds)).toEqual({ [pending1]: '1' });
      expect(await rt().redis.hgetall(k(c).holds)).toEqual({});

      // The order flow can release a rebuilt hold exactly as one it wrote itself.
      for (const id of [a, b]) {
        const released = await runScript(
          rt().redis,
          'releaseHold',
          [k(id).available, k(id).holds, k(id).holdStarted],
          [pending1, 'release'],
        );
        expect(decodeReply('releaseHold', released)).toEqual({ code: 'OK' });
      }
      expect(await readAvailable(rt().redis, rt().keys, [a, b])).toEqual([8, 5]);
    });

    it('drops holds that survived without the count', async () => {
      const a = await insertProduct(7);
      const stray = randomUUID();
      await rt().redis.hset(k(a).holds, stray, '1');
      await rebuildInventory(rt());
      expect(await rt().redis.get(k(a).available)).toBe('7');
      expect(await rt().redis.hexists(k(a).holds, stray)).toBe(0);
    });

    it('loads only the products named, and a product Postgres does not have gets nothing', async () => {
      const a = await insertProduct(4);
      const b = await insertProduct(6);
      const result = await rebuildInventory(rt(), { productIds: [a, 987654] });
      expect(result).toMatchObject({ loaded: true, products: 1 });
      expect(await readAvailable(rt().redis, rt().keys, [a, b, 987654])).toEqual([4, undefined, undefined]);
    });

    it('never replaces a loaded inventory: a late second load changes nothing', async () => {
      const a = await insertProduct(10);
      expect((await rebuildInventory(rt())).loaded).toBe(true);
      // Orders hold stock after the first load...
      expect(await hold(a, 4)).toBe('OK');
      const holds = await rt().redis.hlen(k(a).holds);
      // ...then a rebuild that read Postgres before those holds arrives: it must not win.
      const stale = { available: 10, holds: new Map() };
      expect(await loadStockSnapshot(rt().redis, rt().keys, a, stale)).toBe(false);
      expect(await readAvailable(rt().redis, rt().keys, [a])).toEqual([6]);
      expect(await rt().redis.hlen(k(a).holds)).toBe(holds);
    });

    it('loads exactly once when many processes rebuild at the same time', async () => {
      const a = await insertProduct(10);
      // `pnpm inventory:rebuild` in four processes at once. The test holds the rebuild lock until
      // at least two of them wait for it together (not all: a slow machine starts them seconds
      // apart, and the first would reach its statement timeout).
      const processes = 4;
      const waiting = async () =>
        (
          await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = 'flash-sale-inventory-rebuild'
              AND wait_event_type = 'Lock'`.execute(rt().db)
        ).rows[0]!.n;
      const runs = await rt()
        .db.transaction()
        .execute(async (trx) => {
          await lockInventoryForRebuild(trx);
          const started = Array.from({ length: processes }, () =>
            runBin('inventory-rebuild.ts', env.childEnv),
          );
          const settled = Promise.allSettled(started);
          await expect.poll(waiting, { timeout: 60_000 }).toBeGreaterThanOrEqual(2);
          // Wrapped: a returned promise would be awaited before the commit that releases them.
          return { settled };
        });
      const outputs = (await runs.settled).map((r) =>
        r.status === 'fulfilled' ? r.value : String(r.reason),
      );
      expect(outputs.filter((o) => o.includes('inventory: loaded'))).toHaveLength(1);
      expect(outputs.filter((o) => o.includes('inventory: already loaded'))).toHaveLength(processes - 1);
      expect(await readAvailable(rt().redis, rt().keys, [a])).toEqual([10]);
    }, 120_000);

    it('is triggered by reads that find a product missing, once per burst', async () => {
      const a = await insertProduct(12);
      await insertOrder('PENDING_PAYMENT', [[a, 2]]);
      const stocks = await Promise.all(Array.from({ length: 100 }, () => readStocks(rt(), [a])));
      expect(new Set(stocks.map((s) => s[0]))).toEqual(new Set([10]));
      expect(Object.values(await rt().redis.hgetall(k(a).holds))).toEqual(['2']);
    });

    it('force replaces a loaded inventory (for a quiet system)', async () => {
      const a = await insertProduct(10);
      await ensureInventoryLoaded(rt());
      await rt().redis.set(k(a).available, '3');
      expect((await rebuildInventory(rt())).loaded).toBe(false);
      expect((await rebuildInventory(rt(), { force: true })).loaded).toBe(true);
      expect(await readAvailable(rt().redis, rt().keys, [a])).toEqual([10]);
    });
  });

  describe('products and restock', () => {
    it('a new product is orderable at once, whatever else is loaded', async () => {
      const created = await createProduct(rt(), { name: 'New', price: 500, stock: 8 });
      expect(created.stock).toBe(8);
      const second = await createProduct(rt(), { name: 'Second', price: 500, stock: 3 });
      expect(await readAvailable(rt().redis, rt().keys, [created.id, second.id])).toEqual([8, 3]);
      expect(await hold(second.id, 3)).toBe('OK');
      expect((await getProduct(rt(), second.id)).stock).toBe(0);
    });

    it('restock updates Postgres and Redis and returns the live stock', async () => {
      const a = await insertProduct(5);
      await ensureInventoryLoaded(rt());
      expect(await hold(a, 2)).toBe('OK');
      const restocked = await restockProduct(rt(), a, 10);
      expect(restocked.stock).toBe(13);
      const row = await rt()
        .db.selectFrom('products')
        .select('stock')
        .where('id', '=', a)
        .executeTakeFirstOrThrow();
      expect(row.stock).toBe(15);
    });

    it('restock of a product that is not loaded loads it, the restock included', async () => {
      const a = await insertProduct(5);
      await insertOrder('PENDING_PAYMENT', [[a, 1]]);
      expect((await restockProduct(rt(), a, 3)).stock).toBe(7);
      expect(await readAvailable(rt().redis, rt().keys, [a])).toEqual([7]);
    });

    it('restock of a product that lost its count (and only it) loads it from Postgres', async () => {
      const a = await insertProduct(5);
      await ensureInventoryLoaded(rt());
      await loseProduct(a);
      expect((await restockProduct(rt(), a, 4)).stock).toBe(9);
      expect(await readAvailable(rt().redis, rt().keys, [a])).toEqual([9]);
    });

    it('restock of an unknown product is PRODUCT_NOT_FOUND and writes nothing', async () => {
      await ensureInventoryLoaded(rt());
      await expect(restockProduct(rt(), 987654, 1)).rejects.toMatchObject({ code: 'PRODUCT_NOT_FOUND' });
      expect(await rt().redis.exists(k(987654).available)).toBe(0);
    });

    it('concurrent restocks and holds never oversell and add up exactly', async () => {
      const a = await insertProduct(0);
      await ensureInventoryLoaded(rt());
      const holdsBefore = await rt().redis.hlen(k(a).holds);
      const restocks = Array.from({ length: 150 }, (_, i) => 1 + (i % 3));
      const restocked = restocks.reduce((sum, q) => sum + q, 0);
      const jobs: Promise<HoldReply['code'] | 'restocked'>[] = [];
      for (let i = 0; i < 600; i++) {
        if (i % 4 === 0)
          jobs.push(restockProduct(rt(), a, restocks[i / 4]!).then(() => 'restocked' as const));
        else jobs.push(hold(a, 1));
      }
      const outcomes = await Promise.all(jobs);
      const held = outcomes.filter((o) => o === 'OK').length;
      const refused = outcomes.filter((o) => o === 'OUT_OF_STOCK').length;
      expect(held + refused).toBe(450);
      const row = await rt()
        .db.selectFrom('products')
        .select('stock')
        .where('id', '=', a)
        .executeTakeFirstOrThrow();
      expect(row.stock).toBe(restocked);
      const [available] = (await readAvailable(rt().redis, rt().keys, [a])) as [number];
      expect(held).toBeLessThanOrEqual(restocked);
      expect(available).toBe(restocked - held);
      expect(await rt().redis.hlen(k(a).holds)).toBe(holdsBefore + held);
    });
  });
});
