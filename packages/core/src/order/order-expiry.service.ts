import { listProductIds } from '../product/product.service.ts';
import type { Resources } from '../resources.ts';

type ExpiryRuntime = Pick<Resources, 'db' | 'redis' | 'keys' | 'clock'>;

import {
  expireOrderIfDue,
  findDuePendingOrderIds,
  findOrderProductIds,
  findOrderStatuses,
} from './order.repository.ts';
import {
  activeProductIds,
  countHoldStarts,
  endHold,
  endHolds,
  forgetHoldStart,
  forgetIfIdle,
  heldOrderIds,
  holdsStartedBefore,
  readUnsavedOrders,
  relistActive,
} from './order.store.ts';

/**
 * Expires unpaid orders past their hold and gives their stock back. Postgres decides (a
 * status-guarded UPDATE that a concurrent payment's row lock serialises with), then Redis
 * releases the hold on each of its products exactly once (the hold record is deleted by the
 * same script that returns the units). The coupon is freed by the status change itself: only PENDING_PAYMENT orders
 * occupy the `orders_one_pending_per_coupon` index.
 */
export async function expireDueOrders(rt: ExpiryRuntime, limit = 500): Promise<number> {
  const now = rt.clock.now();
  const due = await findDuePendingOrderIds(rt.db, now, limit);
  const products = await findOrderProductIds(rt.db, due);
  let expired = 0;
  for (const orderId of due) {
    if (await expireOrderIfDue(rt.db, orderId, now)) {
      expired++;
      // If Redis fails here the order is EXPIRED with a live hold: reconcileHolds releases it.
      await endHolds(rt.redis, rt.keys, orderId, products.get(orderId) ?? [], 'release').catch(() => {});
    }
  }
  return expired;
}

export type HoldReconciliation = { released: number; committed: number; orphansReleased: number };

/** Products per page of the sweep over every product's holds. */
const SWEEP_PAGE = 500;

/**
 * Finishes what a crash left half-done between Postgres and Redis, product by product (each
 * its own slot); counts are orders (an order of several products counts once):
 * - a hold of an order that Postgres says is EXPIRED or CANCELLED -> release its units;
 * - a hold of a PAID order -> commit (the units are sold);
 * - a hold older than `orphanAfterMs` whose order never reached Postgres (the API died between
 *   the hold and the insert, or half way through a multi-line order's holds, or the insert's
 *   outcome was unknown) and is not waiting in Redis to be saved either (an order answered from
 *   Redis) -> release. Such holds are only in active products (order.store.ts, registerActive),
 *   which leave that list here once idle and empty.
 */
export async function reconcileHolds(
  rt: ExpiryRuntime,
  options: { orphanAfterMs?: number } = {},
): Promise<HoldReconciliation> {
  const released = new Set<string>();
  const committed = new Set<string>();
  const orphans = new Set<string>();
  // Every product: an order can end in Postgres long after its product left the active list.
  // A product that is not listed but has holds not yet matched to a saved order (an unsaved
  // order's, or an orphan's) goes back on the list: only a process that died between its hold
  // and listing it, or the list's own slot losing data, leads there.
  const active = new Set(await activeProductIds(rt.redis, rt.keys));
  for (let page = await listProductIds(rt.db, 0, SWEEP_PAGE); page.length > 0; ) {
    const held = await Promise.all(page.map((id) => heldOrderIds(rt.redis, rt.keys, id)));
    const unlisted = page.filter((id, i) => held[i]!.length > 0 && !active.has(id));
    const unmatched = await Promise.all(unlisted.map((id) => countHoldStarts(rt.redis, rt.keys, id)));
    await relistActive(
      rt.redis,
      rt.keys,
      unlisted.filter((_, i) => unmatched[i]! > 0),
    );
    const pairs = page.flatMap((productId, i) => held[i]!.map((orderId) => ({ productId, orderId })));
    for (let i = 0; i < pairs.length; i += 1000) {
      const batch = pairs.slice(i, i + 1000);
      const statuses = await findOrderStatuses(rt.db, [...new Set(batch.map((p) => p.orderId))]);
      for (const { productId, orderId } of batch) {
        const status = statuses.get(orderId);
        if (status === 'EXPIRED' || status === 'CANCELLED') {
          if ((await endHold(rt.redis, rt.keys, productId, orderId, 'release')).code === 'OK')
            released.add(orderId);
        } else if (status === 'PAID') {
          if ((await endHold(rt.redis, rt.keys, productId, orderId, 'commit')).code === 'OK')
            committed.add(orderId);
        }
      }
    }
    page = page.length < SWEEP_PAGE ? [] : await listProductIds(rt.db, page[page.length - 1]!, SWEEP_PAGE);
  }

  const cutoff = rt.clock.now().getTime() - (options.orphanAfterMs ?? 60_000);
  for (const productId of await activeProductIds(rt.redis, rt.keys)) {
    const old = await holdsStartedBefore(rt.redis, rt.keys, productId, cutoff);
    for (let i = 0; i < old.length; i += 1000) {
      const candidates = old.slice(i, i + 1000);
      // An order answered from Redis and not saved yet is no orphan (order.persist.ts saves it);
      // its record is in this product's slot (only one-line orders are answered from Redis).
      // Asked BEFORE Postgres: its record is dropped only after its insert commits, so an order
      // saved in between is found by the Postgres read below.
      const unsaved = await readUnsavedOrders(rt.redis, rt.keys, productId, candidates);
      const batch = candidates.filter((_, j) => unsaved[j] === null);
      const statuses = await findOrderStatuses(rt.db, batch);
      const saved = batch.filter((id) => statuses.has(id));
      // Saved orders are followed through Postgres from here on; they are no orphan candidates.
      await forgetHoldStart(rt.redis, rt.keys, productId, saved);
      for (const orderId of batch) {
        if (statuses.has(orderId)) continue;
        if ((await endHold(rt.redis, rt.keys, productId, orderId, 'release')).code === 'OK')
          orphans.add(orderId);
      }
    }
    await forgetIfIdle(rt.redis, rt.keys, productId);
  }
  return { released: released.size, committed: committed.size, orphansReleased: orphans.size };
}
