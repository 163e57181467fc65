import type { OrderRow } from '../db/database.ts';
import { perRuntimeMap } from '../per-runtime.ts';
import { lockInventoryForHold } from '../product/inventory.repository.ts';
import { QueueName } from '../queue/queues.ts';
import { throttledAdd } from '../queue/throttled-add.ts';
import type { Runtime } from '../runtime.ts';
import { insertPendingOrders, type NewOrder, type OrderLine } from './order.repository.ts';
import {
  forgetUnsavedIdsOf,
  forgetUnsavedOrders,
  readUnsavedOrders,
  scanUnsavedOrderIds,
  unsavedOrderIdsOf,
} from './order.store.ts';

/**
 * Orders answered from Redis. `order.create` without a coupon and without an idempotency key
 * (the rush on a hot product) holds its stock and stores the order in one Lua step
 * (holdStock-8.lua, the `unsaved` hash) and answers; these functions then save the order in
 * Postgres, as coupon issuances are saved (coupon.persist.ts):
 *   HMGET the records (under the shared inventory lock) -> one INSERT, skipping ids already
 *   saved -> COMMIT -> HDEL exactly those records.
 * Every step is safe to repeat, so an order ends as exactly one row however often a save runs
 * or dies. Whatever reads orders from Postgres for a caller (order.get, order.list,
 * payment.pay) saves that caller's unsaved orders first (order.list finds them in the
 * caller's index, `unsavedOf`), so they read their own writes without waiting for the worker.
 *
 * Why under the shared inventory lock, read inside it: a rebuild after Redis lost its data
 * (inventory.service.ts) counts Postgres' pending orders under the exclusive side. A record
 * read from a Redis that then lost it and inserted after the rebuild's snapshot would be an
 * order whose stock the rebuilt Redis does not hold. Read under the shared side, a record is
 * either still in Redis and committed before the rebuild reads Postgres, or gone and skipped.
 */

/** Job names on the order-persist queue. */
export const OrderPersistJob = {
  /** Save every unsaved order; added by the API after answered orders, and every second. */
  Drain: 'drain',
} as const;

/** Orders per INSERT: one round trip per batch is what makes saving fast. */
export const ORDER_SAVE_BATCH_SIZE = 2_000;

type UnsavedRecord = {
  /** user id */
  u: number;
  /** total, discount and pay amounts */
  t: number;
  d: number;
  p: number;
  /** coupon id or null */
  c: number | null;
  /** created and expires at, ms epoch */
  ca: number;
  ea: number;
  /** lines: productId, quantity, unitPrice */
  l: [number, number, number][];
};

/** The record holdStock stores for an order answered from Redis (short keys: one per order). */
export function encodeUnsavedOrder(row: OrderRow, lines: OrderLine[]): string {
  const record: UnsavedRecord = {
    u: row.user_id,
    t: row.total_amount,
    d: row.discount_amount,
    p: row.pay_amount,
    c: row.coupon_id,
    ca: row.created_at.getTime(),
    ea: row.expires_at.getTime(),
    l: lines.map((l) => [l.productId, l.quantity, l.unitPrice]),
  };
  return JSON.stringify(record);
}

export function decodeUnsavedOrder(orderId: string, json: string): NewOrder {
  const r = JSON.parse(json) as UnsavedRecord;
  return {
    row: {
      id: orderId,
      user_id: r.u,
      status: 'PENDING_PAYMENT',
      total_amount: r.t,
      discount_amount: r.d,
      pay_amount: r.p,
      coupon_id: r.c,
      idempotency_key: null,
      created_at: new Date(r.ca),
      expires_at: new Date(r.ea),
      paid_at: null,
      closed_at: null,
    },
    lines: r.l.map(([productId, quantity, unitPrice]) => ({ productId, quantity, unitPrice })),
  };
}

type PersistRuntime = Pick<Runtime, 'db' | 'redis' | 'keys'>;

/**
 * Saves the named orders that are still unsaved in Redis (others are skipped). Returns how
 * many records it found and saved (an id already in Postgres counts: its record is dropped).
 */
