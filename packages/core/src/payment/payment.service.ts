import { randomUUID } from 'node:crypto';
import { debitBalance } from '../balance/balance.repository.ts';
import { ensureIssuedCouponRow, findHeldCoupon } from '../coupon/coupon.service.ts';
import { AppError, AppErrorCode } from '../errors.ts';
import { withIdempotency } from '../idempotency/idempotency.service.ts';
import { ensureOrderSaved } from '../order/order.persist.ts';
import { lockOrderForPayment, markOrderPaid } from '../order/order.repository.ts';
import { isOrderId, toOrderView } from '../order/order.service.ts';
import { endHold } from '../order/order.store.ts';
import { addToOutbox, OutboxTopic } from '../outbox/outbox.repository.ts';
import { QueueName } from '../queue/queues.ts';
import { throttledAdd } from '../queue/throttled-add.ts';
import { recordSales } from '../ranking/ranking.service.ts';
import type { Runtime } from '../runtime.ts';
import { commitStock, insertPayment, insertSales, markCouponUsed } from './payment.repository.ts';

export type PaymentView = {
  paymentId: string;
  orderId: string;
  amount: number;
  status: 'PAID';
  balance: number;
};

const SCOPE = 'payment.pay';

/**
 * Pays an order in ONE Postgres transaction: the order row is locked (so concurrent payments
 * and the expiry job queue up behind it), then balance debit, ledger row, stock commit,
 * coupon USED, order PAID, payment, sales and the outbox message all commit together or not at
 * all. Only after the commit does Redis learn about it (hold -> sold, ranking): those steps are
 * repeatable, and the hold sweep finishes them if this process dies first.
 */
export async function payOrder(
  rt: Runtime,
  userId: number,
  input: { orderId: string; idempotencyKey?: string },
): Promise<PaymentView> {
  if (!isOrderId(input.orderId)) throw new AppError(AppErrorCode.ORDER_NOT_FOUND, 'Order not found');
  // An order answered from Redis moments ago is saved first (one HGET when it is not), outside
  // the payment's transaction: saving takes a pooled connection of its own.
  await ensureOrderSaved(rt, input.orderId);
  const now = rt.clock.now();
  let paid: { lines: { productId: number; quantity: number }[] } | undefined;

  const view = await withIdempotency(
    rt.db,
    { userId, scope: SCOPE, key: input.idempotencyKey, request: { orderId: input.orderId } },
    async (trx) => {
      const order = await lockOrderForPayment(trx, userId, input.orderId);
      if (!order) throw new AppError(AppErrorCode.ORDER_NOT_FOUND, 'Order not found');
      if (order.status !== 'PENDING_PAYMENT') {
        throw new AppError(AppErrorCode.ORDER_NOT_PAYABLE, `Order is ${order.status}`, {
          status: order.status,
        });
      }
      if (order.expires_at.getTime() <= now.getTime()) {
        throw new AppError(AppErrorCode.ORDER_NOT_PAYABLE, 'Order hold has expired', { status: 'EXPIRED' });
      }

      const paymentId = randomUUID();
      const { balanceAfter } = await debitBalance(trx, { userId, amount: order.pay_amount, paymentId });

      const committed = await commitStock(trx, order.lines);
      if (committed !== order.lines.length) {
        // Redis held units Postgres does not have: refuse rather than oversell; the reconciler reports the drift.
        throw new Error(
          `stock commit for order ${order.id} matched ${committed} of ${order.lines.length} lines`,
        );
      }

      if (order.coupon_id !== null) {
        // The issuance may still be waiting in Redis for the persistence worker: make sure its row exists.
        const held = await findHeldCoupon(rt, userId, order.coupon_id);
        if (held) {
          await ensureIssuedCouponRow(trx, {
            couponId: order.coupon_id,
            userId,
            issuedAt: held.issuedAt,
            expiresAt: held.expiresAt,
          });
        }
        if (
          !(await markCouponUsed(trx, { couponId: order.coupon_id, userId, orderId: order.id, usedAt: now }))
        ) {
          throw new AppError(AppErrorCode.ORDER_NOT_PAYABLE, 'The order coupon is no longer usable', {
            couponId: order.coupon_id,
          });
        }
      }

      if (!(await markOrderPaid(trx, order.id, now))) {
        throw new AppError(AppErrorCode.ORDER_NOT_PAYABLE, 'Order is no longer pending');
      }
      await insertPayment(trx, {
        id: paymentId,
        orderId: order.id,
        userId,
        amount: order.pay_amount,
        createdAt: now,
      });
      await insertSales(trx, order.id, order.lines, now);
      await addToOutbox(trx, {
        topic: OutboxTopic.OrderPaid,
        key: order.id,
        payload: {
          ...toOrderView({ ...order, status: 'PAID' }),
          userId,
          paymentId,
          paidAt: now.toISOString(),
        },
      });
      paid = { lines: order.lines };
      return {
        paymentId,
        orderId: order.id,
        amount: order.pay_amount,
        status: 'PAID' as const,
        balance: balanceAfter,
      };
    },
  );

  if (paid) await afterPaymentCommitted(rt, input.orderId, paid.lines, now);
  return view;
}

/**
 * Redis follow-ups of a committed payment. None may fail the payment (it is committed):
 * a failure here is finished later by the hold sweep (hold -> sold) and the outbox sweep.
 */
async function afterPaymentCommitted(
  rt: Runtime,
  orderId: string,
  lines: { productId: number; quantity: number }[],
  soldAt: Date,
): Promise<void> {
  await Promise.allSettled([endHold(rt.redis, rt.keys, orderId, 'commit'), recordSales(rt, lines, soldAt)]);
  requestOutboxExport(rt);
}

/** At most one export job per process in this interval (plus one trailing add). */
const EXPORT_TRIGGER_INTERVAL_MS = 100;

/**
 * Asks the worker to export the outbox soon; never awaited. Throttled (throttled-add.ts): every
 * payment used to add a job that BullMQ's deduplication then dropped, a Redis script run per
 * payment for nothing. A lost trigger only delays the export until the outbox sweep.
 */
function requestOutboxExport(rt: Pick<Runtime, 'queues'>): void {
  throttledAdd(rt.queues, 'export-soon', EXPORT_TRIGGER_INTERVAL_MS, () =>
    rt.queues[QueueName.OutboxExport].add(
      'export-soon',
      {},
      { deduplication: { id: 'export-soon', ttl: 200 } },
    ),
  );
}
