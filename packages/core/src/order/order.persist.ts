import { createGroupCommit, type GroupCommit, ok } from '../batch/group-commit.ts';
import type { OrderRow } from '../db/database.ts';
import { lockInventoryForHold } from '../product/inventory.service.ts';
import { QueueName } from '../queue/queues.ts';
import { throttledAdd } from '../queue/throttled-add.ts';
import type { Resources } from '../resources.ts';
import { insertPendingOrders, type NewOrder, type OrderLine } from './order.repository.ts';
import {
  activeProductIds,
  forgetUnsavedIdsOf,
  forgetUnsavedOrders,
  readUnsavedOrders,
  scanUnsavedOrderIds,
  unsavedOrderIdsOf,
} from './order.store.ts';

/**
 * Orders answered from Redis. `order.create` of one product without a coupon and without an
 * idempotency key (the rush on a hot product) holds its stock and stores the order in one Lua
 * step in the product's slot (holdStock-7.lua, the product's `unsaved` hash) and answers; these
 * functions then save the order in Postgres, as coupon issuances are saved (coupon.persist.ts):
 *   HMGET the records (under the shared inventory lock) -> one INSERT, skipping ids already
 *   saved -> COMMIT -> HDEL exactly those records.
 * Every step is safe to repeat, so an order ends as exactly one row however often a save runs
 * or dies. Whatever reads orders from Postgres for a caller (order.get, order.list,
 * payment.pay) saves that caller's unsaved orders first (found in the caller's index in each
 * active product's slot, `unsavedOf`), so they read their own writes without waiting for the
 * worker. Unsaved orders are only ever in the slots of active products (order.store.ts,
 * registerActive), so the drain and a caller's reads look at those few products only.
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

type PersistRuntime = Pick<Resources, 'db' | 'redis' | 'keys'>;
type DrainRuntime = PersistRuntime & Pick<Resources, 'orderState'>;

/** Orders of one product's slot. */
export type UnsavedGroup = { productId: number; orderIds: string[] };

/**
 * Saves the named orders that are still unsaved in Redis (others are skipped), in one
 * transaction for all the groups. Returns how many records it found and saved (an id already
 * in Postgres counts: its record is dropped).
 */
export async function saveUnsavedOrders(rt: PersistRuntime, groups: UnsavedGroup[]): Promise<number> {
  groups = groups.filter((g) => g.orderIds.length > 0);
  if (groups.length === 0) return 0;
  const found = await rt.db.transaction().execute(async (trx) => {
    await lockInventoryForHold(trx);
    const records = await Promise.all(
      groups.map((g) => readUnsavedOrders(rt.redis, rt.keys, g.productId, g.orderIds)),
    );
    const orders: NewOrder[] = [];
    const byProduct = groups.map(({ productId, orderIds }, g) => {
      const saved: { orderId: string; userId: number }[] = [];
      for (const [i, record] of records[g]!.entries()) {
        if (record === null) continue;
        const order = decodeUnsavedOrder(orderIds[i]!, record);
        orders.push(order);
        saved.push({ orderId: order.row.id, userId: order.row.user_id });
      }
      return { productId, saved };
    });
    if (orders.length > 0) await insertPendingOrders(trx, orders);
    return byProduct;
  });
  // Only after the commit: a record leaves Redis once its order is certainly in Postgres.
  await Promise.all(
    found.map(({ productId, saved }) => forgetUnsavedOrders(rt.redis, rt.keys, productId, saved)),
  );
  return found.reduce((sum, g) => sum + g.saved.length, 0);
}

/** One unsaved order, named by its product's slot and its id. */
export type UnsavedOrderRef = { productId: number; orderId: string };

/**
 * Saves the orders named by the callers of one turn together, one transaction on one pooled
 * connection (payment.pay of an order answered from Redis moments ago): payments right after the
 * orders of a rush would otherwise each take a connection for a save of their own and crowd the
 * pool the payment batches need. Built once per runtime (runtime.ts).
 */
export function createOrderSaver(rt: PersistRuntime): GroupCommit<UnsavedOrderRef, void> {
  return createGroupCommit<UnsavedOrderRef, void>({
    maxBatch: ORDER_SAVE_BATCH_SIZE,
    maxInFlight: 1,
    async commit(refs) {
      const byProduct = new Map<number, Set<string>>();
      for (const { productId, orderId } of refs) {
        const ids = byProduct.get(productId) ?? new Set<string>();
        byProduct.set(productId, ids.add(orderId));
      }
      await saveUnsavedOrders(
        rt,
        [...byProduct].map(([productId, ids]) => ({ productId, orderIds: [...ids] })),
      );
      return refs.map(() => ok(undefined));
    },
  });
}

