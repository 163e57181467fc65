import type { Transaction } from 'kysely';
import type { Db } from '../db/client.ts';
import type { Database, ProductRow } from '../db/database.ts';

type Executor = Db | Transaction<Database>;

/** What the API shows of a product; `stock` is what can be ordered now (live, from Redis). */
export type Product = ProductInfo & { stock: number };
/** The parts of a product that never change after it is created. */
export type ProductInfo = { id: number; name: string; price: number; imageUrl: string | null };

const INFO_COLUMNS = ['id', 'name', 'price', 'image_url as imageUrl'] as const;

export function toProductInfo(row: Pick<ProductRow, 'id' | 'name' | 'price' | 'image_url'>): ProductInfo {
  return { id: row.id, name: row.name, price: row.price, imageUrl: row.image_url };
}

export async function findProduct(db: Executor, productId: number): Promise<ProductRow | undefined> {
  return db.selectFrom('products').selectAll().where('id', '=', productId).executeTakeFirst();
}

export async function findProductInfos(db: Executor, productIds: number[]): Promise<ProductInfo[]> {
  if (productIds.length === 0) return [];
  return db.selectFrom('products').select(INFO_COLUMNS).where('id', 'in', productIds).execute();
}

/** Keyset pagination by id: stable under concurrent inserts, every product seen exactly once. */
export async function listProductInfos(
  db: Executor,
  page: { cursor?: number; limit: number },
): Promise<ProductInfo[]> {
  let query = db.selectFrom('products').select(INFO_COLUMNS).orderBy('id').limit(page.limit);
  if (page.cursor !== undefined) query = query.where('id', '>', page.cursor);
  return query.execute();
}

export async function insertProduct(
  db: Executor,
  product: { name: string; price: number; stock: number; image_url?: string | null },
): Promise<ProductRow> {
  return db.insertInto('products').values(product).returningAll().executeTakeFirstOrThrow();
}

/** Adds units to the committed stock; undefined when the product does not exist. */
export async function addStock(
  db: Executor,
  productId: number,
  quantity: number,
): Promise<ProductRow | undefined> {
  return db
    .updateTable('products')
    .set((eb) => ({ stock: eb('stock', '+', quantity), updated_at: new Date() }))
    .where('id', '=', productId)
    .returningAll()
    .executeTakeFirst();
}

/** Product ids in ascending order after `afterId`, at most `limit` (for sweeps over every product). */
export async function listProductIds(db: Executor, afterId: number, limit: number): Promise<number[]> {
  const rows = await db
    .selectFrom('products')
    .select('id')
    .where('id', '>', afterId)
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}
