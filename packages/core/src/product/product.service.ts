import { AppError, AppErrorCode } from '../errors.ts';
import type { Resources } from '../resources.ts';
import { readStocks, setNewProductAvailable } from './inventory.service.ts';
import { addRestocked } from './inventory.store.ts';
import {
  addStock,
  findProductInfos,
  insertProduct,
  listProductInfos,
  type Product,
  type ProductInfo,
  toProductInfo,
} from './product.repository.ts';
import type { ProductState } from './product.state.ts';

export { ensureInventoryLoaded, rebuildInventory } from './inventory.service.ts';
export type { Product, ProductInfo } from './product.repository.ts';
/** Product ids in pages (the sweeps over every product's holds). */
export { listProductIds } from './product.repository.ts';

type ProductRuntime = Pick<Resources, 'db' | 'redis' | 'keys' | 'productState'>;

export type ProductPage = { items: Product[]; nextCursor: number | null };

// Names and prices never change after a product is created, so hot reads (product.get,
// product.top, order pricing) take them from memory. Entries still expire, so a hand-edited
// row is picked up eventually, and the map is bounded. Unknown ids are never cached: a product
// created by another process must be found at once. One map per runtime (productState.infos).
const INFO_TTL_MS = 60_000;
const INFO_MAX_ENTRIES = 50_000;

function remember(state: ProductState, info: ProductInfo): void {
  const cache = state.infos;
  if (cache.size >= INFO_MAX_ENTRIES) {
    // Drop the oldest insertion; good enough for a cache whose entries never go stale.
    const oldest = cache.keys().next();
    if (!oldest.done) cache.delete(oldest.value);
  }
  cache.delete(info.id);
  cache.set(info.id, { info, expiresAt: Date.now() + INFO_TTL_MS });
}

/**
 * Name and price of each product that exists, from memory or one Postgres query for the rest.
 * Ids of products that do not exist are simply absent from the map.
 */
export async function getProductInfos(
  rt: Pick<Resources, 'db' | 'productState'>,
  productIds: number[],
): Promise<Map<number, ProductInfo>> {
  const cache = rt.productState.infos;
  const now = Date.now();
  const found = new Map<number, ProductInfo>();
  const missing: number[] = [];
  for (const id of productIds) {
    const hit = cache.get(id);
    if (hit && hit.expiresAt > now) found.set(id, hit.info);
    else if (!found.has(id)) missing.push(id);
  }
  if (missing.length > 0) {
    for (const info of await findProductInfos(rt.db, [...new Set(missing)])) {
      remember(rt.productState, info);
      found.set(info.id, info);
    }
  }
  return found;
}

/**
 * Prices for the order flow: id -> { id, name, price } for the products that exist (an
 * unknown id is absent; PRODUCT_NOT_FOUND is the caller's decision).
 */
export async function getProductsForOrder(
  rt: Pick<Resources, 'db' | 'productState'>,
  productIds: number[],
): Promise<Map<number, ProductInfo>> {
  return getProductInfos(rt, productIds);
}

function notFound(productId: number): AppError {
  return new AppError(AppErrorCode.PRODUCT_NOT_FOUND, `Product ${productId} not found`, { productId });
}

/** One product with its live stock; PRODUCT_NOT_FOUND when it does not exist. */
export async function getProduct(rt: ProductRuntime, productId: number): Promise<Product> {
  const info = (await getProductInfos(rt, [productId])).get(productId);
  if (!info) throw notFound(productId);
  const [stock] = await readStocks(rt, [productId]);
  return { ...info, stock: stock! };
}

/** Products by ascending id after `cursor`, with live stock; `nextCursor` is null on the last page. */
export async function listProducts(
  rt: ProductRuntime,
  page: { cursor?: number; limit: number },
): Promise<ProductPage> {
  const infos = await listProductInfos(rt.db, page);
  for (const info of infos) remember(rt.productState, info);
  const stocks = await readStocks(
    rt,
    infos.map((p) => p.id),
  );
  const items = infos.map((info, i) => ({ ...info, stock: stocks[i]! }));
  return { items, nextCursor: items.length === page.limit ? items[items.length - 1]!.id : null };
}

/**
 * Creates a product. Its Redis count is written inside the insert's transaction, before the
 * commit (see setNewProductAvailable), so there is no moment where the product exists but
 * cannot be ordered. (A crash between the two leaves an entry for an id that never exists.)
 */
export async function createProduct(
  rt: ProductRuntime,
  input: { name: string; price: number; stock: number; imageUrl?: string },
): Promise<Product> {
  const row = await rt.db.transaction().execute(async (trx) => {
    const { imageUrl, ...columns } = input;
    const inserted = await insertProduct(trx, { ...columns, image_url: imageUrl ?? null });
    await setNewProductAvailable(rt, inserted.id, inserted.stock);
    return inserted;
  });
  remember(rt.productState, toProductInfo(row));
  const [stock] = await readStocks(rt, [row.id]);
  return { ...toProductInfo(row), stock: stock! };
}

/**
 * Adds stock: Postgres commits `stock + quantity` first, THEN Redis' available count grows.
 * A crash between the two leaves Redis short (units that exist cannot be ordered until the
 * next rebuild): it can undersell, never oversell. The other order (Redis first) could sell
 * units that Postgres then never gets.
 */
export async function restockProduct(
  rt: ProductRuntime,
  productId: number,
  quantity: number,
): Promise<Product> {
  if (!Number.isSafeInteger(quantity) || quantity <= 0) {
    throw new AppError(AppErrorCode.INVALID_INPUT, 'quantity must be a positive integer');
  }
  const row = await addStock(rt.db, productId, quantity);
  if (!row) throw notFound(productId);
  remember(rt.productState, toProductInfo(row));
  const added = await addRestocked(rt.redis, rt.keys, productId, quantity);
  // Not loaded: the product's load reads the committed stock, this restock included.
  const stock = added === 'not-loaded' ? (await readStocks(rt, [productId]))[0]! : Math.max(0, added);
  return { ...toProductInfo(row), stock };
}