/**
 * Where one user's unsaved orders are: their ids in the user's index of each active product
 * (holdStock-7.lua). One HKEYS per active product, sent together.
 */
export async function findUnsavedOrdersOf(rt: PersistRuntime, userId: number): Promise<UnsavedGroup[]> {
  const productIds = await activeProductIds(rt.redis, rt.keys);
  const ids = await Promise.all(productIds.map((id) => unsavedOrderIdsOf(rt.redis, rt.keys, id, userId)));
  return productIds
    .map((productId, i) => ({ productId, orderIds: ids[i]! }))
    .filter((g) => g.orderIds.length);
}

/**
 * Saves one user's unsaved orders (found in the user's indexes): what a read of that user's
 * orders needs, however many other users' orders wait for the worker.
 */
export async function saveUnsavedOrdersOf(rt: PersistRuntime, userId: number): Promise<number> {
  let saved = 0;
  for (const { productId, orderIds } of await findUnsavedOrdersOf(rt, userId)) {
    let savedHere = 0;
    for (let i = 0; i < orderIds.length; i += ORDER_SAVE_BATCH_SIZE) {
      savedHere += await saveUnsavedOrders(rt, [
        { productId, orderIds: orderIds.slice(i, i + ORDER_SAVE_BATCH_SIZE) },
      ]);
    }
    // Every id above is now saved (its index entry left with its record, one MULTI) or had no
    // record: taken by another save, which dropped its entry the same way, or a leftover naming
    // nothing. Dropping them all from the index again is a no-op for the first kind.
    if (savedHere < orderIds.length) await forgetUnsavedIdsOf(rt.redis, rt.keys, productId, userId, orderIds);
    saved += savedHere;
  }
  return saved;
}

/** Saves one of the user's orders if it is unsaved; true when it was (it is in Postgres now). */
export async function ensureOrderSaved(
  rt: PersistRuntime,
  userId: number,
  orderId: string,
): Promise<boolean> {
  const group = (await findUnsavedOrdersOf(rt, userId)).find((g) => g.orderIds.includes(orderId));
  if (!group) return false;
  return (await saveUnsavedOrders(rt, [{ productId: group.productId, orderIds: [orderId] }])) > 0;
}

/**
 * Saves every unsaved order, until none is left. Returns how many it saved. The drain running
 * in this process is kept per runtime (orderState.drain): a second caller joins it (and it makes
 * one more pass) instead of racing it over the same records. Drains in other processes may still
 * overlap; the inserts skip what the other saved, so that is only wasted work.
 */
export function drainUnsavedOrders(rt: DrainRuntime, options: { batchSize?: number } = {}): Promise<number> {
  const current = rt.orderState.drain;
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
        for (const productId of await activeProductIds(rt.redis, rt.keys)) {
          let cursor = '0';
          do {
            const [next, orderIds] = await scanUnsavedOrderIds(
              rt.redis,
              rt.keys,
              productId,
              cursor,
              batchSize,
            );
            cursor = next;
            saved += await saveUnsavedOrders(rt, [{ productId, orderIds }]);
          } while (cursor !== '0');
        }
      } while (state.again);
      return saved;
    } finally {
      rt.orderState.drain = undefined;
    }
  })();
  rt.orderState.drain = state;
  return state.promise;
}

/** At most one drain job is added per process in this interval (plus one trailing add). */
const DRAIN_TRIGGER_INTERVAL_MS = 100;

/**
 * Asks the worker to save answered orders soon. Never awaited by `order.create`: throttled in
 * the process and deduplicated in BullMQ; a lost trigger only delays saving until the worker's
 * once-a-second drain.
 */
export function requestOrderSave(rt: Pick<Resources, 'queues' | 'jobTriggers'>): void {
  throttledAdd(rt.jobTriggers, 'order-save', DRAIN_TRIGGER_INTERVAL_MS, () =>
    rt.queues[QueueName.OrderPersist].add(
      OrderPersistJob.Drain,
      {},
      { deduplication: { id: 'order-save', keepLastIfActive: true } },
    ),
  );
}
