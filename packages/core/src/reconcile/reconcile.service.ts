import { sql } from 'kysely';
import { ISSUED_MARKER, listLiveCouponIds, liveHorizon } from '../coupon/coupon.service.ts';
import { decodeUnsavedOrder } from '../order/order.service.ts';
import { readInventorySnapshot } from '../product/inventory.service.ts';
import type { Resources } from '../resources.ts';

type ReconcileRuntime = Pick<Resources, 'db' | 'redis' | 'keys' | 'clock'>;

/**
 * What the reconciler can find. `critical` drift means an invariant is broken (something
 * oversold or issued beyond its quantity); `warning` drift means Redis and Postgres disagree
 * in a way the sweeps or a rebuild repair (e.g. a Redis that lost its data).
 */
export type DriftKind =
  | 'coupon-not-loaded'
  | 'coupon-over-issued'
  | 'coupon-issuance-unaccounted'
  | 'coupon-postgres-ahead'
  | 'inventory-not-loaded'
  | 'stock-mismatch'
  | 'stock-negative'
  | 'hold-without-pending-order'
  | 'pending-order-without-hold'
  | 'order-expiry-lagging'
  | 'order-save-lagging';

export type Drift = {
  kind: DriftKind;
  severity: 'critical' | 'warning';
  id: string;
  redis: number | null;
  postgres: number | null;
  detail: string;
};

export type ReconcileReport = {
  checkedAt: string;
  coupons: number;
  products: number;
  holds: number;
  drifts: Drift[];
};

const CRITICAL: ReadonlySet<DriftKind> = new Set(['coupon-over-issued', 'stock-negative']);

function drift(
  kind: DriftKind,
  id: string | number,
  redis: number | null,
  postgres: number | null,
  detail: string,
): Drift {
  return {
    kind,
    severity: CRITICAL.has(kind) ? 'critical' : 'warning',
    id: String(id),
    redis,
    postgres,
    detail,
  };
}

/**
 * Compares Redis with Postgres and reports every difference; it repairs nothing, so running it
 * is always safe. One pass is a snapshot: an order or issuance in flight at that instant can
 * show up as a difference that is gone on the next pass, so alerting should look for drift
 * that persists over two passes.
 */
export async function reconcile(
  rt: ReconcileRuntime,
  options: { expiryLagMs?: number; saveLagMs?: number } = {},
): Promise<ReconcileReport> {
  const now = rt.clock.now();
  const drifts: Drift[] = [];
  const coupons = await reconcileCoupons(rt, now, drifts);
  const { products, holds } = await reconcileInventory(rt, drifts, {
    savedBeforeMs: now.getTime() - (options.saveLagMs ?? 60_000),
  });

  const lagging = await rt.db
    .selectFrom('orders')
    .select('id')
    .where('status', '=', 'PENDING_PAYMENT')
    .where('expires_at', '<', new Date(now.getTime() - (options.expiryLagMs ?? 60_000)))
    .limit(100)
    .execute();
  for (const o of lagging)
    drifts.push(
      drift('order-expiry-lagging', o.id, null, null, 'unpaid order past its hold is not expired yet'),
    );

  return { checkedAt: now.toISOString(), coupons, products, holds, drifts };
}

