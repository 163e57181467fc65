import { AppError, AppErrorCode } from '../errors.ts';
import type { Resources } from '../resources.ts';
import { lockInventoryForRebuild, readInventorySnapshot } from './inventory.repository.ts';
import { loadStockSnapshot, readAvailable, unloadStock } from './inventory.store.ts';

// For the order area: the shared side of the inventory lock its transactions hold from before a
// hold to the commit (see lockInventoryForHold), and the reads the reconciler compares.
export { lockInventoryForHold, readInventorySnapshot } from './inventory.repository.ts';
// Units Redis holds now, without loading what is missing (order.create's early sold-out refusal).
export { readAvailable } from './inventory.store.ts';

import { listProductIds } from './product.repository.ts';

type InventoryRuntime = Pick<Resources, 'db' | 'redis' | 'keys' | 'productState'>;

export type InventoryRebuild = {
  /** Whether this call loaded any product (false: every product was loaded already). */
  loaded: boolean;
  /** Products this call loaded. */
  products: number;
  /** Holds of unpaid orders it loaded with them. */
  holds: number;
};

/** Products loaded at once by a rebuild. */
const LOAD_CONCURRENCY = 100;

/**
 * Loads products' stock from Postgres (the committed truth) into Redis where it is missing:
 * available = stock - units of PENDING_PAYMENT orders, plus each such order's hold, one product
 * (one slot) at a time. `productIds` narrows it to those products (default: every product);
 * a product that does not exist in Postgres gets nothing. Each product's load is refused
 * atomically if it is loaded already (see loadStock-3.lua for the race this avoids), so
 * calling it concurrently, or when loaded already, is harmless.
 *
 * It runs under the exclusive inventory lock (see lockInventoryForRebuild), so an order that
 * took its hold in a Redis that then lost the product commits before the snapshot is read and
 * is counted in it.
 *
 * `force` first drops each product's count so a loaded product is replaced. Only for a quiet
 * system (API stopped): an order between its Redis hold and its Postgres insert would lose its
 * hold.
 */
export async function rebuildInventory(
  rt: InventoryRuntime,
  options: { force?: boolean; productIds?: number[] } = {},
): Promise<InventoryRebuild> {
  // A rebuild holds two connections (the lock, and the snapshot's REPEATABLE READ transaction,
  // which must start only once the lock is held); one at a time per process keeps concurrent
  // callers from taking every pooled connection for locks that then wait for a snapshot
  // (productState.rebuildTail: the last rebuild queued in this runtime).
  const state = rt.productState;
  const previous = state.rebuildTail ?? Promise.resolve();
  const run = previous.then(() =>
    rt.db.transaction().execute(async (trx) => {
      await lockInventoryForRebuild(trx);
      const snapshot = await readInventorySnapshot(rt.db, options.productIds);
      const result: InventoryRebuild = { loaded: false, products: 0, holds: 0 };
      const products = [...snapshot];
      // A bounded number of products at a time: each is its own slot (on a cluster, any master).
      for (let i = 0; i < products.length; i += LOAD_CONCURRENCY) {
        await Promise.all(
          products.slice(i, i + LOAD_CONCURRENCY).map(async ([productId, stock]) => {
            if (options.force) await unloadStock(rt.redis, rt.keys, productId);
            if (await loadStockSnapshot(rt.redis, rt.keys, productId, stock)) {
              result.loaded = true;
              result.products++;
              result.holds += stock.holds.size;
            }
          }),
        );
      }
      return result;
    }),
  );
  const settled = run.then(
    () => {},
    () => {},
  );
  state.rebuildTail = settled;
  settled.then(() => {
    if (state.rebuildTail === settled) state.rebuildTail = undefined;
  });
  return run;
}

/**
 * Makes sure these products' stock is in Redis, loading from Postgres the ones that are not.
 * One load per product at a time per runtime (productState.loading): a burst of requests after
 * a lost master waits for one Postgres snapshot per product, not one each.
 * Without `productIds`, every product (what the worker does at start), a page at a time. Cheap
 * when loaded: one read of the counts, and the rebuild's lock only for products that are missing.
 */
export async function ensureInventoryLoaded(rt: InventoryRuntime, productIds?: number[]): Promise<void> {
  if (!productIds) {
    for (let page = await listProductIds(rt.db, 0, 1000); page.length > 0; ) {
      await ensureInventoryLoaded(rt, page);
      page = page.length < 1000 ? [] : await listProductIds(rt.db, page[page.length - 1]!, 1000);
    }
    return;
  }
  const values = await readAvailable(rt.redis, rt.keys, productIds);
  const flights = rt.productState.loading;
  const waits: Promise<unknown>[] = [];
  const missing: number[] = [];
  for (const [i, value] of values.entries()) {
    if (value !== undefined) continue;
    const productId = productIds[i]!;
    const flight = flights.get(productId);
    if (flight) waits.push(flight);
    else missing.push(productId);
  }
  if (missing.length > 0) {
    const flight = rebuildInventory(rt, { productIds: missing }).finally(() => {
      for (const id of missing) if (flights.get(id) === flight) flights.delete(id);
    });
    for (const id of missing) flights.set(id, flight);
    waits.push(flight);
  }
  await Promise.all(waits);
}

function notLoadedAfterRebuild(): AppError {
  return new AppError(AppErrorCode.UNAVAILABLE, 'Inventory is being rebuilt, please retry');
}

/**
 * Units that can be ordered now, per product (never below 0). Loads from Postgres first the
 * products Redis does not have. Callers pass ids of products that exist in Postgres.
 */
export async function readStocks(rt: InventoryRuntime, productIds: number[]): Promise<number[]> {
  let values = await readAvailable(rt.redis, rt.keys, productIds);
  if (values.includes(undefined)) {
    await ensureInventoryLoaded(
      rt,
      productIds.filter((_, i) => values[i] === undefined),
    );
    values = await readAvailable(rt.redis, rt.keys, productIds);
    if (values.includes(undefined)) throw notLoadedAfterRebuild();
  }
  return values.map((units) => Math.max(0, units!));
}

/**
 * Loads the stock of a product created in the open transaction, before it commits: nobody can
 * hold or restock it yet, and if the commit fails the entry names an id that will never exist
 * (identity values are not reused), which is harmless.
 */
export async function setNewProductAvailable(
  rt: InventoryRuntime,
  productId: number,
  units: number,
): Promise<void> {
  await loadStockSnapshot(rt.redis, rt.keys, productId, { available: units, holds: new Map() });
}
