import { buildServer } from '@flash/api';
import { createRuntime, expireDueOrders, manualClock, reconcileHolds } from '@flash/core';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createTestServer, type TestServer } from '../../../test/support.ts';

// Orders and payments through the API, against real Redis and Postgres. The clock is manual so
// expiry is driven by the test, not by waiting.
const clock = manualClock(new Date('2026-11-26T10:00:00Z'));
let s: TestServer;
let admin: string;
let nextUser = 1000;

beforeAll(async () => {
  s = await createTestServer({ clock, overrides: { ORDER_HOLD_SECONDS: '900' } });
  admin = await s.token(1, { admin: true });
});
afterAll(() => s.cleanup());

async function product(price: number, stock: number): Promise<number> {
  const res = await call(
    s.app,
    'mutation',
    'admin.product.create',
    { name: `p${price}-${stock}`, price, stock },
    admin,
  );
  expect(res.status).toBe(200);
  return res.body.result.data.id;
}

async function user(balance = 0): Promise<{ id: number; token: string }> {
  const id = nextUser++;
  const token = await s.token(id);
  if (balance > 0) {
    const res = await call(s.app, 'mutation', 'balance.charge', { amount: balance }, token);
    expect(res.status).toBe(200);
  }
  return { id, token };
}

async function coupon(
  discount: { type: 'FIXED' | 'PERCENT'; value: number },
  totalQuantity = 100,
): Promise<number> {
  const res = await call(
    s.app,
    'mutation',
    'admin.coupon.create',
    { name: `c-${discount.type}-${discount.value}`, discount, totalQuantity },
    admin,
  );
  expect(res.status).toBe(200);
  return res.body.result.data.couponId;
}

const stockOf = async (productId: number) =>
  (await call(s.app, 'query', 'product.get', { productId })).body.result.data.stock as number;
const balanceOf = async (token: string) =>
  (await call(s.app, 'query', 'balance.get', undefined, token)).body.result.data.balance;
const dbStock = async (productId: number) =>
  (await s.rt.db.selectFrom('products').select('stock').where('id', '=', productId).executeTakeFirstOrThrow())
    .stock;

