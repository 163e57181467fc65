import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';
import { drainUnsavedOrders } from '../src/order/order.persist.ts';
import { createOrder, type OrderView } from '../src/order/order.service.ts';
import { activeProductIds, forgetIfIdle, holdOrder, type OrderLineInput } from '../src/order/order.store.ts';
import { reconcileHolds } from '../src/order/order-expiry.service.ts';
import { readAvailable } from '../src/product/inventory.store.ts';
import { createProduct } from '../src/product/product.service.ts';
import { reconcile } from '../src/reconcile/reconcile.service.ts';
import { Cluster, masters } from '../src/redis/cluster.ts';
import { decodeReply } from '../src/redis/replies.ts';
import { runScript } from '../src/redis/scripts.ts';
import { expectOrdersInPostgres } from './order-checks.ts';

// Stock is one Redis slot per product (ADR 0200): a one-line order is one script in its
// product's slot; an order of several products is held line by line and answered all or
// nothing. Runs on one Redis and on a cluster (`pnpm test:cluster packages/core/test/stock-shard.test.ts`).
describe('stock sharded by product', () => {
  let env: TestRuntime;
  let nextUser = 80_000;
  beforeAll(async () => {
    env = await createTestRuntime();
  });
  afterAll(() => env.cleanup());

  const rt = () => env.rt;
  const product = (stock: number, price = 1_000) =>
    createProduct(rt(), { name: `s-${randomUUID().slice(0, 8)}`, price, stock });
  const holdsOf = async (productId: number) =>
    new Map(
      Object.entries(await rt().redis.hgetall(rt().keys.stock(productId).holds)).map(
        ([orderId, units]) => [orderId, Number(units)] as const,
      ),
    );
  const noInventoryDrift = async () =>
    expect((await reconcile(rt())).drifts.filter((d) => !d.kind.startsWith('coupon'))).toEqual([]);

  /** The master serving each key's slot, from CLUSTER SLOTS (cluster only). */
  async function masterOf(keys: string[]): Promise<string[]> {
    const [node] = masters(rt().redis);
    const ranges = (await node!.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
    return Promise.all(
      keys.map(async (key) => {
        const slot = Number(await node!.call('CLUSTER', 'KEYSLOT', key));
        const range = ranges.find(([from, to]) => from <= slot && slot <= to)!;
        return `${range[2][0]}:${range[2][1]}`;
      }),
    );
  }

  it('orders of different products hold in different slots, in parallel (on a cluster: on different masters)', async () => {
    const products = await Promise.all(Array.from({ length: 12 }, () => product(1_000)));
    const orders = await Promise.all(
      Array.from({ length: 600 }, (_, i) =>
        createOrder(rt(), nextUser++, { items: [{ productId: products[i % 12]!.id, quantity: 1 }] }),
      ),
    );
    // Each order holds in its own product's slot only, and every product sold exactly its orders.
    for (const [i, p] of products.entries()) {
      const mine = orders.filter((_, j) => j % 12 === i).map((o) => o.orderId);
      expect([...(await holdsOf(p.id)).keys()].sort()).toEqual(mine.sort());
      expect(await readAvailable(rt().redis, rt().keys, [p.id])).toEqual([950]);
    }
    // One hash tag per product, so one slot per product.
    const tags = products.map((p) => /\{[^}]+\}/.exec(rt().keys.stock(p.id).available)![0]);
    expect(new Set(tags).size).toBe(products.length);
    for (const p of products) {
      const k = rt().keys.stock(p.id);
      for (const key of [k.holds, k.holdStarted, k.unsaved, k.unsavedOf(1), k.limiter('u:1')]) {
        expect(/\{[^}]+\}/.exec(key)![0]).toBe(`{stock:${p.id}}`);
      }
    }
    if (rt().redis instanceof Cluster) {
      const keys = products.map((p) => rt().keys.stock(p.id).available);
      const [node] = masters(rt().redis);
      const slots = await Promise.all(keys.map((key) => node!.call('CLUSTER', 'KEYSLOT', key)));
      expect(new Set(slots).size).toBe(products.length);
      // 12 products over 3 masters: each master has about a third of the slots, so every one of
      // them serves at least one of these products unless 12 random slots all miss it.
      expect(new Set(await masterOf(keys)).size).toBeGreaterThan(1);
    }
    await drainUnsavedOrders(rt());
    await noInventoryDrift();
  });

  it('a one-line order from Redis is one EVALSHA on the request connection (plus one ZADD per product every few seconds)', async () => {
    const [p, q] = await Promise.all([product(100), product(100)]);
    const order = (productId: number) =>
      createOrder(rt(), nextUser++, { items: [{ productId, quantity: 1 }] });
    await order(p.id);
    // A spy that calls through: every command this runtime's request connection sends.
    const send = vi.spyOn(rt().redis, 'sendCommand');
    const sent = () => send.mock.calls.map(([command]) => command.name);
    try {
      await order(p.id);
      expect(sent()).toEqual(['evalsha']);
      send.mockClear();
      // The first order of a product this process has not listed lately lists it once.
      await order(q.id);
      expect(sent()).toEqual(['evalsha', 'zadd']);
    } finally {
      send.mockRestore();
    }
  });

  it('multi-line orders racing one-line orders across products: all or nothing, nothing oversold, no partial hold left', async () => {
    const stock = [300, 250, 280, 200];
    const products = await Promise.all(stock.map((s) => product(s)));
    const ids = products.map((p) => p.id);
    // 400 clients at once; every client orders 1 to 4 distinct products, 1 or 2 units each:
    // about 1,500 units asked of 1,030, so the last orders (multi-line ones among them) are
    // refused, some half way through their lines.
    const wanted: OrderLineInput[][] = Array.from({ length: 400 }, (_, i) => {
      const count = 1 + (i % 4);
      const first = (i * 7) % ids.length;
      return Array.from({ length: count }, (_, j) => ({
        productId: ids[(first + j) % ids.length]!,
        quantity: 1 + ((i + j) % 2),
      }));
    });
    const results = await Promise.allSettled(wanted.map((items) => createOrder(rt(), nextUser++, { items })));
    const sold: OrderView[] = [];
    for (const [i, r] of results.entries()) {
      if (r.status === 'rejected') {
        expect(r.reason).toMatchObject({ code: 'OUT_OF_STOCK' });
        expect(wanted[i]!.map((l) => l.productId)).toContain(
          (r.reason as { details: { productId: number } }).details.productId,
        );
        continue;
      }
      // An answered order holds every line it asked for, as asked.
      expect(r.value.items.map((l) => [l.productId, l.quantity])).toEqual(
        [...wanted[i]!].sort((a, b) => a.productId - b.productId).map((l) => [l.productId, l.quantity]),
      );
      sold.push(r.value);
    }
    expect(sold.length).toBeGreaterThan(0);
    expect(sold.some((o) => o.items.length > 1)).toBe(true);
    expect(results.some((r) => r.status === 'rejected')).toBe(true);

    // Per product: the holds are exactly the answered orders' lines (a refused order left none
    // anywhere), never more units than the stock, and the count is stock minus those units.
    for (const [i, productId] of ids.entries()) {
      const expected = new Map(
        sold.flatMap((o) =>
          o.items.filter((l) => l.productId === productId).map((l) => [o.orderId, l.quantity]),
        ),
      );
      expect(await holdsOf(productId)).toEqual(expected);
      const held = [...expected.values()].reduce((a, b) => a + b, 0);
      expect(held).toBeLessThanOrEqual(stock[i]!);
      expect(await readAvailable(rt().redis, rt().keys, [productId])).toEqual([stock[i]! - held]);
    }
    // Orders of several products were committed before their answer; one-line orders are saved
    // after theirs (as the worker would now).
    await expectOrdersInPostgres(
      rt().db,
      sold.filter((o) => o.items.length > 1),
    );
    await drainUnsavedOrders(rt());
    await expectOrdersInPostgres(rt().db, sold);
    await noInventoryDrift();
  });

  it('a later line refused releases the earlier ones before the refusal is answered; a repeat of a held line holds nothing twice', async () => {
    const [a, b] = await Promise.all([product(5), product(1)]);
    const orderId = randomUUID();
    const lines = [
      { productId: b.id, quantity: 2 },
      { productId: a.id, quantity: 3 },
    ];
    const reply = await holdOrder(rt().redis, rt().keys, {
      listedAt: rt().orderState.listedAt,
      orderId,
      nowMs: Date.now(),
      lines,
    });
    expect(reply).toEqual({ code: 'OUT_OF_STOCK', productId: b.id });
    expect(await readAvailable(rt().redis, rt().keys, [a.id, b.id])).toEqual([5, 1]);
    expect([(await holdsOf(a.id)).size, (await holdsOf(b.id)).size]).toEqual([0, 0]);

    const ok = [
      { productId: a.id, quantity: 3 },
      { productId: b.id, quantity: 1 },
    ];
    const holdOk = () =>
      holdOrder(rt().redis, rt().keys, {
        listedAt: rt().orderState.listedAt,
        orderId,
        nowMs: Date.now(),
        lines: ok,
      });
    expect(await holdOk()).toEqual({ code: 'OK' });
    expect(await holdOk()).toEqual({ code: 'OK' });
    expect(await readAvailable(rt().redis, rt().keys, [a.id, b.id])).toEqual([2, 0]);
    // Not an order anyone saved: the sweep gives both lines back.
    expect((await reconcileHolds(rt(), { orphanAfterMs: 0 })).orphansReleased).toBe(1);
    expect(await readAvailable(rt().redis, rt().keys, [a.id, b.id])).toEqual([5, 1]);
  });

  it('a crash half way through a multi-line hold: the held lines are released by the sweep, never sold twice', async () => {
    const [a, b, c] = await Promise.all([product(4), product(4), product(4)]);
    const orderId = randomUUID();
    // The process held the first two of three lines (ascending ids), then died: no answer, no
    // Postgres row, no unsaved record, and it never listed the products it held.
    for (const line of [
      { productId: a.id, quantity: 2 },
      { productId: b.id, quantity: 1 },
    ]) {
      expect(
        await holdOrder(rt().redis, rt().keys, {
          listedAt: rt().orderState.listedAt,
          orderId,
          nowMs: rt().clock.now().getTime(),
          lines: [line],
        }),
      ).toEqual({
        code: 'OK',
      });
    }
    await rt().redis.zrem(rt().keys.activeProducts, String(a.id), String(b.id));
    expect(await readAvailable(rt().redis, rt().keys, [a.id, b.id, c.id])).toEqual([2, 3, 4]);

    // Younger than the orphan age: an order could still be on its way to Postgres; kept.
    expect((await reconcileHolds(rt())).orphansReleased).toBe(0);
    expect(await readAvailable(rt().redis, rt().keys, [a.id, b.id])).toEqual([2, 3]);
    // The sweep listed the products again (they hold stock), and once the holds are old enough
    // (orphanAfterMs: 0 stands for the minute) they are released, each exactly once.
    expect(await activeProductIds(rt().redis, rt().keys)).toEqual(expect.arrayContaining([a.id, b.id]));
    const swept = await Promise.all([
      reconcileHolds(rt(), { orphanAfterMs: 0 }),
      reconcileHolds(rt(), { orphanAfterMs: 0 }),
    ]);
    expect(swept[0].orphansReleased + swept[1].orphansReleased).toBeGreaterThanOrEqual(1);
    expect(await readAvailable(rt().redis, rt().keys, [a.id, b.id, c.id])).toEqual([4, 4, 4]);
    expect([(await holdsOf(a.id)).size, (await holdsOf(b.id)).size]).toEqual([0, 0]);
    await noInventoryDrift();
    // Every unit can be sold again, once.
    const again = await createOrder(rt(), nextUser++, {
      items: [
        { productId: a.id, quantity: 4 },
        { productId: b.id, quantity: 4 },
        { productId: c.id, quantity: 4 },
      ],
    });
    expect(again.items).toHaveLength(3);
    await expect(
      createOrder(rt(), nextUser++, { items: [{ productId: a.id, quantity: 1 }] }),
    ).rejects.toMatchObject({ code: 'OUT_OF_STOCK' });
  });

  it('the active list lets a product go only once it is idle and its slot holds nothing unmatched', async () => {
    const p = await product(5);
    const listed = async () => (await activeProductIds(rt().redis, rt().keys)).includes(p.id);
    // Listed a minute and more ago (a score is the ms it was last listed): idle.
    const listAt = (ms: number) => rt().redis.zadd(rt().keys.activeProducts, ms, String(p.id));
    const longAgo = () => Date.now() - 120_000;

    await createOrder(rt(), nextUser++, { items: [{ productId: p.id, quantity: 1 }] });
    expect(await listed()).toBe(true);
    await listAt(longAgo());
    // An unsaved order and its unmatched hold keep it listed, however old its listing.
    expect(await forgetIfIdle(rt().redis, rt().keys, p.id)).toBe(false);
    await drainUnsavedOrders(rt());
    // Saved, but the hold is not matched to the saved order yet (the sweep does that).
    expect(await forgetIfIdle(rt().redis, rt().keys, p.id)).toBe(false);
    expect(await listed()).toBe(true);
    // The sweep matches it and lets the idle product go.
    await reconcileHolds(rt(), { orphanAfterMs: 0 });
    expect(await listed()).toBe(false);

    // Listed again after the look at its slot (a newer score): the removal keeps it.
    await listAt(Date.now());
    expect(await forgetIfIdle(rt().redis, rt().keys, p.id)).toBe(false);
    const cutoff = longAgo();
    await listAt(cutoff + 1);
    const reply = await runScript(
      rt().redis,
      'forgetIdleProduct',
      [rt().keys.activeProducts],
      [p.id, cutoff],
    );
    expect(decodeReply('forgetIdleProduct', reply)).toEqual({ code: 'OK', value: 0 });
    expect(await listed()).toBe(true);
    await listAt(cutoff);
    const removed = await runScript(
      rt().redis,
      'forgetIdleProduct',
      [rt().keys.activeProducts],
      [p.id, cutoff],
    );
    expect(decodeReply('forgetIdleProduct', removed)).toEqual({ code: 'OK', value: 1 });
    expect(await listed()).toBe(false);
  });
});
