// Cross-user access: for every procedure input that names something by id, another user's
// thing answers exactly like one that does not exist, and nothing changes for either user.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createTestServer, type TestServer } from '../../../test/support.ts';
import { appRouter } from '../src/trpc/root.ts';

let s: TestServer;
let admin: string;
const MISSING_ORDER = '00000000-0000-4000-8000-000000000000';

beforeAll(async () => {
  s = await createTestServer({
    overrides: { NODE_ENV: 'production', AUTH_JWT_SECRET: 'cross-user-test-secret-0123456789abcdef' },
  });
  admin = await s.token(1, { admin: true });
});
afterAll(() => s.cleanup());

async function ok(kind: 'query' | 'mutation', path: string, input: unknown, token: string) {
  const res = await call(s.app, kind, path, input, token);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.result.data;
}

let nextUser = 1000;
async function user(balance = 0) {
  const id = nextUser++;
  const token = await s.token(id);
  if (balance > 0) await ok('mutation', 'balance.charge', { amount: balance }, token);
  return { id, token };
}

/** Everything a user owns, as the API and the database see it. */
async function stateOf(u: { id: number; token: string }) {
  const [balance, coupons, orders] = await Promise.all([
    ok('query', 'balance.get', undefined, u.token),
    ok('query', 'coupon.mine', undefined, u.token),
    ok('query', 'order.list', { limit: 100 }, u.token),
  ]);
  const db = s.rt.db;
  const [ledger, payments, keys, issued] = await Promise.all([
    db.selectFrom('balance_ledger').selectAll().where('user_id', '=', u.id).orderBy('id').execute(),
    db.selectFrom('payments').selectAll().where('user_id', '=', u.id).orderBy('id').execute(),
    db.selectFrom('idempotency_keys').selectAll().where('user_id', '=', u.id).orderBy('key').execute(),
    db.selectFrom('issued_coupons').selectAll().where('user_id', '=', u.id).orderBy('coupon_id').execute(),
  ]);
  return { balance, coupons, orders, ledger, payments, keys, issued };
}

async function product(price: number, stock: number) {
  return (await ok('mutation', 'admin.product.create', { name: `p${price}`, price, stock }, admin))
    .id as number;
}
async function coupon() {
  return (
    await ok(
      'mutation',
      'admin.coupon.create',
      { name: 'c', discount: { type: 'FIXED', value: 500 }, totalQuantity: 100 },
      admin,
    )
  ).couponId as number;
}

/**
 * Every input key that names something by id, in every procedure (found by walking the zod
 * schemas), with what the test below proves about it. A new id-taking input fails the first
 * test until it is classified here and covered.
 */
const ID_INPUTS: Record<string, 'owned' | 'held' | 'shared' | 'dev-only'> = {
  // Things that belong to one user: someone else's answers as missing.
  'order.get.orderId': 'owned',
  'payment.pay.orderId': 'owned',
  'order.list.cursor': 'owned',
  // A coupon someone else holds cannot be put on my order: refused like one nobody holds.
  'order.create.couponId': 'held',
  // The shared catalog: the same for every user (no owner to protect).
  'order.create.items.productId': 'shared',
  'product.get.productId': 'shared',
  'coupon.issue.couponId': 'shared',
  'admin.product.restock.productId': 'shared',
  'product.list.cursor': 'shared',
  'coupon.get.couponId': 'shared',
  'coupon.list.cursor': 'shared',
  // A room is the same for everyone; a user's ticket in it is found by the token, never by an id.
  'waitingRoom.get.roomId': 'shared',
  'waitingRoom.join.roomId': 'shared',
  'waitingRoom.status.roomId': 'shared',
  'admin.waitingRoom.update.roomId': 'shared',
  // The local sign-in: a token for the user named; refused in production (dev-token.test.ts).
  'dev.token.userId': 'dev-only',
};

