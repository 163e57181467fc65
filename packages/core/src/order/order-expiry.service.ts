import type { Runtime } from '../runtime.ts';
import { expireOrderIfDue, findDuePendingOrderIds, findOrderStatuses } from './order.repository.ts';
import {
  endHold,
  forgetHoldStart,
  heldOrderIds,
  holdsStartedBefore,
  readUnsavedOrders,
} from './order.store.ts';

/**
 * Expires unpaid orders past their hold and gives their stock back. Postgres decides (a
 * status-guarded UPDATE that a concurrent payment's row lock serialises with), then Redis
 * releases the hold exactly once (the hold record is deleted by the same script that returns
 * the units). The coupon is freed by the status change itself: only PENDING_PAYMENT orders
 * occupy the `orders_one_pending_per_coupon` index.
 */
export async function expireDueOrders(rt: Runtime, limit = 500): Promise<number> {
  const now = rt.clock.now();
  const due = await findDuePendingOrderIds(rt.db, now, limit);
  let expired = 0;
  for (const orderId of due) {
    if (await expireOrderIfDue(rt.db, orderId, now)) {
      expired++;
      // If Redis fails here the order is EXPIRED with a live hold: reconcileHolds releases it.
      await endHold(rt.redis, rt.keys, orderId, 'release').catch(() => {});
    }
  }
  return expired;
}

export type HoldReconciliation = { released: number; committed: number; orphansReleased: number };

/**
 * Finishes what a crash left half-done between Postgres and Redis:
 * - a hold of an order that Postgres says is EXPIRED or CANCELLED -> release its units;
 * - a hold of a PAID order -> commit (the units are sold);
 * - a hold older than `orphanAfterMs` whose order never reached Postgres (the API died between
 *   the hold and the insert, or the insert's outcome was unknown) and is not waiting in Redis
 *   to be saved either (an order answered from Redis) -> release.
 */
export async function reconcileHolds(
  rt: Runtime,
  options: { orphanAfterMs?: number } = {},
): Promise<HoldReconciliation> {
  const result: HoldReconciliation = { released: 0, committed: 0, orphansReleased: 0 };
  const held = await heldOrderIds(rt.redis, rt.keys);
  for (let i = 0; i < held.length; i += 1000) {
    const batch = held.slice(i, i + 1000);
    const statuses = await findOrderStatuses(rt.db, batch);
    for (const orderId of batch) {
      const status = statuses.get(orderId);
      if (status === 'EXPIRED' || status === 'CANCELLED') {
        if ((await endHold(rt.redis, rt.keys, orderId, 'release')).code === 'OK') result.released++;
      } else if (status === 'PAID') {
        if ((await endHold(rt.redis, rt.keys, orderId, 'commit')).code === 'OK') result.committed++;
      }
    }
  }

  const cutoff = rt.clock.now().getTime() - (options.orphanAfterMs ?? 60_000);
  const old = await holdsStartedBefore(rt.redis, rt.keys, cutoff);
  for (let i = 0; i < old.length; i += 1000) {
    const candidates = old.slice(i, i + 1000);
    // An order answered from Redis and not saved yet is no orphan (order.persist.ts saves it).
    // Asked BEFORE Postgres: its record is dropped only after its insert commits, so an order
    // saved in between is found by the Postgres read below.
    const unsaved = await readUnsavedOrders(rt.redis, rt.keys, candidates);
    const batch = candidates.filter((_, j) => unsaved[j] === null);
    const statuses = await findOrderStatuses(rt.db, batch);
    const saved = batch.filter((id) => statuses.has(id));
    // Saved orders are followed through Postgres from here on; they are no orphan candidates.
    await forgetHoldStart(rt.redis, rt.keys, saved);
    for (const orderId of batch) {
      if (statuses.has(orderId)) continue;
      if ((await endHold(rt.redis, rt.keys, orderId, 'release')).code === 'OK') result.orphansReleased++;
    }
  }
  return result;
}
