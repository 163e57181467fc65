import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';
import { drainUnsavedOrders } from '../src/order/order.persist.ts';
import { insertPendingOrders, type NewOrder } from '../src/order/order.repository.ts';
import { createOrder, type OrderView } from '../src/order/order.service.ts';
import { reconcileHolds } from '../src/order/order-expiry.service.ts';
import { readAvailable } from '../src/product/inventory.store.ts';
import { createProduct } from '../src/product/product.service.ts';
import { reconcile } from '../src/reconcile/reconcile.service.ts';
import { createRuntime, type Runtime } from '../src/runtime.ts';
import { expectOrdersInPostgres, rushLines } from './order-checks.ts';

// Orders with a coupon and without an idempotency key are committed in groups (order.batch.ts):
// Postgres' unique index decides a coupon's one open order, so these are saved before they are
// answered (orders with neither go through Redis first: order-unsaved.test.ts). Every test
// fires its orders at once and then checks the invariants against real Redis and Postgres: an
// answered order is committed with its lines, Redis holds exactly what the pending orders in
// Postgres hold, a refused order holds nothing, and no unit is sold twice.
describe('order.create group commit', () => {
  let env: TestRuntime;
  let admin: pg.Client;
  let nextUser = 10_000;
  beforeAll(async () => {
    env = await createTestRuntime();
    admin = new pg.Client({ connectionString: env.config.databaseUrl });
    await admin.connect();
  });
  afterAll(async () => {
    await admin.end();
    await env.cleanup();
  });

  const rt = () => env.rt;
  const users = (n: number) => Array.from({ length: n }, () => nextUser++);
  const product = (stock: number, price = 1_000) =>
    createProduct(rt(), { name: `p-${randomUUID().slice(0, 8)}`, price, stock });

  /** A coupon the user holds (in Postgres, where order.create looks first). */
  async function couponFor(userIds: number[], discount = 100): Promise<number> {
    const { id } = await rt()
      .db.insertInto('coupons')
      .values({ name: 'batch', discount_type: 'FIXED', discount_value: discount, total_quantity: 1000 })
      .returning('id')
      .executeTakeFirstOrThrow();
    await rt()
      .db.insertInto('issued_coupons')
      .values(userIds.map((userId) => ({ coupon_id: id, user_id: userId, issued_at: new Date() })))
      .execute();
    return id;
  }

  type Settled = PromiseSettledResult<OrderView>;
  const fulfilled = (results: Settled[]) =>
    results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const refusals = (results: Settled[]) =>
    results.flatMap((r) => (r.status === 'rejected' ? [r.reason as { code?: string }] : []));

  /** Pending orders of the product in Postgres, and the holds of it in Redis: order id -> units. */
  async function ledger(productId: number) {
    const rows = await rt()
      .db.selectFrom('order_lines as l')
      .innerJoin('orders as o', 'o.id', 'l.order_id')
      .select(['l.order_id', 'l.quantity'])
      .where('o.status', '=', 'PENDING_PAYMENT')
      .where('l.product_id', '=', productId)
      .execute();
    const pending = new Map(rows.map((r) => [r.order_id, r.quantity]));
    const holds = new Map<string, number>();
    for (const [orderId, units] of Object.entries(
      await rt().redis.hgetall(rt().keys.stock(productId).holds),
    )) {
      holds.set(orderId, Number(units));
    }
    const [available] = await readAvailable(rt().redis, rt().keys, [productId]);
    return { pending, holds, available };
  }

  /** Redis and Postgres agree on stock and holds, and nothing is oversold. */
  async function expectConsistent(productId: number, stock: number) {
    const { pending, holds, available } = await ledger(productId);
    expect(holds).toEqual(pending);
    const heldUnits = [...pending.values()].reduce((a, b) => a + b, 0);
    expect(heldUnits).toBeLessThanOrEqual(stock);
    expect(available).toBe(stock - heldUnits);
    const drifts = (await reconcile(rt())).drifts.filter((d) => !d.kind.startsWith('coupon'));
    expect(drifts).toEqual([]);
  }

  /** Every answered order is committed in Postgres as answered, lines included. */
  const expectCommitted = (orders: OrderView[]) => expectOrdersInPostgres(rt().db, orders);

  /**
   * Users who each hold a coupon, so that their orders take the group commit: `buy(userId,
   * items)` orders with it. One open order per user and coupon, as in every test here.
   */
  async function batchBuyers(n: number) {
    const ids = users(n);
    const coupon = await couponFor(ids);
    const buy = (userId: number, items: { productId: number; quantity: number }[], runtime = rt()) =>
      createOrder(runtime, userId, { items, couponId: coupon });
    return { ids, coupon, buy };
  }

  /** Loses a product's stock the way a Redis flush or restart (or a lost master) does. */
  const loseRedisInventory = (productId: number) =>
    rt().redis.del(rt().keys.stock(productId).available, rt().keys.stock(productId).holds);

  it('sells exactly the stock to 400 parallel orders, each answered order committed with its lines', async () => {
    const p = await product(100, 1_500);
    const extra = await product(1_000, 200);
    const { ids, buy } = await batchBuyers(400);
    // Every third buyer orders two lines, so lines of one batch belong to different orders.
    const results = await Promise.allSettled(
      ids.map((userId, i) => buy(userId, rushLines(i, p.id, extra.id))),
    );
    const sold = fulfilled(results);
    expect(sold).toHaveLength(100);
    expect(refusals(results).every((e) => e.code === 'OUT_OF_STOCK')).toBe(true);
    await expectCommitted(sold);
    await expectConsistent(p.id, 100);
    await expectConsistent(extra.id, 1_000);
    expect((await ledger(p.id)).pending).toEqual(new Map(sold.map((o) => [o.orderId, 1])));
    // Group commit happened: fewer transactions wrote these rows than there are orders.
    const { rows } = await sql<{ n: number }>`
      SELECT count(DISTINCT xmin::text)::int AS n FROM orders WHERE id = ANY(${sold.map((o) => o.orderId)}::uuid[])
    `.execute(rt().db);
    expect(rows[0]!.n).toBeLessThan(sold.length);
  });

  it('one coupon, many concurrent orders by its holder: exactly one order holds it, no leaked holds', async () => {
    const p = await product(10_000);
    const buyers = users(20);
    const coupon = await couponFor(buyers);
    // Each buyer sends 10 orders with the coupon at once, mixed with 5 without it.
    const calls = buyers.flatMap((userId) => [
      ...Array.from({ length: 10 }, () =>
        createOrder(rt(), userId, { items: [{ productId: p.id, quantity: 1 }], couponId: coupon }).then(
          (o) => ({ userId, o }),
        ),
      ),
      ...Array.from({ length: 5 }, () =>
        createOrder(rt(), userId, { items: [{ productId: p.id, quantity: 1 }] }).then((o) => ({ userId, o })),
      ),
    ]);
    const results = await Promise.allSettled(calls);
    const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const withCoupon = ok.filter((x) => x.o.couponId === coupon);
    expect(withCoupon.map((x) => x.userId).sort()).toEqual([...buyers].sort());
    expect(withCoupon.every((x) => x.o.discountAmount === 100)).toBe(true);
    expect(ok.filter((x) => x.o.couponId === null)).toHaveLength(100);
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as { code?: string }] : []));
    expect(refused).toHaveLength(180);
    expect(refused.every((e) => e.code === 'COUPON_NOT_USABLE')).toBe(true);
    // The coupon orders were committed before they were answered; the plain ones were answered
    // from Redis and are saved here, as the worker would.
    await expectCommitted(withCoupon.map((x) => x.o));
    await drainUnsavedOrders(rt());
    await expectCommitted(ok.map((x) => x.o));
    await expectConsistent(p.id, 10_000);
    expect((await ledger(p.id)).pending.size).toBe(120);
  });

  it('decides coupon conflicts row by row, within one batch and against an uncommitted one', async () => {
    const p = await product(100);
    const [u, v] = users(2);
    const coupon = await couponFor([u!, v!]);
    const now = new Date();
    const order = (userId: number, couponId: number | null): NewOrder => ({
      row: {
        id: randomUUID(),
        user_id: userId,
        status: 'PENDING_PAYMENT',
        total_amount: 1_000,
        discount_amount: couponId === null ? 0 : 100,
        pay_amount: couponId === null ? 1_000 : 900,
        coupon_id: couponId,
        idempotency_key: null,
        created_at: now,
        expires_at: new Date(now.getTime() + 60_000),
        paid_at: null,
        closed_at: null,
      },
      lines: [{ productId: p.id, quantity: 1, unitPrice: 1_000 }],
    });

    // Within one insert: the first of two orders with the same coupon wins, the others go in.
    const first = order(u!, coupon);
    const twin = order(u!, coupon);
    const plain = order(u!, null);
    const inserted = await rt()
      .db.transaction()
      .execute((trx) => insertPendingOrders(trx, [first, twin, plain]));
    expect(inserted).toEqual(new Set([first.row.id, plain.row.id]));
    const lineOwners = await rt()
      .db.selectFrom('order_lines')
      .select('order_id')
      .where('product_id', '=', p.id)
      .execute();
    expect(lineOwners.map((l) => l.order_id).sort()).toEqual([first.row.id, plain.row.id].sort());

    // Against another transaction's uncommitted row: waits for it, then skips (it committed)...
    const other = await rt().db.startTransaction().execute();
    const a = order(v!, coupon);
    await insertPendingOrders(other, [a]);
    const b = order(v!, coupon);
    const waiting = rt()
      .db.transaction()
      .execute((trx) => insertPendingOrders(trx, [b]));
    await expect.poll(() => lockWaiters()).toBeGreaterThan(0);
    await other.commit().execute();
    expect(await waiting).toEqual(new Set());
    // ...or inserts it once the other rolled back.
    await rt().db.updateTable('orders').set({ status: 'CANCELLED' }).where('id', '=', a.row.id).execute();
    const other2 = await rt().db.startTransaction().execute();
    await insertPendingOrders(other2, [order(v!, coupon)]);
    const c = order(v!, coupon);
    const waiting2 = rt()
      .db.transaction()
      .execute((trx) => insertPendingOrders(trx, [c]));
    await expect.poll(() => lockWaiters()).toBeGreaterThan(0);
    await other2.rollback().execute();
    expect(await waiting2).toEqual(new Set([c.row.id]));
    // These orders never held stock in Redis: close them so later checks see a clean ledger.
    await rt()
      .db.updateTable('orders')
      .set({ status: 'CANCELLED' })
      .where('user_id', 'in', [u!, v!])
      .execute();
  });

  /** Backends of this database inside pg_sleep (a stalled insert trigger). */
  async function sleepers(): Promise<number> {
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event = 'PgSleep'`);
    return rows[0].n as number;
  }

  async function lockWaiters(): Promise<number> {
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock'`);
    return rows[0].n as number;
  }

  it('keyed and keyless orders at once share the stock exactly; a repeated key replays its order', async () => {
    const p = await product(60);
    const { ids, buy } = await batchBuyers(100);
    const keyless = ids.map((userId) => buy(userId, [{ productId: p.id, quantity: 1 }]));
    const keyed = users(50).flatMap((userId) => {
      const input = { items: [{ productId: p.id, quantity: 1 }], idempotencyKey: `k-${userId}` };
      return [createOrder(rt(), userId, input), createOrder(rt(), userId, input)];
    });
    const [keylessResults, keyedResults] = await Promise.all([
      Promise.allSettled(keyless),
      Promise.allSettled(keyed),
    ]);
    for (let i = 0; i < keyedResults.length; i += 2) {
      const [x, y] = [keyedResults[i]!, keyedResults[i + 1]!];
      expect(x.status).toBe(y.status);
      if (x.status === 'fulfilled' && y.status === 'fulfilled') expect(x.value.orderId).toBe(y.value.orderId);
    }
    const distinct = new Set(
      [...fulfilled(keylessResults), ...fulfilled(keyedResults)].map((o) => o.orderId),
    );
    expect(distinct.size).toBe(60);
    expect(fulfilled(keylessResults).length).toBeGreaterThan(0);
    expect(
      [...refusals(keylessResults), ...refusals(keyedResults)].every((e) => e.code === 'OUT_OF_STOCK'),
    ).toBe(true);
    await expectCommitted(fulfilled(keylessResults));
    await expectConsistent(p.id, 60);
    expect(new Set((await ledger(p.id)).pending.keys())).toEqual(distinct);
  });

  it('keyed coupon orders share group commits: each key is one order, repeats racing it replay it, a coupon backs one open order, refused keys are given up', async () => {
    const p = await product(75);
    const { ids, coupon } = await batchBuyers(100);
    // Each buyer sends key A three times at once and key B (same coupon) once: A and B race for
    // the coupon, and the product runs out of stock part way.
    const sent = ids.flatMap((userId) => {
      const items = [{ productId: p.id, quantity: 1 }];
      const a = { items, couponId: coupon, idempotencyKey: `a-${userId}` };
      const b = { items, couponId: coupon, idempotencyKey: `b-${userId}` };
      return [a, a, b, a].map((input) => ({
        userId,
        key: input.idempotencyKey,
        call: createOrder(rt(), userId, input),
      }));
    });
    const results = await Promise.allSettled(sent.map((s) => s.call));
    const answers = new Map<string, Set<string>>();
    for (const [i, r] of results.entries()) {
      if (r.status === 'rejected') {
        expect(['OUT_OF_STOCK', 'COUPON_NOT_USABLE']).toContain((r.reason as { code?: string }).code);
        continue;
      }
      const k = `${sent[i]!.userId}:${sent[i]!.key}`;
      answers.set(k, (answers.get(k) ?? new Set()).add(r.value.orderId));
    }
    // One order per key, whatever its repeats.
    for (const orders of answers.values()) expect(orders.size).toBe(1);
    const sold = [...answers.values()].flatMap((o) => [...o]);
    expect(sold.length).toBeGreaterThan(0);
    expect(sold.length).toBeLessThanOrEqual(75);
    // A coupon backs at most one open order of its user.
    const perUser = new Map<number, number>();
    for (const k of answers.keys()) {
      const u = Number(k.split(':')[0]);
      perUser.set(u, (perUser.get(u) ?? 0) + 1);
    }
    expect(Math.max(...perUser.values())).toBe(1);
    const orders = fulfilled(results);
    await expectCommitted(orders);
    await expectConsistent(p.id, 75);
    expect(new Set((await ledger(p.id)).pending.keys())).toEqual(new Set(sold));
    // The key table holds exactly the keys that made an order, each with the order as its answer.
    const keyRows = await rt()
      .db.selectFrom('idempotency_keys')
      .select(['user_id', 'key', 'response'])
      .where('scope', '=', 'order.create')
      .where('user_id', 'in', ids)
      .execute();
    expect(new Set(keyRows.map((r) => `${r.user_id}:${r.key}`))).toEqual(new Set(answers.keys()));
    for (const r of keyRows) {
      expect((r.response as OrderView).orderId).toBe([...answers.get(`${r.user_id}:${r.key}`)!][0]);
    }
    // Group commit happened for keyed orders too.
    const { rows } = await sql<{ n: number }>`
      SELECT count(DISTINCT xmin::text)::int AS n FROM orders WHERE id = ANY(${sold}::uuid[])
    `.execute(rt().db);
    expect(rows[0]!.n).toBeLessThan(sold.length);
  });

  it('a sold-out product refuses coupon and multi-line orders from Redis alone: no batch, no Postgres', async () => {
    const p = await product(5);
    const other = await product(100);
    const { ids, buy } = await batchBuyers(40);
    const first = await Promise.allSettled(
      ids.slice(0, 20).map((u) => buy(u, [{ productId: p.id, quantity: 1 }])),
    );
    expect(fulfilled(first)).toHaveLength(5);
    const joins = vi.spyOn(rt().orderBatcher, 'join');
    const queries = vi.spyOn(rt().db, 'selectFrom');
    try {
      const later = await Promise.allSettled(
        ids.slice(20).map((u, i) =>
          buy(
            u,
            i % 2 === 0
              ? [{ productId: p.id, quantity: 1 }]
              : [
                  { productId: other.id, quantity: 1 },
                  { productId: p.id, quantity: 1 },
                ],
          ),
        ),
      );
      expect(refusals(later).map((e) => e.code)).toEqual(Array(20).fill('OUT_OF_STOCK'));
      expect(joins).not.toHaveBeenCalled();
      expect(queries).not.toHaveBeenCalled();
    } finally {
      joins.mockRestore();
      queries.mockRestore();
    }
    await expectConsistent(p.id, 5);
    await expectConsistent(other.id, 100);
  });

  it('a batch whose insert fails for a definite reason releases every hold and answers every joiner with the error', async () => {
    const p = await product(1_000);
    const { ids: crowd, buy } = await batchBuyers(61);
    const poison = crowd.splice(60, 1)[0]!;
    // An order of this user makes the whole multi-row insert fail (a check violation: a
    // definite rollback), as any constraint error of the statement would.
    await admin.query(`CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.user_id = ${poison} THEN
        RAISE EXCEPTION 'poison order' USING ERRCODE = 'check_violation';
      END IF; RETURN NEW; END $$`);
    await admin.query(
      'CREATE TRIGGER refuse_poison BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION refuse_poison()',
    );
    try {
      crowd.splice(30, 0, poison);
      const results = await Promise.allSettled(
        crowd.map((userId) => buy(userId, [{ productId: p.id, quantity: 2 }])),
      );
      const failed = refusals(results);
      // The poison order and everyone committed with it got the batch's error.
      expect(results[30]!.status).toBe('rejected');
      expect(failed.length).toBeGreaterThanOrEqual(1);
      expect(failed.every((e) => e.code === '23514')).toBe(true);
      const sold = fulfilled(results);
      expect(sold.length + failed.length).toBe(crowd.length);
      await expectCommitted(sold);
      // Nothing half-done: no order row of a failed joiner, no hold, and their units are back.
      const { pending } = await ledger(p.id);
      expect(new Set(pending.keys())).toEqual(new Set(sold.map((o) => o.orderId)));
      await expectConsistent(p.id, 1_000);
    } finally {
      await admin.query('DROP TRIGGER refuse_poison ON orders; DROP FUNCTION refuse_poison()');
    }
    // The next batch is unaffected.
    const next = await batchBuyers(1);
    const after = await next.buy(next.ids[0]!, [{ productId: p.id, quantity: 1 }]);
    expect(after.status).toBe('PENDING_PAYMENT');
  });

  it('a batch whose connection dies mid-insert leaves its holds to the orphan sweep, which releases them', async () => {
    const p = await product(1_000);
    const { ids: crowd, buy } = await batchBuyers(41);
    const slow = crowd.splice(40, 1)[0]!;
    await admin.query(`CREATE FUNCTION stall_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.user_id = ${slow} THEN PERFORM pg_sleep(30); END IF; RETURN NEW; END $$`);
    await admin.query(
      'CREATE TRIGGER stall_insert BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION stall_insert()',
    );
    try {
      crowd.splice(20, 0, slow);
      const orders = Promise.allSettled(
        crowd.map((userId) => buy(userId, [{ productId: p.id, quantity: 1 }])),
      );
      // The batch with the stalled order is inside its insert; its connection is lost there,
      // so nobody can know whether it would have committed.
      await expect.poll(() => sleepers()).toBe(1);
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event = 'PgSleep'`);
      const results = await orders;
      expect(results[20]!.status).toBe('rejected');
      const sold = fulfilled(results);
      await expectCommitted(sold);
      // The failed joiners' holds are kept (an unknown outcome is never released on a guess)...
      const { pending, holds } = await ledger(p.id);
      expect(new Set(pending.keys())).toEqual(new Set(sold.map((o) => o.orderId)));
      const orphans = [...holds.keys()].filter((id) => !pending.has(id));
      expect(orphans).toHaveLength(crowd.length - sold.length);
      // ...until the sweep finds that Postgres has no such order.
      const swept = await reconcileHolds(rt(), { orphanAfterMs: 0 });
      expect(swept.orphansReleased).toBe(orphans.length);
      await expectConsistent(p.id, 1_000);
    } finally {
      await admin.query('DROP TRIGGER stall_insert ON orders; DROP FUNCTION stall_insert()');
    }
  });

  it("Redis loses the product's stock before a crowd: the joiners leave their batch, one rebuild, no deadlock", async () => {
    const p = await product(150);
    const { ids, buy } = await batchBuyers(301);
    await buy(ids.pop()!, [{ productId: p.id, quantity: 10 }]);
    await loseRedisInventory(p.id);
    const results = await Promise.allSettled(
      ids.map((userId) => buy(userId, [{ productId: p.id, quantity: 1 }])),
    );
    expect(fulfilled(results)).toHaveLength(140);
    expect(refusals(results).every((e) => e.code === 'OUT_OF_STOCK')).toBe(true);
    await expectCommitted(fulfilled(results));
    await expectConsistent(p.id, 150);
  });

  it("Redis loses the product's stock in the middle of a crowd: no deadlock, no oversell, Redis rebuilt to match", async () => {
    const p = await product(300);
    const buyers = await batchBuyers(401);
    const buy = (userId: number) => buyers.buy(userId, [{ productId: p.id, quantity: 1 }]);
    // The batch with this user's order is held up between its joiners' holds and its commit.
    const slow = buyers.ids.pop()!;
    await admin.query(`CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.user_id = ${slow} THEN PERFORM pg_sleep(0.5); END IF; RETURN NEW; END $$`);
    await admin.query(
      'CREATE TRIGGER slow_insert BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION slow_insert()',
    );
    try {
      const crowd = buyers.ids.slice(0, 150);
      crowd.splice(75, 0, slow);
      const firstWave = Promise.allSettled(crowd.map(buy));
      await expect.poll(() => sleepers()).toBe(1);
      // Redis loses the inventory while that batch's holds are not committed; a second wave
      // finds it not loaded and rebuilds it, which must wait for that batch.
      await loseRedisInventory(p.id);
      const secondWave = Promise.allSettled(buyers.ids.slice(150).map(buy));
      const results = [...(await firstWave), ...(await secondWave)];
      const sold = fulfilled(results);
      expect(results[75]!.status).toBe('fulfilled');
      expect(refusals(results).every((e) => e.code === 'OUT_OF_STOCK')).toBe(true);
      expect(sold).toHaveLength(300);
      await expectCommitted(sold);
      await expectConsistent(p.id, 300);
    } finally {
      await admin.query('DROP TRIGGER slow_insert ON orders; DROP FUNCTION slow_insert()');
    }
  });

  it('closing the runtime settles an open batch: its joiners are committed and answered, later ones refused', async () => {
    const p = await product(100);
    const { ids, buy } = await batchBuyers(31);
    const own: Runtime = await createRuntime(env.config, { name: 'order-batch-close' });
    // A rebuild-like exclusive inventory lock keeps the first batch open (before its lock).
    const blocker = new pg.Client({ connectionString: env.config.databaseUrl });
    await blocker.connect();
    await blocker.query("BEGIN; SELECT pg_advisory_xact_lock(hashtextextended('inventory', 0))");
    let closed: Promise<void> | undefined;
    try {
      // Settled from the start: a call that reaches the batcher after close began is refused at
      // once, possibly while this test still awaits the COMMIT below.
      const orders = Promise.allSettled(
        ids.slice(0, 30).map((userId) => buy(userId, [{ productId: p.id, quantity: 1 }], own)),
      );
      await expect.poll(() => lockWaiters()).toBeGreaterThan(0);
      closed = own.close();
      await blocker.query('COMMIT');
      const results = await orders;
      await closed;
      const sold = fulfilled(results);
      // The batch that was open when close began committed and answered all of its joiners.
      expect(sold.length).toBeGreaterThanOrEqual(1);
      // Whoever had not joined yet is refused before holding anything: by the batcher, or by
      // the closed pool while still checking its coupon (expectConsistent: nothing held).
      expect(
        refusals(results).every(
          (e) => e.code === 'UNAVAILABLE' || (e as Error).message === 'driver has already been destroyed',
        ),
      ).toBe(true);
      await expectCommitted(sold);
      await expectConsistent(p.id, 100);
      await expect(buy(ids[30]!, [{ productId: p.id, quantity: 1 }], own)).rejects.toThrow();
      await expectConsistent(p.id, 100);
    } finally {
      await blocker.end();
      if (!closed) await own.close();
    }
  });
});
