import { manualClock } from '@flash/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createTestServer, type TestServer } from '../../../test/support.ts';

// Limits small enough to reach in a test: 3 calls at once per user and procedure, then one per
// 100 s. The clock is manual, so refills happen when the test says so, not when time passes;
// but Redis expires a limiter key in real time once its bucket would be whole again, so the
// interval is long enough that no pause of a loaded machine hands out a fresh burst mid-test.
const INTERVAL_MS = 100_000;
const clock = manualClock(new Date('2026-11-26T10:00:00Z'));
let s: TestServer;
let admin: string;
let nextUser = 100;

beforeAll(async () => {
  s = await createTestServer({
    clock,
    overrides: {
      NODE_ENV: 'production',
      AUTH_JWT_SECRET: 'rate-limit-test-secret-0123456789abcdef',
      RATE_LIMIT_USER_PER_SEC: String(1000 / INTERVAL_MS),
      RATE_LIMIT_USER_BURST: '3',
      RATE_LIMIT_IP_PER_SEC: '1000',
      RATE_LIMIT_IP_BURST: '100000',
    },
  });
  admin = await s.token(1, { admin: true });
});
afterAll(() => s.cleanup());

const user = async () => {
  const id = nextUser++;
  return { id, token: await s.token(id) };
};
const missingOrder = '00000000-0000-4000-8000-000000000000';

async function coupon(totalQuantity = 1000): Promise<number> {
  const res = await call(
    s.app,
    'mutation',
    'admin.coupon.create',
    { name: 'rl', discount: { type: 'FIXED', value: 100 }, totalQuantity },
    admin,
  );
  return res.body.result.data.couponId;
}

const expectRateLimited = (res: { status: number; body: any }) => {
  expect(res.status).toBe(429);
  expect(res.body.error.data).toMatchObject({
    code: 'TOO_MANY_REQUESTS',
    appCode: 'RATE_LIMITED',
    limit: 'user',
  });
  expect(res.body.error.data.retryAfterMs).toBeGreaterThan(0);
  expect(res.body.error.data.stack).toBeUndefined();
};

