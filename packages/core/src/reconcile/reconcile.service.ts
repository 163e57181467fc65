import { sql } from 'kysely';
import { liveHorizon } from '../coupon/coupon.model.ts';
import { listLiveCouponIds } from '../coupon/coupon.repository.ts';
import { ISSUED_MARKER } from '../coupon/coupon.store.ts';
import { decodeUnsavedOrder } from '../order/order.persist.ts';
import { readInventorySnapshot } from '../product/inventory.repository.ts';
import type { Runtime } from '../runtime.ts';

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
  rt: Runtime,
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

async function reconcileCoupons(rt: Runtime, now: Date, drifts: Drift[]): Promise<number> {
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
  rt: Runtime,
  drifts: Drift[],
  options: { savedBeforeMs: number },
): Promise<{ products: number; holds: number }> {
  const k = rt.keys.inventory;
  // One MULTI: `available`, the holds and the unsaved orders change together (holdStock-8.lua).
  const replies = await rt.redis
    .multi()
    .exists(k.loaded)
    .hgetall(k.available)
    .hkeys(k.holds)
    .hgetall(k.unsaved)
    .exec();
  if (!replies) throw new Error('reconcile: the inventory read was aborted');
  for (const [err] of replies) if (err) throw err;
  const [loaded, availableRaw, heldIds, unsavedRaw] = replies.map(([, value]) => value) as [
    number,
    Record<string, string>,
    string[],
    Record<string, string>,
  ];
  const expected = await readInventorySnapshot(rt.db);
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
    if (expected.holds.has(orderId)) continue;
    for (const line of lines) {
      expected.available.set(line.productId, (expected.available.get(line.productId) ?? 0) - line.quantity);
    }
    expected.holds.set(
      orderId,
      lines.map((l) => [l.productId, l.quantity]),
    );
  }
  if (loaded !== 1) {
    drifts.push(
      drift(
        'inventory-not-loaded',
        'inventory',
        null,
        expected.available.size,
        'Redis lost the inventory; orders are refused until rebuilt',
      ),
    );
    return { products: expected.available.size, holds: 0 };
  }
  for (const [productId, want] of expected.available) {
    const raw = availableRaw[String(productId)];
    const have = raw === undefined ? null : Number(raw);
    if (have !== null && have < 0)
      drifts.push(drift('stock-negative', productId, have, want, 'available stock below zero'));
    if (have !== want)
      drifts.push(
        drift(
          'stock-mismatch',
          productId,
          have,
          want,
          'available in Redis differs from stock minus pending holds',
        ),
      );
  }
  const held = new Set(heldIds);
  for (const orderId of held) {
    if (!expected.holds.has(orderId)) {
      drifts.push(
        drift(
          'hold-without-pending-order',
          orderId,
          null,
          null,
          'Redis holds stock for an order that is not pending',
        ),
      );
    }
  }
  for (const orderId of expected.holds.keys()) {
    if (!held.has(orderId)) {
      drifts.push(
        drift('pending-order-without-hold', orderId, null, null, 'pending order holds no stock in Redis'),
      );
    }
  }
  return { products: expected.available.size, holds: held.size };
}
