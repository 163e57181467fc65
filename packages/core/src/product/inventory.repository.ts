import { sql, type Transaction } from 'kysely';
import type { Db } from '../db/client.ts';
import type { Database } from '../db/database.ts';
import type { InventorySnapshot } from './inventory.store.ts';

/**
 * What Redis must hold, computed from Postgres in one consistent snapshot (REPEATABLE READ):
 * per product, committed stock minus the units of PENDING_PAYMENT orders, and the lines each
 * of those orders holds.
 */
export async function readInventorySnapshot(db: Db): Promise<InventorySnapshot> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => {
      const products = await trx.selectFrom('products').select(['id', 'stock']).execute();
      const lines = await trx
        .selectFrom('order_lines as l')
        .innerJoin('orders as o', 'o.id', 'l.order_id')
        .select(['l.order_id', 'l.product_id', 'l.quantity'])
        .where('o.status', '=', 'PENDING_PAYMENT')
        .orderBy('l.order_id')
        .orderBy('l.product_id')
        .execute();

      const available = new Map(products.map((p) => [p.id, p.stock]));
      const holds: InventorySnapshot['holds'] = new Map();
      for (const line of lines) {
        available.set(line.product_id, (available.get(line.product_id) ?? 0) - line.quantity);
        let held = holds.get(line.order_id);
        if (!held) {
          held = [];
          holds.set(line.order_id, held);
        }
        held.push([line.product_id, line.quantity]);
      }
      return { available, holds };
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