describe('rate limits per user', () => {
  it.each([
    ['coupon.issue', async () => ({ couponId: await coupon() })],
    ['order.create', async () => ({ items: [{ productId: 999_999, quantity: 1 }] })],
    ['payment.pay', async () => ({ orderId: missingOrder })],
    ['balance.charge', async () => ({ amount: 1 })],
  ])('limits %s: the burst passes, then RATE_LIMITED (429) until the bucket refills', async (path, input) => {
    const u = await user();
    const body = await input();
    const first = await Promise.all([1, 2, 3].map(() => call(s.app, 'mutation', path, body, u.token)));
    for (const r of first) expect(r.status).not.toBe(429);
    expectRateLimited(await call(s.app, 'mutation', path, body, u.token));
    clock.advance(INTERVAL_MS);
    expect((await call(s.app, 'mutation', path, body, u.token)).status).not.toBe(429);
    expectRateLimited(await call(s.app, 'mutation', path, body, u.token));
  });

  it('limits a one-line order.create in its hold script, per product, one allowance whichever path it takes; a limited order holds nothing', async () => {
    const newProduct = async () =>
      (await call(s.app, 'mutation', 'admin.product.create', { name: 'rl', price: 1_000, stock: 100 }, admin))
        .body.result.data.id as number;
    const productId = await newProduct();
    const stock = async (id = productId) =>
      (await call(s.app, 'query', 'product.get', { productId: id })).body.result.data.stock;
    const items = [{ productId, quantity: 1 }];
    // Answered from Redis (no coupon, no key): the hold script counts the calls, all at once.
    const u = await user();
    const rush = await Promise.all(
      Array.from({ length: 6 }, () => call(s.app, 'mutation', 'order.create', { items }, u.token)),
    );
    expect(rush.filter((r) => r.status === 200)).toHaveLength(3);
    for (const r of rush.filter((r) => r.status !== 200)) expectRateLimited(r);
    expect(await stock()).toBe(97);
    // The same allowance on this product for an order with an idempotency key (saved in
    // Postgres first): two of one user's three calls, then the rush is limited.
    const v = await user();
    expect(
      (await call(s.app, 'mutation', 'order.create', { items, idempotencyKey: 'rl-1' }, v.token)).status,
    ).toBe(200);
    expect((await call(s.app, 'mutation', 'order.create', { items }, v.token)).status).toBe(200);
    expect((await call(s.app, 'mutation', 'order.create', { items }, v.token)).status).toBe(200);
    expectRateLimited(await call(s.app, 'mutation', 'order.create', { items }, v.token));
    expectRateLimited(
      await call(s.app, 'mutation', 'order.create', { items, idempotencyKey: 'rl-2' }, v.token),
    );
    expect(await stock()).toBe(94);
    // Another product has an allowance of its own (each product is its own slot, ADR 0200).
    const other = await newProduct();
    expect(
      (await call(s.app, 'mutation', 'order.create', { items: [{ productId: other, quantity: 1 }] }, v.token))
        .status,
    ).toBe(200);
    expect(await stock(other)).toBe(99);
    clock.advance(INTERVAL_MS);
    expect((await call(s.app, 'mutation', 'order.create', { items }, v.token)).status).toBe(200);
    expect(await stock()).toBe(93);
  });

  it('limits order.create per procedure for calls refused for their input and orders of several products', async () => {
    const [p, q] = (await Promise.all(
      [1, 2].map(
        async () =>
          (
            await call(
              s.app,
              'mutation',
              'admin.product.create',
              { name: 'rl', price: 1_000, stock: 100 },
              admin,
            )
          ).body.result.data.id as number,
      ),
    )) as [number, number];
    const stock = async (productId: number) =>
      (await call(s.app, 'query', 'product.get', { productId })).body.result.data.stock;
    const both = [
      { productId: p, quantity: 1 },
      { productId: q, quantity: 1 },
    ];
    const v = await user();
    expect((await call(s.app, 'mutation', 'order.create', { items: [] }, v.token)).status).toBe(400);
    expect((await call(s.app, 'mutation', 'order.create', { items: both }, v.token)).status).toBe(200);
    expect(
      (await call(s.app, 'mutation', 'order.create', { items: both, idempotencyKey: 'rl-3' }, v.token))
        .status,
    ).toBe(200);
    expectRateLimited(await call(s.app, 'mutation', 'order.create', { items: both }, v.token));
    expectRateLimited(await call(s.app, 'mutation', 'order.create', { items: [] }, v.token));
    expect([await stock(p), await stock(q)]).toEqual([98, 98]);
    // A one-line order of either product still has its product's allowance.
    expect(
      (await call(s.app, 'mutation', 'order.create', { items: [{ productId: p, quantity: 1 }] }, v.token))
        .status,
    ).toBe(200);
    clock.advance(INTERVAL_MS);
    expect((await call(s.app, 'mutation', 'order.create', { items: both }, v.token)).status).toBe(200);
    expect([await stock(p), await stock(q)]).toEqual([96, 97]);
  });

  it('limits coupon.issue per coupon, and a flood of made-up coupon ids per procedure', async () => {
    const u = await user();
    // Each live coupon has its own allowance: 3 calls on each of two coupons all pass the limit.
    const [a, b] = [await coupon(), await coupon()];
    for (const couponId of [a, a, a, b, b, b]) {
      expect((await call(s.app, 'mutation', 'coupon.issue', { couponId }, u.token)).status).not.toBe(429);
    }
    // Unknown ids reach Postgres, so there the procedure-wide limit applies as well.
    const other = await user();
    const answers = [];
    for (let i = 0; i < 8; i++) {
      answers.push(await call(s.app, 'mutation', 'coupon.issue', { couponId: 900_000 + i }, other.token));
    }
    expect(answers.slice(0, 3).map((r) => r.body.error.data.appCode)).toEqual([
      'COUPON_NOT_FOUND',
      'COUPON_NOT_FOUND',
      'COUPON_NOT_FOUND',
    ]);
    for (const r of answers.slice(3)) expectRateLimited(r);
  });

  it('says when to retry in a Retry-After header too', async () => {
    const u = await user();
    const pay = () =>
      s.app.inject({
        method: 'POST',
        url: '/trpc/payment.pay',
        headers: { authorization: `Bearer ${u.token}`, 'content-type': 'application/json' },
        payload: { orderId: missingOrder },
      });
    for (let i = 0; i < 3; i++) expect((await pay()).headers['retry-after']).toBeUndefined();
    const limited = await pay();
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.data.retryAfterMs).toBe(INTERVAL_MS);
    expect(limited.headers['retry-after']).toBe(String(INTERVAL_MS / 1000));
  });

  it('counts each procedure on its own, and never limits the other procedures', async () => {
    const u = await user();
    for (let i = 0; i < 3; i++)
      await call(s.app, 'mutation', 'payment.pay', { orderId: missingOrder }, u.token);
    expectRateLimited(await call(s.app, 'mutation', 'payment.pay', { orderId: missingOrder }, u.token));
    // The same user still has a full allowance elsewhere...
    expect((await call(s.app, 'mutation', 'balance.charge', { amount: 5000 }, u.token)).status).toBe(200);
    // ...and reads are not limited.
    for (let i = 0; i < 20; i++) {
      expect((await call(s.app, 'query', 'balance.get', undefined, u.token)).status).toBe(200);
      expect((await call(s.app, 'query', 'order.get', { orderId: missingOrder }, u.token)).status).toBe(404);
    }
    // Another user is not affected.
    const other = await user();
    expect(
      (await call(s.app, 'mutation', 'payment.pay', { orderId: missingOrder }, other.token)).status,
    ).toBe(404);
  });

  it('changes nothing when it refuses', async () => {
    const u = await user();
    for (let i = 0; i < 3; i++) {
      expect((await call(s.app, 'mutation', 'balance.charge', { amount: 1000 }, u.token)).status).toBe(200);
    }
    expectRateLimited(await call(s.app, 'mutation', 'balance.charge', { amount: 1000 }, u.token));
    expectRateLimited(
      await call(s.app, 'mutation', 'balance.charge', { amount: 1000, idempotencyKey: 'k1' }, u.token),
    );
    const ledger = await s.rt.db
      .selectFrom('balance_ledger')
      .select('amount')
      .where('user_id', '=', u.id)
      .execute();
    expect(ledger).toHaveLength(3);
    const keys = await s.rt.db
      .selectFrom('idempotency_keys')
      .select('key')
      .where('user_id', '=', u.id)
      .execute();
    expect(keys).toEqual([]);
    const balance = await call(s.app, 'query', 'balance.get', undefined, u.token);
    expect(balance.body.result.data.balance).toBe(3000);
  });

  it('lets exactly the burst through when 500 calls of one user arrive at once', async () => {
    const u = await user();
    const couponId = await coupon();
    const results = await Promise.all(
      Array.from({ length: 500 }, () => call(s.app, 'mutation', 'coupon.issue', { couponId }, u.token)),
    );
    const passed = results.filter((r) => r.status !== 429);
    expect(passed).toHaveLength(3);
    expect(passed.map((r) => r.body.result?.data.status ?? r.body.error.data.appCode).sort()).toEqual([
      'COUPON_ALREADY_ISSUED',
      'COUPON_ALREADY_ISSUED',
      'ISSUED',
    ]);
    for (const r of results.filter((r) => r.status === 429)) expectRateLimited(r);
  });

  it('counts every call of a batch: batching does not multiply the allowance', async () => {
    const u = await user();
    const couponId = await coupon();
    const paths = Array.from({ length: 8 }, () => 'coupon.issue').join(',');
    const inputs = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [i, { couponId }]));
    const res = await s.app.inject({
      method: 'POST',
      url: `/trpc/${paths}?batch=1`,
      headers: { authorization: `Bearer ${u.token}`, 'content-type': 'application/json' },
      payload: inputs,
    });
    // Mixed answers in one batch: 207, each call with its own status.
    expect(res.statusCode).toBe(207);
    const answers = res.json() as any[];
    expect(answers).toHaveLength(8);
    const limited = answers.filter((a) => a.error?.data.appCode === 'RATE_LIMITED');
    expect(limited).toHaveLength(5);
    for (const a of limited) expect(a.error.data.httpStatus).toBe(429);
    expect(answers.filter((a) => a.result?.data.status === 'ISSUED')).toHaveLength(1);
    // And the next single call is limited too: the batch used the allowance up.
    expectRateLimited(await call(s.app, 'mutation', 'coupon.issue', { couponId }, u.token));
  });

  it('refuses a batch of more than 10 calls before running any of them', async () => {
    const u = await user();
    const paths = Array.from({ length: 11 }, () => 'balance.charge').join(',');
    const inputs = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [i, { amount: 1000 }]));
    const res = await s.app.inject({
      method: 'POST',
      url: `/trpc/${paths}?batch=1`,
      headers: { authorization: `Bearer ${u.token}`, 'content-type': 'application/json' },
      payload: inputs,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.data.appCode).toBe('INVALID_INPUT');
    const balance = await call(s.app, 'query', 'balance.get', undefined, u.token);
    expect(balance.body.result.data.balance).toBe(0);
    // Nothing was counted either.
    for (let i = 0; i < 3; i++) {
      expect((await call(s.app, 'mutation', 'balance.charge', { amount: 1000 }, u.token)).status).toBe(200);
    }
  });

  it('checks the token first: an anonymous flood is refused as UNAUTHORIZED and counts for no one', async () => {
    for (let i = 0; i < 10; i++) {
      expect((await call(s.app, 'mutation', 'payment.pay', { orderId: missingOrder })).status).toBe(401);
    }
  });
});

