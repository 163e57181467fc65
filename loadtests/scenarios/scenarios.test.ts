// The scenario modules' verdicts, on made-up answers: each closing check must fail for the
// violation it names and pass when everything adds up. k6 can't run here, and `pnpm loadtest`
// is not part of `pnpm test`, so this is where their logic is checked in CI.
import { describe, expect, it } from 'vitest';
import * as crowd from './coupon-flash-crowd.js';
import * as mixed from './mixed.js';
import * as rush from './order-rush.js';
import * as sale from './sale.js';
import * as storm from './top-storm.js';
import { isExpected, ranking, withOverrides } from './trpc.js';

const ok = (data: unknown) => JSON.stringify({ result: { data } });
const refused = (appCode: string) => JSON.stringify({ error: { data: { appCode } } });

describe('trpc.js', () => {
  it('builds the wire format of queries and mutations', () => {
    expect(crowd.nextIssue(crowd.shape, 7, () => 0)).toMatchObject({
      method: 'POST',
      path: '/trpc/coupon.issue',
      body: '{"couponId":7}',
      user: crowd.shape.firstUser,
    });
    expect(rush.stockCall(3)).toMatchObject({
      method: 'GET',
      path: `/trpc/product.get?input=${encodeURIComponent('{"productId":3}')}`,
    });
  });

  it('expects successes and the listed refusals only', () => {
    expect(isExpected(200, ok({}), [])).toBe(true);
    expect(isExpected(409, refused('COUPON_SOLD_OUT'), crowd.refusals)).toBe(true);
    expect(isExpected(409, refused('COUPON_NOT_ACTIVE'), crowd.refusals)).toBe(false);
    expect(isExpected(500, '', crowd.refusals)).toBe(false);
    expect(isExpected(409, 'not json', crowd.refusals)).toBe(false);
  });

  it('ranks by units, ties by the lower id, at most 5, nothing unsold', () => {
    const sales = [5, 9, 5, 0, 1, 2, 7].map((soldQuantity, i) => ({ productId: i + 1, soldQuantity }));
    expect(ranking(sales).map((s) => s.productId)).toEqual([2, 7, 1, 3, 6]);
  });

  it('takes shape overrides from the environment', () => {
    expect(withOverrides({ users: 1, firstUser: 2 }, { USERS: '10', FIRST_USER: '' })).toEqual({
      users: 10,
      firstUser: 2,
    });
    expect(withOverrides({ users: 1 }, { LOADTEST_USERS: '5' }, 'LOADTEST_')).toEqual({ users: 5 });
  });
});

describe('coupon-flash-crowd verdict', () => {
  const s = { ...crowd.shape, quantity: 2, users: 4, firstUser: 100 };
  const mine = (held: number[]) =>
    held.map((n, i) => ({
      user: 100 + i,
      status: 200,
      body: ok({ items: Array.from({ length: n }, () => ({ couponId: 1 })) }),
    }));
  const soldOut = { status: 409, body: refused('COUPON_SOLD_OUT') };

  it('passes when exactly the quantity is held, once each', () => {
    expect(crowd.verdict(s, 1, mine([1, 0, 1, 0]), soldOut, new Set([100, 102])).violations).toEqual([]);
  });

  it('fails for a coupon held twice, too many holders, a lost ISSUED and a newcomer served', () => {
    expect(crowd.verdict(s, 1, mine([2, 0, 0, 0]), soldOut).violations.join()).toMatch(
      /holds coupon 1 2 times/,
    );
    expect(crowd.verdict(s, 1, mine([1, 1, 1, 0]), soldOut).violations.join()).toMatch(/3 users hold/);
    expect(crowd.verdict(s, 1, mine([1, 0, 1, 0]), soldOut, new Set([101])).violations.join()).toMatch(
      /user 101 was told ISSUED/,
    );
    expect(crowd.verdict(s, 1, mine([1, 0, 1, 0]), { status: 200, body: ok({}) }).violations.join()).toMatch(
      /newcomer/,
    );
  });
});

describe('order-rush verdict', () => {
  const s = { ...rush.shape, stock: 10 };
  it('passes when orders and what is left add up to the stock', () => {
    expect(rush.verdict(s, { unitsInOrders: 7, stockLeft: 3, lowestSeen: 3, confirmedUnits: 7 })).toEqual([]);
  });
  it('fails for lost units, negative stock and confirmations without orders', () => {
    expect(rush.verdict(s, { unitsInOrders: 6, stockLeft: 3 })).toHaveLength(1);
    expect(rush.verdict(s, { unitsInOrders: 10, stockLeft: 0, lowestSeen: -1 })).toHaveLength(1);
    expect(rush.verdict(s, { unitsInOrders: 7, stockLeft: 3, confirmedUnits: 8 })).toHaveLength(1);
  });
  it('counts units of pending and paid orders of the product only', () => {
    const line = (productId: number, quantity: number) => ({ productId, quantity, unitPrice: 1 });
    const orders = [
      { status: 'PAID', items: [line(1, 2), line(2, 5)] },
      { status: 'PENDING_PAYMENT', items: [line(1, 1)] },
      { status: 'EXPIRED', items: [line(1, 4)] },
    ] as Parameters<typeof rush.unitsInOrders>[1];
    expect(rush.unitsInOrders(1, orders)).toBe(3);
  });
});