describe('order.create', () => {
  it('answers a pending order with prices, totals and its expiry', async () => {
    const a = await product(1_000, 10);
    const b = await product(2_500, 10);
    const u = await user();
    const res = await call(
      s.app,
      'mutation',
      'order.create',
      {
        items: [
          { productId: b, quantity: 1 },
          { productId: a, quantity: 3 },
        ],
      },
      u.token,
    );
    expect(res.status).toBe(200);
    expect(res.body.result.data).toMatchObject({
      status: 'PENDING_PAYMENT',
      totalAmount: 5_500,
      discountAmount: 0,
      payAmount: 5_500,
      expiresAt: new Date(clock.now().getTime() + 900_000).toISOString(),
    });
    expect(res.body.result.data.items).toEqual(
      expect.arrayContaining([
        { productId: a, quantity: 3, unitPrice: 1_000 },
        { productId: b, quantity: 1, unitPrice: 2_500 },
      ]),
    );
    expect(await stockOf(a)).toBe(7);
    expect(await stockOf(b)).toBe(9);
    // Held, not sold: committed stock in Postgres is untouched until payment.
    expect(await dbStock(a)).toBe(10);
  });

  it('holds nothing when one line of a multi-line order is short', async () => {
    const a = await product(100, 5);
    const b = await product(100, 1);
    const u = await user();
    const res = await call(
      s.app,
      'mutation',
      'order.create',
      {
        items: [
          { productId: a, quantity: 2 },
          { productId: b, quantity: 2 },
        ],
      },
      u.token,
    );
    expect(res.status).toBe(409);
    expect(res.body.error.data).toMatchObject({ appCode: 'OUT_OF_STOCK', productId: b });
    expect(await stockOf(a)).toBe(5);
    expect(await stockOf(b)).toBe(1);
    expect((await call(s.app, 'query', 'order.list', undefined, u.token)).body.result.data.items).toEqual([]);
  });

  it('refuses unknown products, duplicate lines and bad quantities', async () => {
    const a = await product(100, 5);
    const u = await user();
    const unknown = await call(
      s.app,
      'mutation',
      'order.create',
      { items: [{ productId: 999_999, quantity: 1 }] },
      u.token,
    );
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.data).toMatchObject({ appCode: 'PRODUCT_NOT_FOUND', productId: 999_999 });
    for (const items of [
      [],
      [{ productId: a, quantity: 0 }],
      [{ productId: a, quantity: 1001 }],
      [{ productId: a, quantity: 1.5 }],
      [
        { productId: a, quantity: 1 },
        { productId: a, quantity: 1 },
      ],
      Array.from({ length: 51 }, (_, i) => ({ productId: i + 1, quantity: 1 })),
    ]) {
      const res = await call(s.app, 'mutation', 'order.create', { items }, u.token);
      expect(res.status).toBe(400);
      expect(res.body.error.data.appCode).toBe('INVALID_INPUT');
    }
    expect(await stockOf(a)).toBe(5);
  });

  it('sells exactly the stock to a crowd: 200 buyers, stock 50, then all 50 pay', async () => {
    const p = await product(10_000, 50);
    const buyers = await Promise.all(Array.from({ length: 200 }, () => user(10_000)));
    const results = await Promise.all(
      buyers.map((b) =>
        call(s.app, 'mutation', 'order.create', { items: [{ productId: p, quantity: 1 }] }, b.token),
      ),
    );
    const won = results.map((r, i) => ({ r, b: buyers[i]! })).filter(({ r }) => r.status === 200);
    const lost = results.filter((r) => r.status !== 200);
    expect(won).toHaveLength(50);
    expect(lost.every((r) => r.status === 409 && r.body.error.data.appCode === 'OUT_OF_STOCK')).toBe(true);
    expect(await stockOf(p)).toBe(0);

    const pays = await Promise.all(
      won.map(({ r, b }) =>
        call(s.app, 'mutation', 'payment.pay', { orderId: r.body.result.data.orderId }, b.token),
      ),
    );
    expect(pays.every((r) => r.status === 200 && r.body.result.data.status === 'PAID')).toBe(true);
    expect(await dbStock(p)).toBe(0);
    expect(await stockOf(p)).toBe(0);
    for (const { b } of won) expect(await balanceOf(b.token)).toBe(0);
  });

  // A client that sends its order twice at once with one key (a retry racing the first try)
  // gets the one order twice, also with a coupon: the coupon's "held by another open order"
  // refusal must not fire for the order its own key is creating (seen in `pnpm loadtest sale`).
  it('replays a keyed order with a coupon sent twice at once: one order, both answers equal', async () => {
    const p = await product(1_000, 400);
    const c = await coupon({ type: 'FIXED', value: 100 }, 200);
    const buyers = await Promise.all(Array.from({ length: 200 }, () => user()));
    await Promise.all(buyers.map((u) => call(s.app, 'mutation', 'coupon.issue', { couponId: c }, u.token)));
    const pairs = await Promise.all(
      buyers.map((u, i) => {
        const input = { items: [{ productId: p, quantity: 1 }], couponId: c, idempotencyKey: `twice-${i}` };
        // The retry starts 0-9 ms after the first try, so some land while the first commits.
        const send = () => call(s.app, 'mutation', 'order.create', input, u.token);
        return Promise.all([send(), new Promise((r) => setTimeout(r, i % 10)).then(send)]);
      }),
    );
    const mismatched = pairs.filter(
      ([a, b]) => a!.status !== 200 || JSON.stringify(a!.body) !== JSON.stringify(b!.body),
    );
    expect(mismatched.map(([a, b]) => [a!.status, b!.body.error?.data?.appCode ?? b!.status])).toEqual([]);
    expect(await stockOf(p)).toBe(200);
  });

  it('replays an idempotent create and refuses the key with another input', async () => {
    const p = await product(700, 10);
    const u = await user();
    const input = { items: [{ productId: p, quantity: 2 }], idempotencyKey: 'order-key-1' };
    const [first, ...rest] = await Promise.all(
      Array.from({ length: 8 }, () => call(s.app, 'mutation', 'order.create', input, u.token)),
    );
    expect(first!.status).toBe(200);
    for (const r of rest) expect(r.body).toEqual(first!.body);
    expect(await stockOf(p)).toBe(8);
    const reused = await call(
      s.app,
      'mutation',
      'order.create',
      { items: [{ productId: p, quantity: 3 }], idempotencyKey: 'order-key-1' },
      u.token,
    );
    expect(reused.status).toBe(409);
    expect(reused.body.error.data.appCode).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await stockOf(p)).toBe(8);
  });
});

