import { AppError, AppErrorCode } from '../errors.ts';
import { requestHash } from '../idempotency/idempotency.service.ts';
import { findUnsavedOrdersOf, saveUnsavedOrders } from '../order/order.persist.ts';
import { isOrderId } from '../order/order.service.ts';
import { perRuntimeMap } from '../per-runtime.ts';
import type { Runtime } from '../runtime.ts';
import type { PaymentView } from './payment.batch.ts';

export type { PaymentView } from './payment.batch.ts';

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
  rt: Runtime,
  userId: number,
  input: { orderId: string; idempotencyKey?: string },
): Promise<PaymentView> {
  if (!isOrderId(input.orderId)) throw new AppError(AppErrorCode.ORDER_NOT_FOUND, 'Order not found');
  // An order answered from Redis moments ago is saved first (one look at the caller's index in
  // each active product when it is not), outside the payment's transaction.
  await ensureSaved(rt, userId, input.orderId);
  const key = input.idempotencyKey;
  return rt.paymentBatcher.pay({
    userId,
    orderId: input.orderId,
    now: rt.clock.now(),
    idempotency: key === undefined ? undefined : { key, hash: requestHash({ orderId: input.orderId }) },
  });
}

type SaveRound = { ids: Map<number, Set<string>>; done: PromiseWithResolvers<void> };
const saveRounds = perRuntimeMap<'next', SaveRound>();

/**
 * Saves the order if it is still waiting in Redis (order.persist.ts). The payments that find
 * their order unsaved in one turn of the event loop save them together, in one transaction on
 * one pooled connection: payments right after the orders of a rush would otherwise each take a
 * connection for a save of their own, and crowd the pool the payment batches need.
 */
async function ensureSaved(rt: Runtime, userId: number, orderId: string): Promise<void> {
  const group = (await findUnsavedOrdersOf(rt, userId)).find((g) => g.orderIds.includes(orderId));
  if (!group) return;
  const rounds = saveRounds(rt.db);
  let round = rounds.get('next');
  if (!round) {
    const next: SaveRound = { ids: new Map(), done: Promise.withResolvers<void>() };
    rounds.set('next', next);
    setImmediate(() => {
      rounds.delete('next');
      const groups = [...next.ids].map(([productId, ids]) => ({ productId, orderIds: [...ids] }));
      saveUnsavedOrders(rt, groups).then(() => next.done.resolve(), next.done.reject);
    });
    round = next;
  }
  let ids = round.ids.get(group.productId);
  if (!ids) {
    ids = new Set();
    round.ids.set(group.productId, ids);
  }
  ids.add(orderId);
  return round.done.promise;
}
