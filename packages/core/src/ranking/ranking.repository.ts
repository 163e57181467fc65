import { sql } from 'kysely';
import type { Db } from '../db/client.ts';

const HOUR_MS = 3_600_000;

/**
 * Units sold per UTC hour and product from `sales` (written by the payment transaction), for
 * the hours `fromHour` ..= `toHour` (hour indexes: ms since the epoch / 3,600,000).
 * Returns hour index -> productId -> units.
 */
export async function sumSalesByHour(
  db: Db,
  fromHour: number,
  toHour: number,
): Promise<Map<number, Map<number, number>>> {
  const rows = await db
    .selectFrom('sales')
    .select([
      sql<number>`floor(extract(epoch from sold_at) / 3600)::bigint`.as('hour'),
      'product_id',
      (eb) => eb.fn.sum<number>('quantity').as('units'),
    ])
    .where('sold_at', '>=', new Date(fromHour * HOUR_MS))
    .where('sold_at', '<', new Date((toHour + 1) * HOUR_MS))
    .groupBy(['hour', 'product_id'])
    .execute();
  const buckets = new Map<number, Map<number, number>>();
  for (const row of rows) {
    const hour = Number(row.hour);
    let bucket = buckets.get(hour);
    if (!bucket) {
      bucket = new Map();
      buckets.set(hour, bucket);
    }
    bucket.set(row.product_id, Number(row.units));
  }
  return buckets;
}