describe('order.get and order.list', () => {
  it('lists the caller’s orders newest first, page by page', async () => {
    const p = await product(100, 100);
    const u = await user();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      const r = await call(
        s.app,
        'mutation',
        'order.create',
        { items: [{ productId: p, quantity: 1 }] },
        u.token,
      );
      ids.push(r.body.result.data.orderId);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await call(
        s.app,
        'query',
        'order.list',
        { limit: 2, ...(cursor ? { cursor } : {}) },
        u.token,
      );
      seen.push(...page.body.result.data.items.map((o: { orderId: string }) => o.orderId));
      cursor = page.body.result.data.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    const one = await call(s.app, 'query', 'order.get', { orderId: ids[0] }, u.token);
    expect(one.body.result.data).toMatchObject({ orderId: ids[0], status: 'PENDING_PAYMENT' });
  });

  it('answers another user’s order exactly like a missing one, for get and pay', async () => {
    const p = await product(100, 10);
    const owner = await user(10_000);
    const other = await user(10_000);
    const order = (
      await call(s.app, 'mutation', 'order.create', { items: [{ productId: p, quantity: 1 }] }, owner.token)
    ).body.result.data;
    const missing = '00000000-0000-4000-8000-000000000000';
    for (const orderId of [order.orderId, missing, 'not-a-uuid']) {
      const get = await call(s.app, 'query', 'order.get', { orderId }, other.token);
      const pay = await call(s.app, 'mutation', 'payment.pay', { orderId }, other.token);
      for (const r of [get, pay]) {
        expect(r.status).toBe(404);
        expect(r.body.error.data.appCode).toBe('ORDER_NOT_FOUND');
        expect(r.body.error.message).toBe('Order not found');
      }
    }
    expect(await balanceOf(other.token)).toBe(10_000);
    expect(
      (await call(s.app, 'query', 'order.get', { orderId: order.orderId }, owner.token)).body.result.data
        .status,
    ).toBe('PENDING_PAYMENT');
    expect((await call(s.app, 'query', 'order.list', undefined, other.token)).body.result.data.items).toEqual(
      [],
    );
  });
});

/**
 * Ten pays of one order, each through `apps[i % apps.length]`, then every trace of the one that
 * won: one debit, one ledger row, one payment, one sale, one export.
 */
async function tenPaysRace(apps: FastifyInstance[]): Promise<void> {
  const p = await product(3_000, 10);
  const u = await user(10_000);
  const order = (
    await call(s.app, 'mutation', 'order.create', { items: [{ productId: p, quantity: 2 }] }, u.token)
  ).body.result.data;
  const results = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      call(apps[i % apps.length]!, 'mutation', 'payment.pay', { orderId: order.orderId }, u.token),
    ),
  );
  const ok = results.filter((r) => r.status === 200);
  expect(ok).toHaveLength(1);
  expect(ok[0]!.body.result.data).toMatchObject({
    orderId: order.orderId,
    amount: 6_000,
    status: 'PAID',
    balance: 4_000,
  });
  for (const r of results.filter((r) => r.status !== 200)) {
    expect(r.status).toBe(409);
    expect(r.body.error.data.appCode).toBe('ORDER_NOT_PAYABLE');
  }
  expect(await balanceOf(u.token)).toBe(4_000);
  const ledger = await s.rt.db
    .selectFrom('balance_ledger')
    .selectAll()
    .where('user_id', '=', u.id)
    .orderBy('created_at')
    .execute();
  expect(ledger.map((l) => [l.kind, l.amount, l.balance_before, l.balance_after])).toEqual([
    ['CHARGE', 10_000, 0, 10_000],
    ['PAYMENT', 6_000, 10_000, 4_000],
  ]);
  expect(await dbStock(p)).toBe(8);
  const payments = await s.rt.db
    .selectFrom('payments')
    .selectAll()
    .where('order_id', '=', order.orderId)
    .execute();
  expect(payments).toHaveLength(1);
  const sales = await s.rt.db.selectFrom('sales').selectAll().where('order_id', '=', order.orderId).execute();
  expect(sales.map((x) => [x.product_id, x.quantity])).toEqual([[p, 2]]);
  const outbox = await s.rt.db.selectFrom('outbox').selectAll().where('key', '=', order.orderId).execute();
  expect(outbox).toHaveLength(1);
}

