import type { GroupCommit } from '../batch/group-commit.ts';
import { AppError, AppErrorCode } from '../errors.ts';
import { requestHash } from '../idempotency/idempotency.service.ts';
import { findUnsavedOrdersOf, isOrderId, type UnsavedOrderRef } from '../order/order.service.ts';
import type { Resources } from '../resources.ts';
import type { PaymentBatcher, PaymentView } from './payment.batch.ts';

export type { PaymentView } from './payment.batch.ts';

/** What paying uses: the payment group commit, and the saver of orders still waiting in Redis. */
export type PayRuntime = Pick<Resources, 'db' | 'redis' | 'keys' | 'clock'> & {
  paymentBatcher: PaymentBatcher;
  orderSaver: GroupCommit<UnsavedOrderRef, void>;
};

/**
 * Pays an order in a Postgres transaction shared with the payments that arrive with it
 * (payment.batch.ts): the order row is locked (so concurrent payments and the expiry job queue
 * up behind it), then balance debit, ledger row, stock commit, coupon USED, order PAID,
 * payment, sales and the outbox message all commit together or not at all, and a refused
 * payment changes nothing. The answer comes only after the COMMIT, and after Redis learned
 * about it (hold -> sold, ranking): those steps are repeatable, and the hold sweep finishes
 * them if this process dies first. An idempotency key replays the first answer.
 */
export async function payOrder(
  rt: PayRuntime,
  userId: number,
  input: { orderId: string; idempotencyKey?: string },
): Promise<PaymentView> {
  if (!isOrderId(input.orderId)) throw new AppError(AppErrorCode.ORDER_NOT_FOUND, 'Order not found');
  const key = input.idempotencyKey;
  const pay = () =>
    rt.paymentBatcher.pay({
      userId,
      orderId: input.orderId,
      now: rt.clock.now(),
      idempotency: key === undefined ? undefined : { key, hash: requestHash({ orderId: input.orderId }) },
    });
  try {
    return await pay();
  } catch (err) {
    if (!(err instanceof AppError) || err.code !== AppErrorCode.ORDER_NOT_FOUND) throw err;
    // Most orders are in Postgres by the time they are paid, so Redis is only asked when the
    // batch did not find one: an order answered from Redis moments ago is saved (one look at the
    // caller's index in each active product), then paid. A refused payment changed nothing (its
    // key included), so paying again is safe; it is tried even when nothing was found here, as
    // the worker may have saved the order between the batch's read and this look.
    await ensureSaved(rt, userId, input.orderId);
    return pay();
  }
}

/** Saves the order if it is still waiting in Redis, together with this turn's others (rt.orderSaver). */
async function ensureSaved(rt: PayRuntime, userId: number, orderId: string): Promise<void> {
  const group = (await findUnsavedOrdersOf(rt, userId)).find((g) => g.orderIds.includes(orderId));
  if (group) await rt.orderSaver.submit({ productId: group.productId, orderId });
}
