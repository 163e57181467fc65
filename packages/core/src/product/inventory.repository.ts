import type { Db } from '../db/client.ts';
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