describe('payment.pay', () => {
  it('debits once when ten pays of one order race; the ledger agrees', async () => {
    // One API: the ten meet in its payment batches.
    await tenPaysRace([s.app]);
  });

  it('debits once when ten pays of one order race through ten API instances; the ledger agrees', async () => {
    // Ten APIs on the same Redis and Postgres, as ten processes would be: each pay is alone in
    // its own instance's batch, so only Postgres' row locks can decide the race.
    const others = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const rt = await createRuntime(s.config, { clock, name: 'flash-sale-test' });
        const app = await buildServer(s.config, { runtime: rt, logger: false });
        await app.ready();
        return { rt, app };
      }),
    );
    try {
      await tenPaysRace(others.map((o) => o.app));
    } finally {
      for (const o of others) {
        await o.app.close();
        await o.rt.close();
      }
    }
  });

  it('changes nothing on insufficient balance; the order stays payable', async () => {
    const p = await product(5_000, 10);
    const u = await user(4_000);
    const order = (
      await call(s.app, 'mutation', 'order.create', { items: [{ productId: p, quantity: 1 }] }, u.token)
    ).body.result.data;
    const res = await call(s.app, 'mutation', 'payment.pay', { orderId: order.orderId }, u.token);
    expect(res.status).toBe(409);
    expect(res.body.error.data.appCode).toBe('INSUFFICIENT_BALANCE');
    expect(await balanceOf(u.token)).toBe(4_000);
    expect(await dbStock(p)).toBe(10);
    expect(await stockOf(p)).toBe(9);
    expect(
      (await call(s.app, 'query', 'order.get', { orderId: order.orderId }, u.token)).body.result.data.status,
    ).toBe('PENDING_PAYMENT');
    await call(s.app, 'mutation', 'balance.charge', { amount: 1_000 }, u.token);
    const paid = await call(s.app, 'mutation', 'payment.pay', { orderId: order.orderId }, u.token);
    expect(paid.body.result.data).toMatchObject({ status: 'PAID', balance: 0 });
  });

  it('replays an idempotent payment and counts the sale in product.top', async () => {
    const p = await product(1_000, 10);
    const u = await user(5_000);
    const order = (
      await call(s.app, 'mutation', 'order.create', { items: [{ productId: p, quantity: 4 }] }, u.token)
    ).body.result.data;
    const input = { orderId: order.orderId, idempotencyKey: 'pay-1' };
    const first = await call(s.app, 'mutation', 'payment.pay', input, u.token);
    const again = await call(s.app, 'mutation', 'payment.pay', input, u.token);
    expect(first.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await balanceOf(u.token)).toBe(1_000);
    // Past the ranking cache's lifetime, which the service's clock decides.
    clock.advance(5_000);
    const top = (await call(s.app, 'query', 'product.top')).body.result.data.items;
    expect(top).toContainEqual({ productId: p, name: 'p1000-10', price: 1_000, soldQuantity: 4 });
  });
});

