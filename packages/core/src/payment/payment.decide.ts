import { randomUUID } from 'node:crypto';
import type { OrderWithLines } from '../db/database.ts';
import { AppError, AppErrorCode } from '../errors.ts';
import { toOrderView } from '../order/order.service.ts';
import type { PaymentWrite } from './payment.repository.ts';

/**
 * The payment rules, as a pure function: which payments of a batch are accepted, against the
 * rows the batch holds locked, and what each accepted one writes. No database, no Redis, no
 * clock of its own (each request carries its `now`): payment.batch.ts locks the rows, calls
 * `decide`, writes what it returns and answers the callers.
 */

export type PaymentView = {
  paymentId: string;
  orderId: string;
  amount: number;
  status: 'PAID';
  balance: number;
};

export type PaymentRequest = {
  userId: number;
  orderId: string;
  /** The payment's clock: holds expire against it and it is the payment's time. */
  now: Date;
  /** An idempotency key and the hash of the request it stands for. */
  idempotency?: { key: string; hash: string };
};

/** The rows a batch holds locked when it decides. */
export type LockedRows = {
  /** The requested orders that exist, by id, with their lines. */
  orders: ReadonlyMap<string, OrderWithLines>;
  /** Issued coupons of the orders, by `couponKey(couponId, userId)`: AVAILABLE or USED. */
  coupons: ReadonlyMap<string, string>;
  /** Balances of the orders' users. */
  balances: ReadonlyMap<number, number>;
  /** Units in stock (Postgres) of the orders' products. */
  stock: ReadonlyMap<number, number>;
};

export type Decision =
  | { kind: 'paid'; view: PaymentView; write: PaymentWrite; order: OrderWithLines; now: Date }
  | { kind: 'refused'; error: Error };

export const couponKey = (couponId: number, userId: number): string => `${couponId}:${userId}`;

const refused = (error: Error): Decision => ({ kind: 'refused', error });

/**
 * Decides each request in arrival order, exactly as one transaction per payment would have, one
 * after the other: checks first (the order exists and is the caller's, is unpaid, its hold has not
 * expired, the balance covers it, Postgres has the stock its lines hold, its coupon is still
 * AVAILABLE), then its effects on the state the next request sees (balance debited, stock taken,
 * coupon USED, order PAID). A refused request changes nothing. `requests[i]` undefined: decided
 * before the locks (a replayed key); its decision is undefined too. The locked rows are not
 * changed (the function works on copies).
 */
export function decide(
  locked: LockedRows,
  requests: readonly (PaymentRequest | undefined)[],
  newPaymentId: () => string = randomUUID,
): (Decision | undefined)[] {
  const balances = new Map(locked.balances);
  const stock = new Map(locked.stock);
  const coupons = new Map(locked.coupons);
  const paid = new Set<string>();
  return requests.map((request) => {
    if (!request) return undefined;
    const order = locked.orders.get(request.orderId);
    if (!order || order.user_id !== request.userId) {
      return refused(new AppError(AppErrorCode.ORDER_NOT_FOUND, 'Order not found'));
    }
    const status = paid.has(order.id) ? 'PAID' : order.status;
    if (status !== 'PENDING_PAYMENT') {
      return refused(new AppError(AppErrorCode.ORDER_NOT_PAYABLE, `Order is ${status}`, { status }));
    }
    if (order.expires_at.getTime() <= request.now.getTime()) {
      return refused(
        new AppError(AppErrorCode.ORDER_NOT_PAYABLE, 'Order hold has expired', { status: 'EXPIRED' }),
      );
    }
    const amount = order.pay_amount;
    const balanceBefore = balances.get(order.user_id) ?? 0;
    if (balanceBefore < amount) {
      return refused(
        new AppError(AppErrorCode.INSUFFICIENT_BALANCE, 'The balance does not cover this payment', {
          amount,
        }),
      );
    }
    const covered = order.lines.filter((l) => (stock.get(l.productId) ?? 0) >= l.quantity).length;
    if (covered !== order.lines.length) {
      // Redis held units Postgres does not have: refuse rather than oversell; the reconciler reports the drift.
      return refused(
        new Error(`stock commit for order ${order.id} matched ${covered} of ${order.lines.length} lines`),
      );
    }
    const couponId = order.coupon_id;
    const coupon = couponId === null ? undefined : couponKey(couponId, order.user_id);
    if (couponId !== null && coupons.get(coupon!) !== 'AVAILABLE') {
      return refused(
        new AppError(AppErrorCode.ORDER_NOT_PAYABLE, 'The order coupon is no longer usable', { couponId }),
      );
    }

    const balanceAfter = balanceBefore - amount;
    if (amount > 0) balances.set(order.user_id, balanceAfter);
    for (const l of order.lines) stock.set(l.productId, stock.get(l.productId)! - l.quantity);
    if (coupon !== undefined) coupons.set(coupon, 'USED');
    paid.add(order.id);
    const paymentId = newPaymentId();
    const view: PaymentView = { paymentId, orderId: order.id, amount, status: 'PAID', balance: balanceAfter };
    const write: PaymentWrite = {
      paymentId,
      orderId: order.id,
      userId: order.user_id,
      amount,
      paidAt: request.now,
      couponId: order.coupon_id,
      lines: order.lines,
      balanceBefore,
      balanceAfter,
      outbox: JSON.stringify({
        ...toOrderView({ ...order, status: 'PAID' }),
        userId: order.user_id,
        paymentId,
        paidAt: request.now.toISOString(),
      }),
      idempotency: request.idempotency && { key: request.idempotency.key, response: JSON.stringify(view) },
    };
    return { kind: 'paid', view, write, order, now: request.now };
  });
}