type ZodLike = { _zod: { def: Record<string, any> } };
function idKeys(schema: ZodLike | undefined, prefix: string, out: string[]): string[] {
  if (!schema?._zod) return out;
  const def = schema._zod.def;
  switch (def.type) {
    case 'object':
      for (const [key, value] of Object.entries(def.shape as Record<string, ZodLike>)) {
        if (/Id$|^cursor$/.test(key)) out.push(`${prefix}.${key}`);
        idKeys(value, `${prefix}.${key}`, out);
      }
      break;
    case 'optional':
    case 'nullable':
    case 'default':
      idKeys(def.innerType, prefix, out);
      break;
    case 'array':
      idKeys(def.element, prefix, out);
      break;
    case 'union':
      for (const option of def.options) idKeys(option, prefix, out);
      break;
    case 'pipe':
      idKeys(def.in, prefix, out);
      break;
  }
  return out;
}

describe('another user’s ids', () => {
  it('classifies every id-taking input of the router', () => {
    const found: string[] = [];
    for (const [path, procedure] of Object.entries(appRouter._def.procedures)) {
      for (const input of (procedure as unknown as { _def: { inputs: ZodLike[] } })._def.inputs) {
        idKeys(input, path, found);
      }
    }
    expect([...new Set(found)].sort()).toEqual(Object.keys(ID_INPUTS).sort());
  });

  it('order.get, payment.pay and order.list answer another user’s order exactly like a missing one', async () => {
    const p = await product(1_000, 100);
    const owner = await user(50_000);
    const other = await user(50_000);
    const pending = await ok(
      'mutation',
      'order.create',
      { items: [{ productId: p, quantity: 2 }] },
      owner.token,
    );
    const paid = await ok(
      'mutation',
      'order.create',
      { items: [{ productId: p, quantity: 1 }] },
      owner.token,
    );
    await ok('mutation', 'payment.pay', { orderId: paid.orderId }, owner.token);
    // The other user has an order of their own, so a cursor of theirs is a real one too.
    await ok('mutation', 'order.create', { items: [{ productId: p, quantity: 1 }] }, other.token);
    const before = { owner: await stateOf(owner), other: await stateOf(other) };
    const stock = (await ok('query', 'product.get', { productId: p }, other.token)).stock;

    for (const orderId of [pending.orderId, paid.orderId]) {
      const asMissing = async (kind: 'query' | 'mutation', path: string, input: (id: string) => object) => {
        const theirs = await call(s.app, kind, path, input(orderId), other.token);
        const missing = await call(s.app, kind, path, input(MISSING_ORDER), other.token);
        expect(theirs).toEqual(missing);
        return theirs;
      };
      const get = await asMissing('query', 'order.get', (id) => ({ orderId: id }));
      expect(get.status).toBe(404);
      expect(get.body.error.data.appCode).toBe('ORDER_NOT_FOUND');
      const pay = await asMissing('mutation', 'payment.pay', (id) => ({ orderId: id }));
      expect(pay.status).toBe(404);
      expect(pay.body.error.data.appCode).toBe('ORDER_NOT_FOUND');
      // With an idempotency key too (the key is the caller's own, and nothing is recorded).
      await asMissing('mutation', 'payment.pay', (id) => ({ orderId: id, idempotencyKey: `pay-${id}` }));
      const page = await asMissing('query', 'order.list', (id) => ({ cursor: id, limit: 10 }));
      expect(page.body.result.data).toEqual({ items: [], nextCursor: null });
    }

    expect({ owner: await stateOf(owner), other: await stateOf(other) }).toEqual(before);
    expect((await ok('query', 'product.get', { productId: p }, other.token)).stock).toBe(stock);
    // The owner still sees and can pay their order.
    expect((await ok('query', 'order.get', { orderId: pending.orderId }, owner.token)).status).toBe(
      'PENDING_PAYMENT',
    );
    await ok('mutation', 'payment.pay', { orderId: pending.orderId }, owner.token);
  });

  it('order.create refuses a coupon another user holds exactly like one nobody holds, and holds nothing', async () => {
    const p = await product(10_000, 5);
    const held = await coupon();
    const nobodys = await coupon();
    const holder = await user();
    const other = await user(50_000);
    await ok('mutation', 'coupon.issue', { couponId: held }, holder.token);
    const before = { holder: await stateOf(holder), other: await stateOf(other) };

    const order = (couponId: number) =>
      call(
        s.app,
        'mutation',
        'order.create',
        { items: [{ productId: p, quantity: 5 }], couponId },
        other.token,
      );
    const theirs = await order(held);
    const none = await order(nobodys);
    expect(theirs.status).toBe(409);
    expect(theirs.body.error.data.appCode).toBe('COUPON_NOT_USABLE');
    // Same answer but for the id itself, which the error names.
    const anonymous = (body: any) => ({
      ...body,
      error: { ...body.error, data: { ...body.error.data, couponId: 'ID' } },
    });
    expect(theirs.body.error.data.couponId).toBe(held);
    expect(anonymous(theirs.body)).toEqual(anonymous(none.body));

    expect({ holder: await stateOf(holder), other: await stateOf(other) }).toEqual(before);
    // All 5 units are still there: the refused order held nothing.
    expect((await ok('query', 'product.get', { productId: p }, other.token)).stock).toBe(5);
    // And the holder can still use it.
    await ok(
      'mutation',
      'order.create',
      { items: [{ productId: p, quantity: 1 }], couponId: held },
      holder.token,
    );
  });

  it('coupon.issue: another user holding a coupon neither blocks nor shows in my issue', async () => {
    const c = await coupon();
    const a = await user();
    const b = await user();
    await ok('mutation', 'coupon.issue', { couponId: c }, a.token);
    expect((await ok('mutation', 'coupon.issue', { couponId: c }, b.token)).status).toBe('ISSUED');
    expect((await ok('query', 'coupon.mine', undefined, b.token)).items).toHaveLength(1);
    expect((await ok('query', 'coupon.mine', undefined, a.token)).items).toHaveLength(1);
  });

  it('idempotency keys are per user: the same key from another user neither replays nor conflicts', async () => {
    const p = await product(2_000, 100);
    const a = await user(20_000);
    const b = await user(20_000);
    const key = 'shared-key-1';
    const chargeA = await ok('mutation', 'balance.charge', { amount: 3_000, idempotencyKey: key }, a.token);
    const chargeB = await ok('mutation', 'balance.charge', { amount: 7_000, idempotencyKey: key }, b.token);
    expect(chargeB.transactionId).not.toBe(chargeA.transactionId);
    expect(chargeB).toMatchObject({ userId: b.id, balance: 27_000 });

    const orderA = await ok(
      'mutation',
      'order.create',
      { items: [{ productId: p, quantity: 1 }], idempotencyKey: key },
      a.token,
    );
    const orderB = await ok(
      'mutation',
      'order.create',
      { items: [{ productId: p, quantity: 2 }], idempotencyKey: key },
      b.token,
    );
    expect(orderB.orderId).not.toBe(orderA.orderId);
    expect(orderB.totalAmount).toBe(4_000);

    const payA = await ok(
      'mutation',
      'payment.pay',
      { orderId: orderA.orderId, idempotencyKey: key },
      a.token,
    );
    // B's key is B's own: paying A's order with it is ORDER_NOT_FOUND, not a replay of A's payment.
    const payB = await call(
      s.app,
      'mutation',
      'payment.pay',
      { orderId: orderA.orderId, idempotencyKey: key },
      b.token,
    );
    expect(payB.status).toBe(404);
    expect(payB.body.error.data.appCode).toBe('ORDER_NOT_FOUND');
    expect((await ok('query', 'balance.get', undefined, a.token)).balance).toBe(20_000 + 3_000 - 2_000);
    expect((await ok('query', 'balance.get', undefined, b.token)).balance).toBe(27_000);
    expect(payA.amount).toBe(2_000);
  });

  it('refuses a user id smuggled into any input (the user is always the token’s)', async () => {
    const a = await user(10_000);
    const b = await user(10_000);
    const before = { a: await stateOf(a), b: await stateOf(b) };
    for (const [kind, path, input] of [
      ['mutation', 'balance.charge', { amount: 5_000, userId: b.id }],
      ['mutation', 'balance.charge', { amount: 5_000, user: { userId: b.id } }],
      ['query', 'order.list', { userId: b.id }],
      ['mutation', 'payment.pay', { orderId: MISSING_ORDER, userId: b.id }],
      ['mutation', 'coupon.issue', { couponId: 1, userId: b.id }],
    ] as const) {
      const res = await call(s.app, kind, path, input, a.token);
      expect(res.status).toBe(400);
      expect(res.body.error.data.appCode).toBe('INVALID_INPUT');
    }
    expect({ a: await stateOf(a), b: await stateOf(b) }).toEqual(before);
  });
});
