import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OrderStatus, OrderWithLines } from '../db/database.ts';
import { AppError, AppErrorCode } from '../errors.ts';
import { couponKey, type Decision, decide, type LockedRows, type PaymentRequest } from './payment.decide.ts';

// Each property runs on 500 generated batches (a run takes about a second).
fc.configureGlobal({ numRuns: 500 });

const NOW = new Date('2026-12-07T12:00:00.000Z');
const USERS = [1, 2, 3];
const PRODUCTS = [10, 11, 12];
const COUPONS = [100, 101];

function order(
  id: string,
  fields: Partial<Omit<OrderWithLines, 'id'>> & Pick<OrderWithLines, 'user_id' | 'pay_amount' | 'lines'>,
): OrderWithLines {
  return {
    id,
    status: 'PENDING_PAYMENT',
    total_amount: fields.pay_amount,
    discount_amount: 0,
    coupon_id: null,
    idempotency_key: null,
    created_at: new Date(NOW.getTime() - 60_000),
    expires_at: new Date(NOW.getTime() + 60_000),
    paid_at: null,
    closed_at: null,
    ...fields,
  };
}

/** Locked rows of a few users, products and coupons, and requests naming those orders (or not). */
const batches = fc
  .record({
    orders: fc.array(
      fc.record({
        user: fc.constantFrom(...USERS),
        amount: fc.integer({ min: 0, max: 1_000 }),
        status: fc.constantFrom<OrderStatus>(
          'PENDING_PAYMENT',
          'PENDING_PAYMENT',
          'PENDING_PAYMENT',
          'PAID',
          'EXPIRED',
        ),
        expired: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
        coupon: fc.option(fc.constantFrom(...COUPONS), { nil: null }),
        lines: fc.uniqueArray(
          fc.record({ productId: fc.constantFrom(...PRODUCTS), quantity: fc.integer({ min: 1, max: 3 }) }),
          { minLength: 1, maxLength: 3, selector: (l) => l.productId },
        ),
      }),
      { minLength: 1, maxLength: 8 },
    ),
    balances: fc.tuple(...USERS.map(() => fc.integer({ min: 0, max: 2_500 }))),
    stock: fc.tuple(...PRODUCTS.map(() => fc.integer({ min: 0, max: 8 }))),
    couponStatus: fc.array(fc.constantFrom('AVAILABLE', 'AVAILABLE', 'USED'), {
      minLength: COUPONS.length * USERS.length,
      maxLength: COUPONS.length * USERS.length,
    }),
    picks: fc.array(
      fc.record({
        order: fc.nat(),
        /** Another user than the order's, an unknown order, a replayed key, or a plain request. */
        twist: fc.constantFrom('plain', 'plain', 'plain', 'other-user', 'unknown', 'decided-before'),
        keyed: fc.boolean(),
      }),
      { maxLength: 14 },
    ),
  })
  .map(({ orders: specs, balances, stock, couponStatus, picks }) => {
    const orders = new Map(
      specs.map((s, i) => {
        const id = `order-${i}`;
        return [
          id,
          order(id, {
            user_id: s.user,
            pay_amount: s.amount,
            status: s.status,
            coupon_id: s.coupon,
            expires_at: new Date(NOW.getTime() + (s.expired ? -1 : 60_000)),
            lines: s.lines.map((l) => ({ ...l, unitPrice: 100 })),
          }),
        ] as const;
      }),
    );
    const coupons = new Map<string, string>();
    for (const [i, c] of COUPONS.entries()) {
      for (const [j, u] of USERS.entries()) coupons.set(couponKey(c, u), couponStatus[i * USERS.length + j]!);
    }
    const locked: LockedRows = {
      orders,
      coupons,
      balances: new Map(USERS.map((u, i) => [u, balances[i]!])),
      stock: new Map(PRODUCTS.map((p, i) => [p, stock[i]!])),
    };
    const ids = [...orders.keys()];
    const requests = picks.map(({ order: n, twist, keyed }, i): PaymentRequest | undefined => {
      if (twist === 'decided-before') return undefined;
      const o = orders.get(ids[n % ids.length]!)!;
      return {
        orderId: twist === 'unknown' ? `missing-${i}` : o.id,
        userId: twist === 'other-user' ? (o.user_id % USERS.length) + 1 : o.user_id,
        now: NOW,
        ...(keyed ? { idempotency: { key: `k-${i}`, hash: 'h' } } : {}),
      };
    });
    return { locked, requests };
  });

const ids = () => {
  let n = 0;
  return () => `pay-${n++}`;
};

const paidOf = (decisions: (Decision | undefined)[]) =>
  decisions.flatMap((d) => (d?.kind === 'paid' ? [d] : []));

function codeOf(d: Decision | undefined): string | undefined {
  if (d?.kind !== 'refused') return d?.kind;
  return d.error instanceof AppError ? d.error.code : 'STOCK_DRIFT';
}

