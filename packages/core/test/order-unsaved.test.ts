import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';
import { chargeBalance } from '../src/balance/balance.service.ts';
import {
  decodeUnsavedOrder,
  drainUnsavedOrders,
  ensureOrderSaved,
  findUnsavedOrdersOf,
} from '../src/order/order.persist.ts';
import { insertPendingOrders } from '../src/order/order.repository.ts';
import { createOrder, getOrder, listOrders, type OrderView } from '../src/order/order.service.ts';
import { activeProductIds } from '../src/order/order.store.ts';
import { reconcileHolds } from '../src/order/order-expiry.service.ts';
import { payOrder } from '../src/payment/payment.service.ts';
import { readAvailable } from '../src/product/inventory.store.ts';
import { createProduct, rebuildInventory } from '../src/product/product.service.ts';
import { reconcile } from '../src/reconcile/reconcile.service.ts';
import { createRuntime, type Runtime } from '../src/runtime.ts';
import { expectOrdersInPostgres, rushLines } from './order-checks.ts';

// Orders of one product without a coupon and without an idempotency key are answered from
// Redis: the hold stores the order in the same Lua step (in the product's slot), and order.persist.ts saves it in Postgres later
// (the worker, or the first read that needs it). Every test checks against real Redis and
// Postgres that nothing answered is lost or saved twice and that no unit is sold twice.
describe('order.create answered from Redis, saved later', () => {
  let env: TestRuntime;
  let nextUser = 50_000;
  beforeAll(async () => {
    env = await createTestRuntime();
  });
  afterAll(async () => {
    await env.cleanup();
  });

  const rt = () => env.rt;
  const users = (n: number) => Array.from({ length: n }, () => nextUser++);
  const product = (stock: number, price = 1_000) =>
    createProduct(rt(), { name: `u-${randomUUID().slice(0, 8)}`, price, stock });
  /** The ids of every unsaved order, in every active product's slot. */
  const unsavedIds = async () => {
    const ids: string[] = [];
    for (const id of await activeProductIds(rt().redis, rt().keys))
      ids.push(...(await rt().redis.hkeys(rt().keys.stock(id).unsaved)));
    return ids.sort();
  };
  /** The ids in a user's indexes of unsaved orders (holdStock-7.lua); none once they are saved. */
  const unsavedOf = async (userId: number) =>
    (await findUnsavedOrdersOf(rt(), userId)).flatMap((g) => g.orderIds).sort();

  type Settled = PromiseSettledResult<OrderView>;
  const fulfilled = (results: Settled[]) =>
    results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const refusals = (results: Settled[]) =>
    results.flatMap((r) => (r.status === 'rejected' ? [r.reason as { code?: string }] : []));

  /** Order rows in Postgres by id (any status). */
  async function saved(ids: string[]) {
    if (ids.length === 0) return { rows: new Map() };
    const rows = await rt().db.selectFrom('orders').selectAll().where('id', 'in', ids).execute();
    return { rows: new Map(rows.map((r) => [r.id, r])) };
  }

  /** Every answered order is in Postgres exactly as answered, once, with its lines. */
  async function expectSaved(orders: OrderView[]) {
    expect((await saved(orders.map((o) => o.orderId))).rows.size).toBe(orders.length);
    await expectOrdersInPostgres(rt().db, orders);
  }

  const noInventoryDrift = async () =>
    expect((await reconcile(rt())).drifts.filter((d) => !d.kind.startsWith('coupon'))).toEqual([]);

  it('sells exactly the stock to 400 parallel orders, answered before Postgres knows them; overlapping saves write each once', async () => {
    const p = await product(100, 1_500);
    const extra = await product(1_000, 200);
    const buyers = users(400);
    const results = await Promise.allSettled(
      buyers.map((userId, i) => createOrder(rt(), userId, { items: rushLines(i, p.id, extra.id) })),
    );
    const sold = fulfilled(results);
    expect(sold).toHaveLength(100);
    expect(refusals(results).every((e) => e.code === 'OUT_OF_STOCK')).toBe(true);
    const buyerOf = new Map(
      results.flatMap((r, i) => (r.status === 'fulfilled' ? [[r.value.orderId, buyers[i]!] as const] : [])),
    );
    // One-line orders are answered from Redis; two-line orders span two slots, so they are
    // committed in Postgres before their answer (ADR 0200).
    const oneLine = sold.filter((o) => o.items.length === 1);
    const ids = oneLine.map((o) => o.orderId).sort();
    await expectSaved(sold.filter((o) => o.items.length === 2));

    // Answered, held in Redis, not in Postgres yet; the reconciler counts them as holds.
    expect((await saved(ids)).rows.size).toBe(0);
    expect(await unsavedIds()).toEqual(expect.arrayContaining(ids));
    expect(await readAvailable(rt().redis, rt().keys, [p.id])).toEqual([0]);
    await noInventoryDrift();

    // Two processes' drains and a read per order, all at once: each order saved exactly once.
    const other: Runtime = await createRuntime(env.config, { name: 'order-unsaved-other' });
    try {
      await Promise.all([
        drainUnsavedOrders(rt(), { batchSize: 7 }),
        drainUnsavedOrders(other, { batchSize: 13 }),
        ...ids.map((id, i) => ensureOrderSaved(i % 2 ? rt() : other, buyerOf.get(id)!, id)),
      ]);
    } finally {
      await other.close();
    }
    await expectSaved(sold);
    expect(await unsavedIds()).toEqual([]);
    for (const userId of buyers) expect(await unsavedOf(userId)).toEqual([]);
    expect(await readAvailable(rt().redis, rt().keys, [p.id, extra.id])).toEqual([
      0,
      1_000 - 2 * sold.filter((o) => o.items.length === 2).length,
    ]);
    await noInventoryDrift();
  });

  it('the caller reads its own order at once: order.get and order.list save it first; another user sees nothing', async () => {
    const p = await product(10);
    const [me, someoneElse] = users(2);
    const mine = await createOrder(rt(), me!, { items: [{ productId: p.id, quantity: 2 }] });
    const second = await createOrder(rt(), me!, { items: [{ productId: p.id, quantity: 1 }] });
    await expect(getOrder(rt(), someoneElse!, mine.orderId)).rejects.toMatchObject({
      code: 'ORDER_NOT_FOUND',
    });
    expect(await getOrder(rt(), me!, mine.orderId)).toEqual(mine);
    const listed = await listOrders(rt(), me!, { limit: 10 });
    expect(listed.items.map((o) => o.orderId).sort()).toEqual([mine.orderId, second.orderId].sort());
    await expectSaved([mine, second]);
    await noInventoryDrift();
  });

  it("order.list saves the caller's unsaved orders only, however many others wait for the worker", async () => {
    const p = await product(100);
    const [me, ...others] = users(21);
    const mine = [
      await createOrder(rt(), me!, { items: [{ productId: p.id, quantity: 1 }] }),
      await createOrder(rt(), me!, { items: [{ productId: p.id, quantity: 2 }] }),
    ];
    const theirs = await Promise.all(
      others.map((userId) => createOrder(rt(), userId, { items: [{ productId: p.id, quantity: 1 }] })),
    );
    expect(await unsavedOf(me!)).toEqual(mine.map((o) => o.orderId).sort());

    const listed = await listOrders(rt(), me!, { limit: 10 });
    expect(listed.items.map((o) => o.orderId).sort()).toEqual(mine.map((o) => o.orderId).sort());
    await expectSaved(mine);
    expect(await unsavedOf(me!)).toEqual([]);
    // The others' orders were left to the worker: still unsaved, each still in its user's index.
    const theirIds = theirs.map((o) => o.orderId);
    expect((await saved(theirIds)).rows.size).toBe(0);
    expect(await unsavedIds()).toEqual(expect.arrayContaining(theirIds));
    for (const [i, order] of theirs.entries()) expect(await unsavedOf(others[i]!)).toEqual([order.orderId]);
    await noInventoryDrift();

    // An id left in a user's index without its record (a hand-made leftover) is dropped by the
    // next read, which saves nothing for it.
    await rt().redis.hset(rt().keys.stock(p.id).unsavedOf(me!), randomUUID(), 1);
    expect((await listOrders(rt(), me!, { limit: 10 })).items).toHaveLength(2);
    expect(await unsavedOf(me!)).toEqual([]);

    await drainUnsavedOrders(rt());
    await expectSaved(theirs);
    for (const userId of others) expect(await unsavedOf(userId)).toEqual([]);
    await noInventoryDrift();
  });

  it('200 users list their orders while orders are still being answered and two drains run: each lists exactly its own, each order saved once', async () => {
    const p = await product(1_000);
    const buyers = users(200);
    const other: Runtime = await createRuntime(env.config, { name: 'order-unsaved-lists' });
    const order = (userId: number) =>
      createOrder(rt(), userId, { items: [{ productId: p.id, quantity: 1 }] });
    try {
      const first = await Promise.all(buyers.map(order));
      // Second orders, reads of every user's list and two drains, all in flight together.
      const [second, lists] = await Promise.all([
        Promise.all(buyers.map(order)),
        Promise.all(buyers.map((userId, i) => listOrders(i % 2 ? rt() : other, userId, { limit: 10 }))),
        drainUnsavedOrders(rt(), { batchSize: 17 }),
        drainUnsavedOrders(other, { batchSize: 29 }),
      ]);
      for (const [i, listed] of lists.entries()) {
        // The first order was answered before the read began: it must be listed; the second
        // may or may not be, depending on which came first, but nobody else's ever is.
        const ids = listed.items.map((o) => o.orderId);
        expect(ids).toContain(first[i]!.orderId);
        expect(ids.every((id) => id === first[i]!.orderId || id === second[i]!.orderId)).toBe(true);
      }
      await Promise.all(buyers.map((userId, i) => listOrders(i % 2 ? other : rt(), userId, { limit: 10 })));
      await drainUnsavedOrders(rt());
      await expectSaved([...first, ...second]);
      for (const userId of buyers) expect(await unsavedOf(userId)).toEqual([]);
      expect(await readAvailable(rt().redis, rt().keys, [p.id])).toEqual([600]);
      await noInventoryDrift();
    } finally {
      await other.close();
    }
  });

  it('pays an order answered moments ago: the payment saves it, debits once and sells its units', async () => {
    const p = await product(5, 2_000);
    const [buyer] = users(1);
    await chargeBalance(rt(), buyer!, { amount: 10_000 });
    const order = await createOrder(rt(), buyer!, { items: [{ productId: p.id, quantity: 3 }] });
    expect(await unsavedIds()).toContain(order.orderId);
    const paid = await payOrder(rt(), buyer!, { orderId: order.orderId });
    expect(paid).toMatchObject({ status: 'PAID', amount: 6_000, balance: 4_000 });
    expect(await unsavedIds()).not.toContain(order.orderId);
    // A later save finds nothing to do and changes nothing: the order stays paid.
    await drainUnsavedOrders(rt());
    expect((await saved([order.orderId])).rows.get(order.orderId).status).toBe('PAID');
    expect(await readAvailable(rt().redis, rt().keys, [p.id])).toEqual([2]);
    await noInventoryDrift();
  });

  it('300 orders paid the moment they are answered, while two drains save them: each paid once, with or without a key', async () => {
    // payOrder asks Postgres first and looks in Redis only when the order is not there yet; the
    // drains make every interleaving happen: saved before the payment, between its first try
    // and its look in Redis, or by the payment itself.
    const p = await product(300, 1_000);
    const buyers = users(300);
    await Promise.all(buyers.map((u) => chargeBalance(rt(), u, { amount: 1_000 })));
    const drains = Promise.all([drainUnsavedOrders(rt()), drainUnsavedOrders(rt())]);
    const results = await Promise.allSettled(
      buyers.map(async (u, i) => {
        const order = await createOrder(rt(), u, { items: [{ productId: p.id, quantity: 1 }] });
        if (i % 3 === 0) void drainUnsavedOrders(rt());
        const key = i % 2 === 0 ? `pay-${u}` : undefined;
        const paid = await payOrder(rt(), u, { orderId: order.orderId, idempotencyKey: key });
        // A retry with the key replays the payment; without one it is refused as already paid.
        const again = await payOrder(rt(), u, { orderId: order.orderId, idempotencyKey: key }).then(
          (v) => ({ replayed: v.paymentId === paid.paymentId }),
          (err: { code?: string }) => ({ refused: err.code }),
        );
        return { order, paid, again, key };
      }),
    );
    await drains;
    await drainUnsavedOrders(rt());
    const done = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    expect(
      results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason),
    ).toEqual([]);
    expect(done).toHaveLength(300);
    for (const { paid, again, key } of done) {
      expect(paid).toMatchObject({ status: 'PAID', amount: 1_000, balance: 0 });
      expect(again).toEqual(key ? { replayed: true } : { refused: 'ORDER_NOT_PAYABLE' });
    }
    const rows = await rt()
      .db.selectFrom('payments')
      .select(({ fn }) => [fn.countAll<string>().as('n'), fn.sum<string>('amount').as('total')])
      .where(
        'order_id',
        'in',
        done.map((d) => d.order.orderId),
      )
      .executeTakeFirstOrThrow();
    expect({ n: Number(rows.n), total: Number(rows.total) }).toEqual({ n: 300, total: 300_000 });
    expect(await unsavedIds()).toEqual([]);
    expect(await readAvailable(rt().redis, rt().keys, [p.id])).toEqual([0]);
    await noInventoryDrift();
  });

  it('the orphan sweep leaves an unsaved order alone: it is answered, not abandoned', async () => {
    const p = await product(3);
    const order = await createOrder(rt(), users(1)[0]!, { items: [{ productId: p.id, quantity: 3 }] });
    const swept = await reconcileHolds(rt(), { orphanAfterMs: 0 });
    expect(swept.orphansReleased).toBe(0);
    expect(await readAvailable(rt().redis, rt().keys, [p.id])).toEqual([0]);
    await drainUnsavedOrders(rt());
    expect((await reconcileHolds(rt(), { orphanAfterMs: 0 })).orphansReleased).toBe(0);
    await expectSaved([order]);
    await noInventoryDrift();
  });

  it('a save that died after its commit (record still in Redis) is repeated as a no-op', async () => {
    const p = await product(4);
    const order = await createOrder(rt(), users(1)[0]!, { items: [{ productId: p.id, quantity: 1 }] });
    const record = await rt().redis.hget(rt().keys.stock(p.id).unsaved, order.orderId);
    // What a save that was killed between its COMMIT and its HDEL left behind.
    await rt()
      .db.transaction()
      .execute((trx) => insertPendingOrders(trx, [decodeUnsavedOrder(order.orderId, record!)]));
    expect(await drainUnsavedOrders(rt())).toBeGreaterThanOrEqual(1);
    await expectSaved([order]);
    expect(await unsavedIds()).not.toContain(order.orderId);
    await noInventoryDrift();
  });

  it('the reconciler reports an order the worker has not saved for a minute, and nothing once it is saved', async () => {
    const p = await product(2);
    const order = await createOrder(rt(), users(1)[0]!, { items: [{ productId: p.id, quantity: 1 }] });
    // Answered moments ago: not lagging yet.
    expect((await reconcile(rt())).drifts.filter((d) => d.kind === 'order-save-lagging')).toEqual([]);
    // With no grace at all (as a minute without a worker would look).
    await new Promise((r) => setTimeout(r, 5));
    const lagging = (await reconcile(rt(), { saveLagMs: 0 })).drifts.filter(
      (d) => d.kind === 'order-save-lagging',
    );
    expect(lagging.map((d) => d.id)).toContain(order.orderId);
    await drainUnsavedOrders(rt());
    expect(
      (await reconcile(rt(), { saveLagMs: 0 })).drifts.filter((d) => d.kind === 'order-save-lagging'),
    ).toEqual([]);
  });

  it("unsaved orders that outlive their product's count keep their units through a rebuild", async () => {
    const p = await product(10);
    const order = await createOrder(rt(), users(1)[0]!, { items: [{ productId: p.id, quantity: 4 }] });
    // The count and holds alone are lost (the unsaved order survived): the load starts from
    // Postgres, which does not know the order, and must take its hold again on top.
    await rt().redis.del(rt().keys.stock(p.id).available, rt().keys.stock(p.id).holds);
    await rebuildInventory(rt());
    expect(await readAvailable(rt().redis, rt().keys, [p.id])).toEqual([6]);
    await noInventoryDrift();
    await drainUnsavedOrders(rt());
    await expectSaved([order]);
    await noInventoryDrift();
  });
});