async function reconcileCoupons(rt: ReconcileRuntime, now: Date, drifts: Drift[]): Promise<number> {
  const ids = await listLiveCouponIds(rt.db, liveHorizon(now.getTime()));
  if (ids.length === 0) return 0;
  const rows = await rt.db
    .selectFrom('coupons as c')
    .leftJoin('issued_coupons as i', 'i.coupon_id', 'c.id')
    .select(['c.id', 'c.total_quantity', sql<number>`count(i.user_id)::int`.as('persisted')])
    .where('c.id', 'in', ids)
    .groupBy(['c.id', 'c.total_quantity'])
    .execute();
  // One pipeline per coupon: each coupon is its own slot, and a cluster pipeline stays in one.
  const replies = (
    await Promise.all(
      ids.map(async (id) => {
        const k = rt.keys.coupon(id);
        const pipeline = rt.redis.pipeline();
        pipeline.exists(k.meta).hlen(k.issued).hexists(k.issued, ISSUED_MARKER).xlen(k.pending);
        return (await pipeline.exec()) ?? [];
      }),
    )
  )
    .flat()
    .map(([err, value]) => {
      if (err) throw err;
      return value as number;
    });
  rows.forEach((row) => {
    const at = ids.indexOf(row.id) * 4;
    const [metaExists, hashLen, hasMarker, pending] = replies.slice(at, at + 4) as [
      number,
      number,
      number,
      number,
    ];
    if (row.persisted > row.total_quantity) {
      drifts.push(
        drift(
          'coupon-over-issued',
          row.id,
          null,
          row.persisted,
          `Postgres holds more than the quantity ${row.total_quantity}`,
        ),
      );
    }
    if (metaExists !== 1) {
      drifts.push(
        drift(
          'coupon-not-loaded',
          row.id,
          null,
          row.persisted,
          'Redis lost the coupon; issuing is refused until restored',
        ),
      );
      return;
    }
    const issued = hashLen - hasMarker;
    if (issued > row.total_quantity) {
      drifts.push(
        drift(
          'coupon-over-issued',
          row.id,
          issued,
          row.persisted,
          `Redis issued more than the quantity ${row.total_quantity}`,
        ),
      );
    }
    // Every issuance in Redis is either persisted or still pending (pending entries can
    // already be persisted and not yet acknowledged, so pending may over-count, never under).
    if (issued > row.persisted + pending) {
      drifts.push(
        drift(
          'coupon-issuance-unaccounted',
          row.id,
          issued,
          row.persisted,
          `${issued - row.persisted - pending} issuance(s) neither persisted nor pending`,
        ),
      );
    }
    if (row.persisted > issued) {
      drifts.push(
        drift(
          'coupon-postgres-ahead',
          row.id,
          issued,
          row.persisted,
          'Postgres has issuances Redis does not know',
        ),
      );
    }
  });
  return ids.length;
}

async function reconcileInventory(
  rt: ReconcileRuntime,
  drifts: Drift[],
  options: { savedBeforeMs: number },
): Promise<{ products: number; holds: number }> {
  const expected = await readInventorySnapshot(rt.db);
  const productIds = [...expected.keys()];
  // One MULTI per product: its count, holds and unsaved orders change together
  // (holdStock-7.lua), and each product is its own slot.
  const states = await Promise.all(
    productIds.map(async (productId) => {
      const k = rt.keys.stock(productId);
      const replies = await rt.redis.multi().get(k.available).hkeys(k.holds).hgetall(k.unsaved).exec();
      if (!replies) throw new Error('reconcile: the inventory read was aborted');
      for (const [err] of replies) if (err) throw err;
      return replies.map(([, value]) => value) as [string | null, string[], Record<string, string>];
    }),
  );
  let holds = 0;
  for (const [i, productId] of productIds.entries()) {
    const want = expected.get(productId)!;
    const [availableRaw, heldIds, unsavedRaw] = states[i]!;
    // Orders answered from Redis and not saved yet hold their stock as saved pending orders do.
    // (One saved between the two reads is counted once: the snapshot already has it.)
    for (const [orderId, record] of Object.entries(unsavedRaw)) {
      const { row, lines } = decodeUnsavedOrder(orderId, record);
      // The worker saves within moments; an older one means the worker is not running (or failing).
      if (row.created_at.getTime() < options.savedBeforeMs) {
        drifts.push(
          drift('order-save-lagging', orderId, null, null, 'answered order not saved in Postgres yet'),
        );
      }
      if (want.holds.has(orderId)) continue;
      for (const line of lines) {
        if (line.productId !== productId) continue;
        want.available -= line.quantity;
        want.holds.set(orderId, (want.holds.get(orderId) ?? 0) + line.quantity);
      }
    }
    if (availableRaw === null) {
      drifts.push(
        drift(
          'inventory-not-loaded',
          productId,
          null,
          want.available,
          "Redis lost the product's stock; it is loaded from Postgres on its next use",
        ),
      );
      continue;
    }
    const have = Number(availableRaw);
    if (have < 0)
      drifts.push(drift('stock-negative', productId, have, want.available, 'available stock below zero'));
    if (have !== want.available)
      drifts.push(
        drift(
          'stock-mismatch',
          productId,
          have,
          want.available,
          'available in Redis differs from stock minus pending holds',
        ),
      );
    const held = new Set(heldIds);
    holds += held.size;
    for (const orderId of held) {
      if (!want.holds.has(orderId)) {
        drifts.push(
          drift(
            'hold-without-pending-order',
            orderId,
            null,
            null,
            `Redis holds stock of product ${productId} for an order that is not pending`,
          ),
        );
      }
    }
    for (const orderId of want.holds.keys()) {
      if (!held.has(orderId)) {
        drifts.push(
          drift(
            'pending-order-without-hold',
            orderId,
            null,
            null,
            `pending order holds no stock of product ${productId} in Redis`,
          ),
        );
      }
    }
  }
  return { products: productIds.length, holds };
}