describe('top-storm verdict', () => {
  const products = storm.SOLD.map((_, i) => ({
    id: i + 1,
    name: `top ${i + 1}`,
    price: 1000,
    stock: 100,
    imageUrl: null,
  }));
  const expected = storm.expectedTop(products);
  it('accepts the ranking of the sales and nothing else', () => {
    expect(expected.map((p) => p.productId)).toEqual([6, 2, 8, 3, 5]);
    expect(storm.verdictFirst(ok({ items: expected }), expected)).toEqual([]);
    expect(storm.verdictFirst(ok({ items: [...expected].reverse() }), expected)).toHaveLength(1);
    expect(storm.verdictFirst(ok({ items: expected.slice(0, 4) }), expected)).toHaveLength(1);
  });
});

describe('mixed', () => {
  const s = { ...mixed.shape, users: 2, firstUser: 10, chargeSlots: 2, charge: 1000, stock: 5 };
  const line = (productId: number, quantity: number) => ({ productId, quantity, unitPrice: 1 });
  const order = (orderId: string, status: string, payAmount: number, items: ReturnType<typeof line>[]) =>
    ({ orderId, status, payAmount, items }) as unknown as Parameters<typeof mixed.userVerdict>[3][number];

  it('checks balances against every charge slot minus the paid orders, and units per product', () => {
    const tally = mixed.newTally([1, 2]);
    const orders = [order('a', 'PAID', 300, [line(1, 2)]), order('b', 'PENDING_PAYMENT', 100, [line(2, 1)])];
    expect(mixed.userVerdict(s, tally, 10, orders, ok({ balance: 1700 }))).toEqual([]);
    expect(mixed.userVerdict(s, mixed.newTally([1, 2]), 10, orders, ok({ balance: 2000 }))).toHaveLength(1);
    expect(tally).toEqual({ 1: { held: 0, paid: 2 }, 2: { held: 1, paid: 0 } });
    const stock = (productId: number, n: number) => ({ productId, body: ok({ stock: n }) });
    expect(mixed.stockVerdict(s, tally, [stock(1, 3), stock(2, 4)])).toEqual([]);
    expect(mixed.stockVerdict(s, tally, [stock(1, 4)])).toHaveLength(1);
    const top = (items: unknown[]) => ok({ items });
    expect(mixed.topVerdict(tally, top([{ productId: 1, name: 'x', price: 1, soldQuantity: 2 }]))).toEqual(
      [],
    );
    expect(mixed.topVerdict(tally, top([]))).toHaveLength(1);
  });

  it('pays only orders it saw made, and retries one refused for the balance', () => {
    const state = mixed.newState();
    // 0.95 of the mix is 'pay' (MIX), which becomes an order while nothing is payable.
    const call = mixed.nextCall(s, state, [1, 2], 'run', () => 0.95); // 'pay' with nothing payable
    expect(call.kind).toBe('order');
    mixed.onAnswer(state, call, 200, ok({ orderId: 'o1' }));
    expect(state.payable).toEqual([{ user: call.user, orderId: 'o1' }]);
    const pay = mixed.nextCall(s, state, [1, 2], 'run', () => 0.95);
    expect(pay).toMatchObject({ kind: 'pay', procedure: 'payment.pay', body: '{"orderId":"o1"}' });
    expect(state.payable).toEqual([]);
    mixed.onAnswer(state, pay, 409, refused('INSUFFICIENT_BALANCE'));
    expect(state.payable).toEqual([{ user: pay.user, orderId: 'o1' }]);
  });
});

