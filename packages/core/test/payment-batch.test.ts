import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';
import { chargeBalance } from '../src/balance/balance.service.ts';
import { manualClock } from '../src/clock.ts';
import { createCoupon, issueCoupon } from '../src/coupon/coupon.service.ts';
import { AppError } from '../src/errors.ts';
import { drainUnsavedOrders } from '../src/order/order.persist.ts';
import { createOrder } from '../src/order/order.service.ts';
import { expireDueOrders, reconcileHolds } from '../src/order/order-expiry.service.ts';
import type { PaymentView } from '../src/payment/payment.batch.ts';
import { lockStock } from '../src/payment/payment.repository.ts';
import { payOrder } from '../src/payment/payment.service.ts';
import { readAvailable } from '../src/product/inventory.store.ts';
import { createProduct } from '../src/product/product.service.ts';

// Payments are committed in groups (payment.batch.ts): the payments that arrive together share
// one transaction and each keeps its own outcome. Here 2,000 orders of 200 users are paid all at
// once, many several times with the same idempotency key and some also without one, while the
// expiry sweep races them for the orders whose hold is running out, and some users cannot pay
// for all their orders. Then every invariant is checked in Postgres and Redis.
const IN_FLIGHT = 300;

/** Runs `fn` over `items` with at most `limit` calls in flight; results in the items' order. */
async function settleAll<T, R>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!).then(
        (value) => ({ status: 'fulfilled' as const, value }),
        (reason: unknown) => ({ status: 'rejected' as const, reason }),
      );
    }
  };
  await Promise.all(Array.from({ length: limit }, lane));
  return results;
}

/** Creates each user's orders, a few users at a time (the setup is not what is under test). */
async function inChunks<R>(users: number[], make: (u: number) => Promise<R>[]): Promise<R[]> {
  const made: R[] = [];
  for (let i = 0; i < users.length; i += 20) {
    made.push(...(await Promise.all(users.slice(i, i + 20).flatMap(make))));
  }
  return made;
}