describe('coupons on orders', () => {
  async function issued(
    discount: { type: 'FIXED' | 'PERCENT'; value: number },
    token: string,
  ): Promise<number> {
    const couponId = await coupon(discount);
    const res = await call(s.app, 'mutation', 'coupon.issue', { couponId }, token);
    expect(res.status).toBe(200);
    return couponId;
  }

  it('applies FIXED above the total (pay 0) and PERCENT rounding down', async () => {
    const p = await product(3_333, 10);
    const u = await user();
    const fixed = await issued({ type: 'FIXED', value: 50_000 }, u.token);
    const percent = await issued({ type: 'PERCENT', value: 15 }, u.token);
    const a = await call(
      s.app,
      'mutation',
      'order.create',
      { items: [{ productId: p, quantity: 1 }], couponId: fixed },
      u.token,
    );
    expect(a.body.result.data).toMatchObject({
      totalAmount: 3_333,
      discountAmount: 3_333,
      payAmount: 0,
      couponId: fixed,
    });
    const b = await call(
      s.app,
      'mutation',
      'order.create',
      { items: [{ productId: p, quantity: 3 }], couponId: percent },
      u.token,
    );
    // 15% of 9,999 = 1,499.85 -> 1,499
    expect(b.body.result.data).toMatchObject({ totalAmount: 9_999, discountAmount: 1_499, payAmount: 8_500 });
    const pay = await call(
      s.app,
      'mutation',
      'payment.pay',
      { orderId: a.body.result.data.orderId },
      u.token,
    );
    expect(pay.body.result.data).toMatchObject({ amount: 0, balance: 0 });
  });

  it('holds the coupon for one pending order, marks it USED on payment, refuses it after', async () => {
    const p = await product(10_000, 10);
    const u = await user(20_000);
    const c = await issued({ type: 'FIXED', value: 1_000 }, u.token);
    const orderOf = () =>
      call(
        s.app,
        'mutation',
        'order.create',
        { items: [{ productId: p, quantity: 1 }], couponId: c },
        u.token,
      );
    const racing = await Promise.all(Array.from({ length: 5 }, orderOf));
    const ok = racing.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    for (const r of racing.filter((x) => x.status !== 200))
      expect(r.body.error.data.appCode).toBe('COUPON_NOT_USABLE');
    // Refused orders hold nothing: only the winner's unit is held.
    expect(await stockOf(p)).toBe(9);

    const pay = await call(
      s.app,
      'mutation',
      'payment.pay',
      { orderId: ok[0]!.body.result.data.orderId },
      u.token,
    );
    expect(pay.body.result.data).toMatchObject({ amount: 9_000, balance: 11_000 });
    const mine = (await call(s.app, 'query', 'coupon.mine', undefined, u.token)).body.result.data.items;
    expect(mine.filter((m: { couponId: number }) => m.couponId === c)).toEqual([
      expect.objectContaining({ couponId: c, status: 'USED' }),
    ]);
    const after = await orderOf();
    expect(after.status).toBe(409);
    expect(after.body.error.data.appCode).toBe('COUPON_NOT_USABLE');
  });

  it('refuses a coupon the user does not hold', async () => {
    const p = await product(1_000, 10);
    const holder = await user();
    const other = await user();
    const c = await issued({ type: 'FIXED', value: 100 }, holder.token);
    const res = await call(
      s.app,
      'mutation',
      'order.create',
      { items: [{ productId: p, quantity: 1 }], couponId: c },
      other.token,
    );
    expect(res.status).toBe(409);
    expect(res.body.error.data.appCode).toBe('COUPON_NOT_USABLE');
    expect(await stockOf(p)).toBe(10);
  });
});

