import type { Runtime } from '../runtime.ts';
import { insertProduct, listProductRows, type Product, toProduct } from './product.repository.ts';

export type ProductPage = { items: Product[]; nextCursor: number | null };

export async function listProducts(
  rt: Pick<Runtime, 'db'>,
  page: { cursor?: number; limit: number },
): Promise<ProductPage> {
  const rows = await listProductRows(rt.db, page);
  const items = rows.map(toProduct);
  return { items, nextCursor: items.length === page.limit ? items[items.length - 1]!.id : null };
}

export async function createProduct(
  rt: Pick<Runtime, 'db'>,
  input: { name: string; price: number; stock: number },
): Promise<Product> {
  return toProduct(await insertProduct(rt.db, input));
}