describe('rate limits per address', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await createTestServer({
      clock,
      overrides: {
        RATE_LIMIT_USER_PER_SEC: '1000',
        RATE_LIMIT_USER_BURST: '1000',
        // One per 100 s: the clock stands still, but Redis expires a limiter key in real time
        // once its burst would be whole again, so a slow machine must not reach that moment
        // halfway through the test and hand the address a fresh burst.
        RATE_LIMIT_IP_PER_SEC: String(1000 / INTERVAL_MS),
        RATE_LIMIT_IP_BURST: '20',
      },
    });
  });
  afterAll(() => t.cleanup());

  it('limits many users behind one address, per procedure', async () => {
    // Tokens first, so that the 50 calls leave together.
    const tokens = await Promise.all(Array.from({ length: 50 }, (_, i) => t.token(5000 + i)));
    const results = await Promise.all(
      tokens.map((token) =>
        call(t.app, 'mutation', 'order.create', { items: [{ productId: 999_999, quantity: 1 }] }, token),
      ),
    );
    const limited = results.filter((r) => r.status === 429);
    expect(limited).toHaveLength(30);
    for (const r of limited)
      expect(r.body.error.data).toMatchObject({ appCode: 'RATE_LIMITED', limit: 'ip' });
    for (const r of results.filter((r) => r.status !== 429)) {
      expect(r.body.error.data.appCode).toBe('PRODUCT_NOT_FOUND');
    }
    // Another limited procedure from the same address has its own allowance.
    const pay = await call(t.app, 'mutation', 'payment.pay', { orderId: missingOrder }, await t.token(6000));
    expect(pay.status).toBe(404);
  });
});
