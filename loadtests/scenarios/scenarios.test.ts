// The scenario modules' verdicts, on made-up answers: each closing check must fail for the
// violation it names and pass when everything adds up. k6 can't run here, and `pnpm loadtest`
// is not part of `pnpm test`, so this is where their logic is checked in CI.
import { describe, expect, it } from 'vitest';
import { judge } from '../node/sale.ts';
import * as sale from './sale.js';
import { type Call, ranking, withOverrides } from './trpc.js';

const ok = (data: unknown) => JSON.stringify({ result: { data } });
const refused = (appCode: string) => JSON.stringify({ error: { data: { appCode } } });

describe('trpc.js', () => {
  it('builds the wire format of queries and mutations', () => {
    const p = sale.plan(sale.shape, 'run', 0, () => 0);
    expect(sale.issueCall(p, 7)).toMatchObject({
      method: 'POST',
      path: '/trpc/coupon.issue',
      body: '{"couponId":7}',
      user: sale.shape.firstUser,
    });
    expect(sale.closingCalls(sale.shape, sale.newTally(sale.shape), [3], 7).products[0]).toMatchObject({
      method: 'GET',
      path: `/trpc/product.get?input=${encodeURIComponent('{"productId":3}')}`,
    });
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

  it('checks that product.top ranks the paid units', () => {
    const products = [
      { status: 200, body: ok({ id: 11, stock: 3 }) },
      { status: 200, body: ok({ id: 12, stock: 0 }) },
    ];
    const ranked = [
      { productId: 12, name: 'b', price: 1, soldQuantity: 5 },
      { productId: 11, name: 'a', price: 1, soldQuantity: 2 },
    ];
    const top = (items: unknown[]) => ({ status: 200, body: ok({ items }) });
    expect(sale.verdict(s, clean(), { ...answers, products, top: top(ranked) }).violations).toEqual([]);
    expect(
      sale.verdict(s, clean(), { ...answers, products, top: top([...ranked].reverse()) }).violations,
    ).toEqual([
      'product.top is [{"productId":11,"soldQuantity":2},{"productId":12,"soldQuantity":5}], the paid units rank [{"productId":12,"soldQuantity":5},{"productId":11,"soldQuantity":2}]',
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
    expect(sale.outcomeOf('pay', 0, 'timeout')).toBe('NO_ANSWER');
    // Behind a room: a waiting step expects no refusal, a pass holder no NOT_ADMITTED.
    expect(sale.outcomeOf('join', 200, ok({}))).toBe('ok');
    expect(sale.outcomeOf('join', 503, '')).toBe('UNAVAILABLE');
    expect(sale.outcomeOf('get', 404, '')).toBe('unexpected');
    const notAdmitted = JSON.stringify({ error: { data: { appCode: 'NOT_ADMITTED', roomId: 1 } } });
    expect(sale.outcomeOf('issue', 403, notAdmitted)).toBe('NOT_ADMITTED');
    expect(sale.kindOf('NOT_ADMITTED')).toBe('unexpected');
    expect(sale.kindOf('OUT_OF_STOCK')).toBe('refused');
    expect(sale.kindOf('RATE_LIMITED')).toBe('shed');
  });

  it('retries only calls that are safe to repeat', () => {
    const keyed = sale.orderCall({ ...sale.plan(s, 'r', 0, () => 0), keyed: true }, [1, 2], 3)!;
    const keyless = sale.orderCall({ ...sale.plan(s, 'r', 0, () => 0), keyed: false }, [1, 2], 3)!;
    expect(sale.retries('order', keyed, 'UNAVAILABLE', 1)).toBe(true);
    expect(sale.retries('order', keyless, 'UNAVAILABLE', 1)).toBe(false);
    expect(sale.retries('order', keyed, 'UNAVAILABLE', sale.RETRY_ATTEMPTS)).toBe(false);
    expect(sale.retries('order', keyed, 'OUT_OF_STOCK', 1)).toBe(false);
    expect(sale.retries('order', keyed, 'NO_ANSWER', 1)).toBe(false);
    // A waiting page asks again after no answer: joining twice answers the same ticket.
    expect(sale.retries('join', keyed, 'NO_ANSWER', 1)).toBe(true);
  });

  it('walks the journey: the pass on the guarded calls, the tally, a retry sent twice', async () => {
    const sent: Call[] = [];
    const data: Record<string, unknown> = {
      'coupon.issue': {},
      'order.create': { orderId: 'o1', payAmount: 25000 },
      'balance.charge': {},
      'payment.pay': { paymentId: 'p1' },
    };
    const io: sale.Io = {
      send: async (_step, call) => {
        sent.push(call);
        return { status: 200, body: ok(data[call.procedure]) };
      },
      count: () => {},
      sleep: async () => {},
    };
    const p = { ...sale.plan(s, 'r', 0, () => 0), product: 1, retries: true, abandons: false };
    const t = sale.newTally(s);
    await sale.shop(io, p, { couponId: 7, productIds: [11, 12] }, t, 'the-pass');
    expect(sent.map((c) => [c.procedure, c.pass])).toEqual([
      ['coupon.issue', 'the-pass'],
      ['order.create', 'the-pass'],
      ['order.create', 'the-pass'],
      ['balance.charge', undefined],
      ['payment.pay', undefined],
      ['payment.pay', undefined],
    ]);
    expect(t).toMatchObject({ issued: 1, ordered: [0, 1], paid: [0, 1], retryMismatches: [] });
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

  it("judges its thresholds, k6 expressions, on the Node driver's numbers", () => {
    const stats = {
      requests: 10,
      durationSec: 1,
      rps: 10,
      p50: 1,
      p95: 2000,
      p99: 4000,
      max: 5,
      errors: 0,
      statusCounts: {},
    };
    expect(judge(sale.thresholds, { funnel_calls: stats, unexpected_answers: 0.002 })).toEqual([
      { name: 'funnel_calls p(95)<2000', value: '2000.0 ms', ok: false, latency: true },
      { name: 'funnel_calls p(99)<5000', value: '4000.0 ms', ok: true, latency: true },
      { name: 'unexpected_answers rate<0.001', value: '0.200%', ok: false, latency: false },
    ]);
    expect(judge({ step_join: ['p(99)<=4000'] }, { step_join: stats })[0]!.ok).toBe(true);
  });
});
