import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createTestServer, type TestServer } from '../../../test/support.ts';

// order.quote prices a cart exactly as order.create would charge it (the same prices, coupon
// rules and priceOrder), and holds or writes nothing.
let s: TestServer;
let admin: string;
let nextUser = 3000;

beforeAll(async () => {
  s = await createTestServer();
  admin = await s.token(1, { admin: true });
});
afterAll(() => s.cleanup());

async function product(price: number, stock: number): Promise<number> {
  const res = await call(
    s.app,
    'mutation',
    'admin.product.create',
    { name: `q${price}`, price, stock },
    admin,
  );
  expect(res.status).toBe(200);
  return res.body.result.data.id;
}

async function couponHeldBy(token: string, discount: { type: 'FIXED' | 'PERCENT'; value: number }) {
  const created = await call(
    s.app,
    'mutation',
    'admin.coupon.create',
    { name: `q-${discount.type}`, discount, totalQuantity: 10 },
    admin,
  );
  const couponId: number = created.body.result.data.couponId;
  expect((await call(s.app, 'mutation', 'coupon.issue', { couponId }, token)).status).toBe(200);
  return couponId;
}

const user = () => s.token(nextUser++);
const stockOf = async (productId: number) =>
  (await call(s.app, 'query', 'product.get', { productId })).body.result.data.stock as number;
const ordersOf = async (token: string) =>
  (await call(s.app, 'query', 'order.list', undefined, token)).body.result.data.items as unknown[];

describe('order.quote', () => {
  // Prices chosen so a percentage rounds (a fraction of a won is dropped) and a fixed discount
  // larger than the total is capped at it.
  const cases = [
    { name: 'no coupon', discount: undefined },
    { name: 'FIXED', discount: { type: 'FIXED' as const, value: 2_000 } },
    { name: 'FIXED above the total', discount: { type: 'FIXED' as const, value: 1_000_000 } },
    { name: 'PERCENT', discount: { type: 'PERCENT' as const, value: 15 } },
  ];

  it.each(cases)('$name: the quote is what order.create charges', async ({ discount }) => {
    const a = await product(1_333, 10);
    const b = await product(2_999, 10);
    const token = await user();
    const couponId = discount ? await couponHeldBy(token, discount) : undefined;
    const items = [
      { productId: a, quantity: 3 },
      { productId: b, quantity: 1 },
    ];

    const quoted = await call(s.app, 'query', 'order.quote', { items, couponId }, token);
    expect(quoted.status).toBe(200);
    const quote = quoted.body.result.data;
    // Nothing held, nothing written.
    expect([await stockOf(a), await stockOf(b)]).toEqual([10, 10]);
    expect(await ordersOf(token)).toEqual([]);

    const created = await call(s.app, 'mutation', 'order.create', { items, couponId }, token);
    expect(created.status).toBe(200);
    const order = created.body.result.data;
    expect(quote).toEqual({
      totalAmount: order.totalAmount,
      discountAmount: order.discountAmount,
      payAmount: order.payAmount,
      lines: order.items,
    });
    expect(quote.totalAmount).toBe(3 * 1_333 + 2_999);
    expect(quote.payAmount).toBe(quote.totalAmount - quote.discountAmount);
    if (discount?.type === 'PERCENT') expect(quote.discountAmount).toBe(Math.floor((6_998 * 15) / 100));
    if (discount?.type === 'FIXED') expect(quote.discountAmount).toBe(Math.min(discount.value, 6_998));
    if (!discount) expect(quote.discountAmount).toBe(0);
  });

  it('refuses a coupon as order.create would: not held, then held by an open order', async () => {
    const a = await product(5_000, 10);
    const owner = await user();
    const other = await user();
    const couponId = await couponHeldBy(owner, { type: 'FIXED', value: 1_000 });
    const items = [{ productId: a, quantity: 1 }];

    const notHeld = await call(s.app, 'query', 'order.quote', { items, couponId }, other);
    expect(notHeld.status).toBe(409);
    expect(notHeld.body.error.data).toMatchObject({ appCode: 'COUPON_NOT_USABLE', couponId });

    expect((await call(s.app, 'mutation', 'order.create', { items, couponId }, owner)).status).toBe(200);
    const quoted = await call(s.app, 'query', 'order.quote', { items, couponId }, owner);
    const created = await call(s.app, 'mutation', 'order.create', { items, couponId }, owner);
    expect([quoted.status, created.status]).toEqual([409, 409]);
    expect(quoted.body.error.data.appCode).toBe('COUPON_NOT_USABLE');
    expect(created.body.error.data.appCode).toBe('COUPON_NOT_USABLE');
  });

  it('refuses an unknown product and an anonymous caller', async () => {
    const token = await user();
    const unknown = await call(
      s.app,
      'query',
      'order.quote',
      { items: [{ productId: 999_999, quantity: 1 }] },
      token,
    );
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.data).toMatchObject({ appCode: 'PRODUCT_NOT_FOUND', productId: 999_999 });
    const anonymous = await call(s.app, 'query', 'order.quote', { items: [{ productId: 1, quantity: 1 }] });
    expect(anonymous.status).toBe(401);
  });
});