export async function saveUnsavedOrders(rt: PersistRuntime, orderIds: string[]): Promise<number> {
  if (orderIds.length === 0) return 0;
  const found = await rt.db.transaction().execute(async (trx) => {
    await lockInventoryForHold(trx);
    const records = await readUnsavedOrders(rt.redis, rt.keys, orderIds);
    const orders: NewOrder[] = [];
    for (const [i, record] of records.entries()) {
      if (record !== null) orders.push(decodeUnsavedOrder(orderIds[i]!, record));
    }
    if (orders.length > 0) await insertPendingOrders(trx, orders);
    return orders.map((o) => ({ orderId: o.row.id, userId: o.row.user_id }));
  });
  // Only after the commit: a record leaves Redis once its order is certainly in Postgres.
  await forgetUnsavedOrders(rt.redis, rt.keys, found);
  return found.length;
}

/**
 * Saves one user's unsaved orders (found in the user's index, holdStock-8.lua): what a read of
 * that user's orders needs, however many other users' orders wait for the worker.
 */
export async function saveUnsavedOrdersOf(rt: PersistRuntime, userId: number): Promise<number> {
  const ids = await unsavedOrderIdsOf(rt.redis, rt.keys, userId);
  let saved = 0;
  for (let i = 0; i < ids.length; i += ORDER_SAVE_BATCH_SIZE) {
    saved += await saveUnsavedOrders(rt, ids.slice(i, i + ORDER_SAVE_BATCH_SIZE));
  }
  // Every id above is now saved (its index entry left with its record, one MULTI) or had no
  // record: taken by another save, which dropped its entry the same way, or a leftover naming
  // nothing. Dropping them all from the index again is a no-op for the first kind.
  if (saved < ids.length) await forgetUnsavedIdsOf(rt.redis, rt.keys, userId, ids);
  return saved;
}

/** Saves one order if it is unsaved; true when it was (it is in Postgres now). */
export async function ensureOrderSaved(rt: PersistRuntime, orderId: string): Promise<boolean> {
  const [record] = await readUnsavedOrders(rt.redis, rt.keys, [orderId]);
  if (record === null || record === undefined) return false;
  return (await saveUnsavedOrders(rt, [orderId])) > 0;
}

// The drain running in this process, per runtime: a second caller joins it (and it makes one
// more pass) instead of racing it over the same records. Drains in other processes may still
// overlap; the inserts skip what the other saved, so that is only wasted work.
const drainsOf = perRuntimeMap<'orders', { promise: Promise<number>; again: boolean }>();

/** Saves every unsaved order, until none is left. Returns how many it saved. */
export function drainUnsavedOrders(
  rt: PersistRuntime,
  options: { batchSize?: number } = {},
): Promise<number> {
  const drains = drainsOf(rt.redis);
  const current = drains.get('orders');
  if (current) {
    current.again = true;
    return current.promise;
  }
  const batchSize = options.batchSize ?? ORDER_SAVE_BATCH_SIZE;
  const state = { promise: Promise.resolve(0), again: false };
  state.promise = (async () => {
    let saved = 0;
    try {
      do {
        state.again = false;
        let cursor = '0';
        do {
          const [next, ids] = await scanUnsavedOrderIds(rt.redis, rt.keys, cursor, batchSize);
          cursor = next;
          saved += await saveUnsavedOrders(rt, ids);
        } while (cursor !== '0');
      } while (state.again);
      return saved;
    } finally {
      drains.delete('orders');
    }
  })();
  drains.set('orders', state);
  return state.promise;
}

/** At most one drain job is added per process in this interval (plus one trailing add). */
const DRAIN_TRIGGER_INTERVAL_MS = 100;

/**
 * Asks the worker to save answered orders soon. Never awaited by `order.create`: throttled in
 * the process and deduplicated in BullMQ; a lost trigger only delays saving until the worker's
 * once-a-second drain.
 */
export function requestOrderSave(rt: Pick<Runtime, 'queues'>): void {
  throttledAdd(rt.queues, 'order-save', DRAIN_TRIGGER_INTERVAL_MS, () =>
    rt.queues[QueueName.OrderPersist].add(
      OrderPersistJob.Drain,
      {},
      { deduplication: { id: 'order-save', keepLastIfActive: true } },
    ),
  );
}