describe('sale.js', () => {
  const s = { ...sale.shape, users: 10, coupons: 4, products: 2, stock: 5 };
  const productAnswer = (stock: number) => ({ status: 200, body: ok({ id: 1, name: 'x', price: 1, stock }) });
  const soldOut = { status: 409, body: refused('COUPON_SOLD_OUT') };
  const orderAnswer = (orderId: string) => ({ status: 200, body: ok({ orderId }) });
  const expired = { status: 200, body: ok({ status: 'EXPIRED' }) };
  const clean = () => {
    const t = sale.newTally(s);
    t.paid = [2, 5];
    t.abandoned = [{ user: 1, orderId: 'a' }];
    return t;
  };
  const answers = { abandoned: [expired], products: [productAnswer(3), productAnswer(0)], coupon: soldOut };

  it('passes when everything adds up', () => {
    expect(sale.verdict(s, clean(), answers)).toEqual({ violations: [], expired: 1 });
  });

  it('fails for each violation it names', () => {
    const pending = { status: 200, body: ok({ status: 'PENDING_PAYMENT' }) };
    expect(sale.verdict(s, clean(), { ...answers, abandoned: [pending] }).violations).toEqual([
      'abandoned order a is PENDING_PAYMENT, not EXPIRED',
    ]);
    expect(
      sale.verdict(s, clean(), { ...answers, products: [productAnswer(2), productAnswer(0)] }).violations[0],
    ).toMatch(/product 1: 2 on offer/);
    const oversold = clean();
    oversold.paid = [2, 6];
    expect(sale.verdict(s, oversold, answers).violations).toContain('product 2: 6 units paid, 5 stocked');
    expect(sale.verdict(s, clean(), { ...answers, coupon: orderAnswer('x') }).violations).toEqual([
      'a newcomer after the sale got ISSUED, not COUPON_SOLD_OUT',
    ]);
    const told = clean();
    told.issued = 5;
    expect(sale.verdict(s, told, answers).violations).toEqual([
      '5 shoppers were told ISSUED, 4 coupons exist',
    ]);
  });

  it('accepts a retry that differs only where the first was refused', () => {
    const t = sale.newTally(s);
    const outOfStock = { status: 409, body: refused('OUT_OF_STOCK') };
    expect(sale.compareRetry(t, 'order', outOfStock, orderAnswer('b'))).toEqual(orderAnswer('b'));
    expect(sale.compareRetry(t, 'order', orderAnswer('b'), orderAnswer('b'))).toEqual(orderAnswer('b'));
    expect(t.retryMismatches).toEqual([]);
    sale.compareRetry(t, 'order', orderAnswer('b'), orderAnswer('c'));
    expect(t.retryMismatches).toEqual(['order sent twice with one key answered b and c']);
  });

  it('classifies answers: refusals of the step, load shed, a late payment, the unexpected', () => {
    expect(sale.outcomeOf('issue', 409, refused('COUPON_SOLD_OUT'))).toBe('COUPON_SOLD_OUT');
    expect(sale.outcomeOf('issue', 409, refused('COUPON_ALREADY_ISSUED'))).toBe('ok');
    expect(sale.outcomeOf('order', 409, refused('COUPON_SOLD_OUT'))).toBe('unexpected');
    expect(sale.outcomeOf('order', 503, refused('UNAVAILABLE'))).toBe('UNAVAILABLE');
    const late = JSON.stringify({ error: { data: { appCode: 'ORDER_NOT_PAYABLE', status: 'EXPIRED' } } });
    expect(sale.outcomeOf('pay', 409, late)).toBe('ORDER_EXPIRED');
    expect(sale.outcomeOf('pay', 409, refused('ORDER_NOT_PAYABLE'))).toBe('unexpected');
    expect(sale.outcomeOf('pay', 500, '')).toBe('unexpected');
  });

  it('retries only calls that are safe to repeat', () => {
    const keyed = sale.orderCall({ ...sale.plan(s, 'r', 0, () => 0), keyed: true }, [1, 2], 3)!;
    const keyless = sale.orderCall({ ...sale.plan(s, 'r', 0, () => 0), keyed: false }, [1, 2], 3)!;
    expect(sale.retries('order', keyed, 'UNAVAILABLE', 1)).toBe(true);
    expect(sale.retries('order', keyless, 'UNAVAILABLE', 1)).toBe(false);
    expect(sale.retries('order', keyed, 'UNAVAILABLE', sale.RETRY_ATTEMPTS)).toBe(false);
    expect(sale.retries('order', keyed, 'OUT_OF_STOCK', 1)).toBe(false);
  });

  it('judges from the orders alone where no tally is kept (k6)', () => {
    const order = (status: string, productId: number) => ({
      orderId: `${status}-${productId}`,
      status,
      items: [{ productId, quantity: 1 }],
    });
    const orders = [order('PAID', 11), order('PAID', 11), order('EXPIRED', 12)] as never[];
    const products = [productAnswer(3), productAnswer(5)];
    expect(sale.ordersVerdict(s, [11, 12], orders, products, soldOut)).toEqual({
      violations: [],
      expired: 1,
      paid: [2, 0],
    });
    const pending = [...orders, order('PENDING_PAYMENT', 12)] as never[];
    expect(sale.ordersVerdict(s, [11, 12], pending, products, soldOut).violations).toEqual([
      'order PENDING_PAYMENT-12 is PENDING_PAYMENT after the hold time',
    ]);
  });
});