describe('payment.pay group commit', () => {
  const clock = manualClock(new Date());
  let env: TestRuntime;
  const rt = () => env.rt;
  beforeAll(async () => {
    env = await createTestRuntime({ clock });
  });
  afterAll(() => env.cleanup());

  it('2,000 payments from 200 users racing the expiry sweep and repeated keys keep every invariant', async () => {
    const USERS = 200;
    const ORDERS_PER_USER = 10;
    const POOR = new Set(Array.from({ length: 30 }, (_, i) => 50_001 + i * 3));
    const users = Array.from({ length: USERS }, (_, i) => 50_001 + i);
    const STOCK = 100_000;
    const p1 = await createProduct(rt(), { name: 'batch p1', price: 1_000, stock: STOCK });
    const p2 = await createProduct(rt(), { name: 'batch p2', price: 2_500, stock: STOCK });
    // Two coupons: one issued in Postgres, one only in Redis (not yet persisted by the worker),
    // so the payment writes the issuance's row itself.
    const couponDef = {
      discount: { type: 'FIXED' as const, value: 500 },
      totalQuantity: 1_000,
      issueStartsAt: null,
      issueEndsAt: null,
      validDays: null,
    };
    const { couponId: inPostgres } = await createCoupon(rt(), { name: 'pg', ...couponDef });
    const { couponId: inRedis } = await createCoupon(rt(), { name: 'redis', ...couponDef });
    await rt()
      .db.insertInto('issued_coupons')
      .values(
        users
          .filter((_, i) => i % 2 === 0)
          .map((u) => ({ coupon_id: inPostgres, user_id: u, issued_at: clock.now() })),
      )
      .execute();
    for (const [i, u] of users.entries()) if (i % 2 === 1) await issueCoupon(rt(), u, inRedis);

    for (const u of users) await chargeBalance(rt(), u, { amount: POOR.has(u) ? 8_000 : 100_000 });

    // Half of each user's orders (with the coupon order) now, the rest a minute later: the
    // first half's holds end while the payments run.
    const makeOrders = (u: number, from: number, to: number) =>
      Array.from({ length: to - from }, (_, j) => {
        const n = from + j;
        const items = [{ productId: p1.id, quantity: 1 + (n % 2) }];
        if (n % 3 === 0) items.push({ productId: p2.id, quantity: 1 });
        const couponId = n === 0 ? (users.indexOf(u) % 2 === 0 ? inPostgres : inRedis) : undefined;
        return createOrder(rt(), u, { items, couponId }).then((o) => ({ ...o, userId: u }));
      });
    const early = (await inChunks(users, (u) => makeOrders(u, 0, ORDERS_PER_USER / 2))).map((o) => ({
      ...o,
      early: true,
    }));
    // Saved now, so the sweep sees them; the later half waits in Redis until its payment saves it.
    await drainUnsavedOrders(rt());
    clock.advance(60_000);
    const late = (await inChunks(users, (u) => makeOrders(u, ORDERS_PER_USER / 2, ORDERS_PER_USER))).map(
      (o) => ({ ...o, early: false }),
    );
    const orders = [...early, ...late];
    expect(orders).toHaveLength(USERS * ORDERS_PER_USER);
    const ownerOf = new Map(orders.map((o) => [o.orderId, o.userId]));

    // The payers see the early orders one millisecond inside their hold; the sweep sees them due.
    const earlyExpiry = new Date(early[0]!.expiresAt).getTime();
    const payer = { ...rt(), clock: { now: () => new Date(earlyExpiry - 1) } };
    const sweeper = { ...rt(), clock: { now: () => new Date(earlyExpiry + 1) } };

    type Call = { orderId: string; key?: string };
    const calls: Call[] = [];
    for (const [i, o] of orders.entries()) {
      for (let c = 0; c <= i % 3; c++) calls.push({ orderId: o.orderId, key: `k-${o.orderId}` });
      if (i % 7 === 0) calls.push({ orderId: o.orderId });
    }
    // A fixed shuffle, so repeats of one order land in the same batch and in different ones.
    for (let i = calls.length - 1; i > 0; i--) {
      const j = (i * 7919) % (i + 1);
      [calls[i], calls[j]] = [calls[j]!, calls[i]!];
    }

    let paying = true;
    const sweeping = (async () => {
      let expired = 0;
      while (paying) {
        expired += await expireDueOrders(sweeper);
        await new Promise((r) => setTimeout(r, 5));
      }
      return expired + (await expireDueOrders(sweeper));
    })();
    // As many in flight as the API's clients would have (a payment of an order still waiting in
    // Redis first saves it on a pooled connection of its own).
    const results = await settleAll(calls, IN_FLIGHT, (c) =>
      payOrder(payer, ownerOf.get(c.orderId)!, { orderId: c.orderId, idempotencyKey: c.key }),
    );
    paying = false;
    const expiredBySweep = await sweeping;
    await reconcileHolds(rt());

    // Every refusal is one of the payment's own, and INSUFFICIENT_BALANCE only for the poor.
    const answers = new Map<string, PaymentView[]>();
    let insufficient = 0;
    for (const [i, r] of results.entries()) {
      const { orderId } = calls[i]!;
      if (r.status === 'fulfilled') {
        answers.set(orderId, [...(answers.get(orderId) ?? []), r.value]);
        continue;
      }
      expect(r.reason).toBeInstanceOf(AppError);
      const code = (r.reason as AppError).code;
      expect(['ORDER_NOT_PAYABLE', 'INSUFFICIENT_BALANCE']).toContain(code);
      if (code === 'INSUFFICIENT_BALANCE') {
        insufficient++;
        expect(POOR.has(ownerOf.get(orderId)!)).toBe(true);
      }
    }
    expect(insufficient).toBeGreaterThan(0);
    expect(expiredBySweep).toBeGreaterThan(0);

    const db = rt().db;
    const rows = await db.selectFrom('orders').selectAll().where('user_id', 'in', users).execute();
    const byId = new Map(rows.map((r) => [r.id, r]));
    const payments = await db.selectFrom('payments').selectAll().where('user_id', 'in', users).execute();
    const paymentOf = new Map(payments.map((p) => [p.order_id, p]));
    expect(paymentOf.size).toBe(payments.length);
    const ledger = await db
      .selectFrom('balance_ledger')
      .selectAll()
      .where('user_id', 'in', users)
      .orderBy('user_id')
      .orderBy('created_at')
      .execute();
    const ledgerOf = new Map(ledger.filter((l) => l.payment_id).map((l) => [l.payment_id!, l]));
    const sales = await db.selectFrom('sales').selectAll().execute();
    const outbox = await db.selectFrom('outbox').selectAll().execute();
    const outboxKeys = new Set(outbox.map((m) => m.key));
    const keys = await db.selectFrom('idempotency_keys').selectAll().where('user_id', 'in', users).execute();
    const keyOf = new Map(keys.map((k) => [k.key, k]));

    let paidEarly = 0;
    let expiredEarly = 0;
    for (const o of orders) {
      const row = byId.get(o.orderId)!;
      const got = answers.get(o.orderId) ?? [];
      const payment = paymentOf.get(o.orderId);
      if (row.status === 'PAID') {
        // Paid exactly once: one payment, one ledger row of its amount, its sales, its message;
        // every successful answer (first or replayed) is that payment.
        expect(got.length).toBeGreaterThan(0);
        expect(payment).toBeDefined();
        expect(new Set(got.map((g) => g.paymentId))).toEqual(new Set([payment!.id]));
        expect(payment!.amount).toBe(row.pay_amount);
        if (row.pay_amount > 0) expect(ledgerOf.get(payment!.id)?.amount).toBe(row.pay_amount);
        expect(sales.filter((s) => s.order_id === o.orderId).map((s) => [s.product_id, s.quantity])).toEqual(
          o.items.map((l) => [l.productId, l.quantity]),
        );
        expect(outboxKeys.has(o.orderId)).toBe(true);
        if (o.early) paidEarly++;
      } else {
        // Refused or expired: nothing of a payment exists for it, and no key was kept.
        expect(got).toEqual([]);
        expect(payment).toBeUndefined();
        expect(outboxKeys.has(o.orderId)).toBe(false);
        expect(keyOf.has(`k-${o.orderId}`)).toBe(false);
        if (row.status === 'EXPIRED') {
          expect(o.early).toBe(true);
          expiredEarly++;
        } else {
          expect(row.status).toBe('PENDING_PAYMENT');
          expect(POOR.has(row.user_id)).toBe(true);
        }
      }
      // A kept key holds the answer its payment gave.
      const key = keyOf.get(`k-${o.orderId}`);
      if (key) expect(key.response).toEqual(got.find((g) => g.paymentId === payment?.id));
    }
    expect(paidEarly).toBeGreaterThan(0);
    expect(expiredEarly).toBeGreaterThan(0);

    // Balances: never negative, equal to their ledger, each row chained to the one before.
    const balances = await db
      .selectFrom('users')
      .select(['id', 'balance'])
      .where('id', 'in', users)
      .execute();
    for (const { id, balance } of balances) {
      const mine = ledger.filter((l) => l.user_id === id);
      let running = 0;
      for (const l of mine) {
        expect(l.balance_before).toBe(running);
        running = l.balance_after;
      }
      expect(balance).toBe(running);
      expect(balance).toBeGreaterThanOrEqual(0);
      const paidTotal = payments.filter((p) => p.user_id === id).reduce((n, p) => n + p.amount, 0);
      expect(balance).toBe((POOR.has(id) ? 8_000 : 100_000) - paidTotal);
    }

    // Coupons: USED by exactly the paid orders that carry them.
    const issued = await db
      .selectFrom('issued_coupons')
      .selectAll()
      .where('coupon_id', 'in', [inPostgres, inRedis])
      .execute();
    for (const o of orders.filter((x) => x.couponId !== null)) {
      const row = byId.get(o.orderId)!;
      const coupon = issued.find((c) => c.coupon_id === o.couponId && c.user_id === row.user_id);
      if (row.status === 'PAID') expect(coupon).toMatchObject({ status: 'USED', used_order_id: o.orderId });
      else expect(coupon?.status ?? 'AVAILABLE').toBe('AVAILABLE');
    }

    // Stock: on hand = initial − paid units; Redis offers on hand − what pending orders hold.
    for (const p of [p1, p2]) {
      const paidUnits = sales.filter((s) => s.product_id === p.id).reduce((n, s) => n + s.quantity, 0);
      const held = orders
        .filter((o) => byId.get(o.orderId)!.status === 'PENDING_PAYMENT')
        .flatMap((o) => o.items)
        .filter((l) => l.productId === p.id)
        .reduce((n, l) => n + l.quantity, 0);
      const { stock } = await db
        .selectFrom('products')
        .select('stock')
        .where('id', '=', p.id)
        .executeTakeFirstOrThrow();
      expect(stock).toBe(STOCK - paidUnits);
      expect(await readAvailable(rt().redis, rt().keys, [p.id])).toEqual([stock - held]);
    }

    // The payments really were committed in groups: far fewer transactions than payments.
    const { rows: tx } = await sql<{ n: number }>`
      SELECT count(DISTINCT xmin::text)::int AS n FROM payments`.execute(db);
    expect(tx[0]!.n).toBeLessThan(payments.length / 2);

    // Replays after the fact: a kept key answers exactly as before; nothing moves.
    const before = await db
      .selectFrom('balance_ledger')
      .select(sql<number>`count(*)::int`.as('n'))
      .executeTakeFirstOrThrow();
    for (const o of orders.filter((_, i) => i % 10 === 0)) {
      const key = keyOf.get(`k-${o.orderId}`);
      const again = payOrder(payer, byId.get(o.orderId)!.user_id, {
        orderId: o.orderId,
        idempotencyKey: `k-${o.orderId}`,
      });
      if (key) await expect(again).resolves.toEqual(key.response);
      else await expect(again).rejects.toBeInstanceOf(AppError);
    }
    const after = await db
      .selectFrom('balance_ledger')
      .select(sql<number>`count(*)::int`.as('n'))
      .executeTakeFirstOrThrow();
    expect(after.n).toBe(before.n);
  }, 240_000);

  // An order saved in Postgres (the group commit of orders with a coupon, the drain) checks its
  // lines' products with FOR KEY SHARE, in its own line order, while payment batches lock the
  // same products in id order. With FOR UPDATE the two conflicted and deadlocked (`pnpm loadtest
  // sale`: `deadlock detected`, answered 500); FOR NO KEY UPDATE, what an UPDATE of the stock
  // takes anyway, lets the order's check through at once.
  it("a payment's stock lock never blocks an order line naming that product", async () => {
    const product = await createProduct(rt(), { name: 'lock p', price: 1_000, stock: 10 });
    const orderId = randomUUID();
    await rt()
      .db.insertInto('orders')
      .values({
        id: orderId,
        user_id: 1,
        status: 'PENDING_PAYMENT',
        total_amount: 1_000,
        discount_amount: 0,
        pay_amount: 1_000,
        expires_at: clock.now(),
        created_at: clock.now(),
      })
      .execute();
    await rt()
      .db.transaction()
      .execute(async (trx) => {
        expect(await lockStock(trx, [product.id])).toEqual(new Map([[product.id, 10]]));
        await rt()
          .db.connection()
          .execute(async (other) => {
            // Blocked by a conflicting lock, this fails after a second instead of waiting.
            await sql`SET lock_timeout = '1s'`.execute(other);
            await other
              .insertInto('order_lines')
              .values({ order_id: orderId, product_id: product.id, quantity: 1, unit_price: 1_000 })
              .execute();
            await sql`RESET lock_timeout`.execute(other);
          });
      });
  });
});
