import type { Db } from '../db/client.ts';
import type { ProductRow } from '../db/database.ts';

export type Product = { id: number; name: string; price: number; stock: number };

export function toProduct(row: Pick<ProductRow, 'id' | 'name' | 'price' | 'stock'>): Product {
  return { id: row.id, name: row.name, price: row.price, stock: row.stock };
}

export async function findProduct(db: Db, productId: number): Promise<ProductRow | undefined> {
  return db.selectFrom('products').selectAll().where('id', '=', productId).executeTakeFirst();
}

/** Keyset pagination by id: stable under concurrent inserts, every product seen exactly once. */
export async function listProductRows(
  db: Db,
  page: { cursor?: number; limit: number },
): Promise<ProductRow[]> {
  let query = db.selectFrom('products').selectAll().orderBy('id').limit(page.limit);
  if (page.cursor !== undefined) query = query.where('id', '>', page.cursor);
  return query.execute();
}

export async function insertProduct(
  db: Db,
  product: { name: string; price: number; stock: number },
): Promise<ProductRow> {
  return db.insertInto('products').values(product).returningAll().executeTakeFirstOrThrow();
}