describe('expiry', () => {
  it('expires an unpaid order, releasing its stock and coupon exactly once', async () => {
    // Let the orders of earlier tests expire first, so the counts below are this test's alone.
    clock.advance(900_000);
    await expireDueOrders(s.rt);
    const p = await product(2_000, 3);
    const u = await user(10_000);
    const c = await coupon({ type: 'FIXED', value: 500 });
    await call(s.app, 'mutation', 'coupon.issue', { couponId: c }, u.token);
    const order = (
      await call(
        s.app,
        'mutation',
        'order.create',
        { items: [{ productId: p, quantity: 2 }], couponId: c },
        u.token,
      )
    ).body.result.data;
    expect(await stockOf(p)).toBe(1);

    clock.advance(900_000 - 1);
    expect(await expireDueOrders(s.rt)).toBe(0);
    clock.advance(1);
    const [first, second] = await Promise.all([expireDueOrders(s.rt), expireDueOrders(s.rt)]);
    expect(first + second).toBe(1);
    expect(await expireDueOrders(s.rt)).toBe(0);
    await reconcileHolds(s.rt);
    expect(await stockOf(p)).toBe(3);

    const got = await call(s.app, 'query', 'order.get', { orderId: order.orderId }, u.token);
    expect(got.body.result.data.status).toBe('EXPIRED');
    const pay = await call(s.app, 'mutation', 'payment.pay', { orderId: order.orderId }, u.token);
    expect(pay.body.error.data.appCode).toBe('ORDER_NOT_PAYABLE');
    expect(await balanceOf(u.token)).toBe(10_000);
    // The coupon is free again.
    const again = await call(
      s.app,
      'mutation',
      'order.create',
      { items: [{ productId: p, quantity: 1 }], couponId: c },
      u.token,
    );
    expect(again.status).toBe(200);
  });

  it('refuses to pay an order past its hold even before the sweep ran', async () => {
    const p = await product(100, 1);
    const u = await user(1_000);
    const order = (
      await call(s.app, 'mutation', 'order.create', { items: [{ productId: p, quantity: 1 }] }, u.token)
    ).body.result.data;
    clock.advance(900_000);
    const pay = await call(s.app, 'mutation', 'payment.pay', { orderId: order.orderId }, u.token);
    expect(pay.status).toBe(409);
    expect(pay.body.error.data.appCode).toBe('ORDER_NOT_PAYABLE');
    expect(await balanceOf(u.token)).toBe(1_000);
  });

  it('never lets payment and expiry both win (60 races, each side winning some)', {
    timeout: 180_000,
  }, async () => {
    // Orders of earlier tests that are already due would be swept by the first race.
    clock.advance(900_000);
    await expireDueOrders(s.rt);
    const races = 60;
    const p = await product(100, races);
    const u = await user(100 * races);
    const { payOrder } = await import('@flash/core');
    let paid = 0;
    let expired = 0;
    for (let i = 0; i < races; i++) {
      // Half saved in Postgres before the race (with an idempotency key), half answered from
      // Redis (the payer saves it first); and each side starts first in half the races.
      const input = {
        items: [{ productId: p, quantity: 1 }],
        ...(i % 2 ? {} : { idempotencyKey: `race-${i}` }),
      };
      const order = (await call(s.app, 'mutation', 'order.create', input, u.token)).body.result.data;
      const expiresAt = new Date(order.expiresAt).getTime();
      // The payer still sees the order inside its hold; the sweeper already sees it due.
      const payer = { ...s.rt, clock: { now: () => new Date(expiresAt - 1) } };
      const sweeper = { ...s.rt, clock: { now: () => new Date(expiresAt + 1) } };
      const pay = () => payOrder(payer, u.id, { orderId: order.orderId });
      const sweep = () => expireDueOrders(sweeper);
      const [payed, swept] =
        i % 4 < 2
          ? await Promise.allSettled([pay(), sweep()])
          : await Promise.allSettled([sweep(), pay()]).then(([b, a]) => [a, b] as const);
      if (swept.status !== 'fulfilled') throw swept.reason;
      const status = (await call(s.app, 'query', 'order.get', { orderId: order.orderId }, u.token)).body
        .result.data.status;
      if (payed.status === 'fulfilled') {
        // The sweep lost: it expired nothing.
        expect([status, swept.value]).toEqual(['PAID', 0]);
        paid++;
      } else {
        expect(payed.reason).toMatchObject({ code: 'ORDER_NOT_PAYABLE' });
        expect([status, swept.value]).toEqual(['EXPIRED', 1]);
        expired++;
      }
    }
    await reconcileHolds(s.rt);
    expect(paid + expired).toBe(races);
    // Both outcomes happened: the races were real, not one side always first.
    expect(paid).toBeGreaterThan(0);
    expect(expired).toBeGreaterThan(0);
    // Every paid unit left stock for good; every expired unit came back.
    expect(await dbStock(p)).toBe(races - paid);
    expect(await stockOf(p)).toBe(races - paid);
    expect(await balanceOf(u.token)).toBe(100 * races - paid * 100);
    const payments = await s.rt.db.selectFrom('payments').select('id').where('user_id', '=', u.id).execute();
    expect(payments).toHaveLength(paid);
  });
});
