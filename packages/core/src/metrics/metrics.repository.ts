import { sql } from 'kysely';
import type { Db } from '../db/client.ts';

/** Units on the lines of these orders, in one query (the API's units-sold counter). */
export async function sumOrderUnits(db: Db, orderIds: string[]): Promise<number> {
  if (orderIds.length === 0) return 0;
  const { rows } = await sql<{ units: number }>`
    SELECT coalesce(sum(quantity), 0)::int8 AS units FROM order_lines WHERE order_id = ANY(${orderIds}::uuid[])
  `.execute(db);
  return rows[0]?.units ?? 0;
}