describe('decide: the payment rules without a database', () => {
  it('every request gets exactly one outcome; one decided before the locks gets none', () => {
    fc.assert(
      fc.property(batches, ({ locked, requests }) => {
        const decisions = decide(locked, requests, ids());
        expect(decisions).toHaveLength(requests.length);
        for (const [i, d] of decisions.entries()) expect(d === undefined).toBe(requests[i] === undefined);
      }),
    );
  });

  it('never debits more than a balance holds, and each user’s payments chain exactly', () => {
    fc.assert(
      fc.property(batches, ({ locked, requests }) => {
        const left = new Map(locked.balances);
        for (const { write, view } of paidOf(decide(locked, requests, ids()))) {
          expect(write.balanceBefore).toBe(left.get(write.userId));
          expect(write.balanceAfter).toBe(write.balanceBefore - write.amount);
          expect(write.balanceAfter).toBeGreaterThanOrEqual(0);
          expect(view.balance).toBe(write.balanceAfter);
          expect(view.amount).toBe(write.amount);
          left.set(write.userId, write.balanceAfter);
        }
      }),
    );
  });

  it('pays each order at most once, uses a coupon at most once, never takes stock it lacks', () => {
    fc.assert(
      fc.property(batches, ({ locked, requests }) => {
        const paid = paidOf(decide(locked, requests, ids()));
        const orderIds = paid.map((p) => p.write.orderId);
        expect(new Set(orderIds).size).toBe(orderIds.length);
        const coupons = paid.flatMap((p) =>
          p.write.couponId === null ? [] : [couponKey(p.write.couponId, p.write.userId)],
        );
        expect(new Set(coupons).size).toBe(coupons.length);
        for (const c of coupons) expect(locked.coupons.get(c)).toBe('AVAILABLE');
        for (const productId of PRODUCTS) {
          const taken = paid
            .flatMap((p) => p.write.lines)
            .filter((l) => l.productId === productId)
            .reduce((sum, l) => sum + l.quantity, 0);
          expect(taken).toBeLessThanOrEqual(locked.stock.get(productId)!);
        }
        for (const p of paid) {
          const o = locked.orders.get(p.write.orderId)!;
          expect(o.status).toBe('PENDING_PAYMENT');
          expect(o.expires_at.getTime()).toBeGreaterThan(NOW.getTime());
          expect(p.write.amount).toBe(o.pay_amount);
          expect(p.write.userId).toBe(o.user_id);
        }
      }),
    );
  });

  it('totals add up: what the payments debit is what the balances lose', () => {
    fc.assert(
      fc.property(batches, ({ locked, requests }) => {
        const paid = paidOf(decide(locked, requests, ids()));
        const after = new Map(locked.balances);
        for (const { write } of paid) after.set(write.userId, write.balanceAfter);
        const sum = (m: ReadonlyMap<number, number>) => [...m.values()].reduce((a, b) => a + b, 0);
        expect(sum(locked.balances) - sum(after)).toBe(paid.reduce((s, p) => s + p.write.amount, 0));
      }),
    );
  });

  it('decides a batch as one transaction per payment would, one after the other', () => {
    fc.assert(
      fc.property(batches, ({ locked, requests }) => {
        const together = decide(locked, requests, ids());
        // One request at a time, each against the rows the previous ones left.
        const orders = new Map(locked.orders);
        const balances = new Map(locked.balances);
        const stock = new Map(locked.stock);
        const coupons = new Map(locked.coupons);
        const next = ids();
        const alone = requests.map((request) => {
          const [d] = decide({ orders, balances, stock, coupons }, [request], next);
          if (d?.kind === 'paid') {
            const { write } = d;
            balances.set(write.userId, write.balanceAfter);
            for (const l of write.lines) stock.set(l.productId, stock.get(l.productId)! - l.quantity);
            if (write.couponId !== null) coupons.set(couponKey(write.couponId, write.userId), 'USED');
            orders.set(write.orderId, { ...orders.get(write.orderId)!, status: 'PAID' });
          }
          return d;
        });
        expect(together.map(codeOf)).toEqual(alone.map(codeOf));
        expect(paidOf(together).map((p) => p.write)).toEqual(paidOf(alone).map((p) => p.write));
      }),
    );
  });

  it('is pure: the locked rows are left as they were', () => {
    fc.assert(
      fc.property(batches, ({ locked, requests }) => {
        const before = structuredClone(locked);
        decide(locked, requests, ids());
        expect(locked).toEqual(before);
      }),
    );
  });

  it('refuses with the contract’s codes', () => {
    const o = order('o1', {
      user_id: 1,
      pay_amount: 500,
      lines: [{ productId: 10, quantity: 2, unitPrice: 250 }],
    });
    const locked: LockedRows = {
      orders: new Map([
        ['o1', o],
        ['paid', { ...o, id: 'paid', status: 'PAID' }],
        ['late', { ...o, id: 'late', expires_at: NOW }],
        ['coupon', { ...o, id: 'coupon', coupon_id: 100 }],
        ['short', { ...o, id: 'short', lines: [{ productId: 11, quantity: 1, unitPrice: 500 }] }],
      ]),
      coupons: new Map([[couponKey(100, 1), 'USED']]),
      balances: new Map([[1, 499]]),
      stock: new Map([
        [10, 5],
        [11, 0],
      ]),
    };
    const ask = (orderId: string, userId = 1) => ({ orderId, userId, now: NOW });
    const codes = decide(locked, [
      ask('nope'),
      ask('o1', 2),
      ask('paid'),
      ask('late'),
      ask('o1'),
      ask('coupon'),
    ]).map(codeOf);
    expect(codes).toEqual([
      AppErrorCode.ORDER_NOT_FOUND,
      AppErrorCode.ORDER_NOT_FOUND,
      AppErrorCode.ORDER_NOT_PAYABLE,
      AppErrorCode.ORDER_NOT_PAYABLE,
      AppErrorCode.INSUFFICIENT_BALANCE,
      AppErrorCode.INSUFFICIENT_BALANCE,
    ]);
    const rich = { ...locked, balances: new Map([[1, 10_000]]) };
    expect(decide(rich, [ask('coupon'), ask('short'), ask('o1'), ask('o1')]).map(codeOf)).toEqual([
      AppErrorCode.ORDER_NOT_PAYABLE,
      'STOCK_DRIFT',
      'paid',
      AppErrorCode.ORDER_NOT_PAYABLE,
    ]);
  });
});
