import { sql, type Transaction } from 'kysely';
import type { Db } from '../db/client.ts';
import type { Database } from '../db/database.ts';
import type { StockSnapshot } from './inventory.store.ts';

/**
 * What Redis must hold, computed from Postgres in one consistent snapshot (REPEATABLE READ):
 * per product, committed stock minus the units of PENDING_PAYMENT orders, and the units each
 * of those orders holds. `productIds` narrows it to those products (absent ones: not in the map).
 */
export async function readInventorySnapshot(
  db: Db,
  productIds?: number[],
): Promise<Map<number, StockSnapshot>> {
  if (productIds?.length === 0) return new Map();
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => {
      let products = trx.selectFrom('products').select(['id', 'stock']);
      if (productIds) products = products.where('id', 'in', productIds);
      let lines = trx
        .selectFrom('order_lines as l')
        .innerJoin('orders as o', 'o.id', 'l.order_id')
        .select(['l.order_id', 'l.product_id', 'l.quantity'])
        .where('o.status', '=', 'PENDING_PAYMENT');
      if (productIds) lines = lines.where('l.product_id', 'in', productIds);

      const snapshot = new Map<number, StockSnapshot>();
      for (const p of await products.execute()) snapshot.set(p.id, { available: p.stock, holds: new Map() });
      for (const line of await lines.execute()) {
        const stock = snapshot.get(line.product_id);
        if (!stock) continue;
        stock.available -= line.quantity;
        stock.holds.set(line.order_id, (stock.holds.get(line.order_id) ?? 0) + line.quantity);
      }
      return snapshot;
    });
}

/**
 * Serialises an inventory rebuild against orders between their stock hold and their commit
 * (advisory, transaction scoped). An order holds the shared side from before its Redis hold
 * until its commit; the rebuild takes the exclusive side around reading Postgres and loading
 * Redis. So the rebuild never reads Postgres while an order's hold lives only in a Redis that
 * lost its data: such an order commits first and is in the snapshot, and orders after it hold
 * stock in the rebuilt Redis.
 */
export async function lockInventoryForRebuild(trx: Transaction<Database>): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended('inventory', 0))`.execute(trx);
}

/** The shared side of `lockInventoryForRebuild`: orders never wait for each other on it. */
export async function lockInventoryForHold(trx: Transaction<Database>): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock_shared(hashtextextended('inventory', 0))`.execute(trx);
}
