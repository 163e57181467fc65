import type { Transaction } from 'kysely';
import type { Db } from '../db/client.ts';
import type { Database, ProductRow } from '../db/database.ts';

type Executor = Db | Transaction<Database>;

/** What the API shows of a product; `stock` is what can be ordered now (live, from Redis). */
export type Product = { id: number; name: string; price: number; stock: number };
/** The parts of a product that never change after it is created. */
export type ProductInfo = { id: number; name: string; price: number };

export function toProductInfo(row: Pick<ProductRow, 'id' | 'name' | 'price'>): ProductInfo {
  return { id: row.id, name: row.name, price: row.price };
}

export async function findProduct(db: Executor, productId: number): Promise<ProductRow | undefined> {
  return db.selectFrom('products').selectAll().where('id', '=', productId).executeTakeFirst();
}

export async function findProductInfos(db: Executor, productIds: number[]): Promise<ProductInfo[]> {
  if (productIds.length === 0) return [];
  return db.selectFrom('products').select(['id', 'name', 'price']).where('id', 'in', productIds).execute();
}

/** Keyset pagination by id: stable under concurrent inserts, every product seen exactly once. */
export async function listProductInfos(
  db: Executor,
  page: { cursor?: number; limit: number },
): Promise<ProductInfo[]> {
  let query = db.selectFrom('products').select(['id', 'name', 'price']).orderBy('id').limit(page.limit);
  if (page.cursor !== undefined) query = query.where('id', '>', page.cursor);
  return query.execute();
}

export async function insertProduct(
  db: Executor,
  product: { name: string; price: number; stock: number },
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

/**
 * Committed stock minus what unpaid orders hold, for one product: what a repair may write
 * into Redis for a product that has no inventory entry.
 */
export async function findOrderableStock(db: Executor, productId: number): Promise<number | undefined> {
  const row = await db
    .selectFrom('products as p')
    .select((eb) => [
      'p.stock',
      eb
        .selectFrom('order_lines as l')
        .innerJoin('orders as o', 'o.id', 'l.order_id')
        .select((sb) => sb.fn.coalesce(sb.fn.sum<number>('l.quantity'), sb.lit(0)).as('held'))
        .where('l.product_id', '=', productId)
        .where('o.status', '=', 'PENDING_PAYMENT')
        .as('held'),
    ])
    .where('p.id', '=', productId)
    .executeTakeFirst();
  if (!row) return undefined;
  return row.stock - Number(row.held ?? 0);
}
