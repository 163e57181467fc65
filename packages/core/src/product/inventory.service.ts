import { AppError, AppErrorCode } from '../errors.ts';
import type { Runtime } from '../runtime.ts';
import { lockInventoryForRebuild, readInventorySnapshot } from './inventory.repository.ts';
import {
  isInventoryLoaded,
  loadInventorySnapshot,
  readAvailable,
  setAvailableIfMissing,
} from './inventory.store.ts';
import { findOrderableStock } from './product.repository.ts';

type InventoryRuntime = Pick<Runtime, 'db' | 'redis' | 'keys'>;

export type InventoryRebuild = { loaded: boolean; products: number; holds: number };

// The tail of each inventory's queue of rebuilds in this process (see rebuildInventory).
const rebuildQueue = new Map<string, Promise<void>>();

/**
 * Rebuilds the Redis inventory from Postgres (the committed truth) when it is not loaded:
 * available = stock - units of PENDING_PAYMENT orders, plus each such order's hold record.
 * The load is refused atomically if another process loaded first (see loadInventory-4.lua
 * for the race this avoids), so calling it concurrently, or when loaded already, is harmless.
 *
 * It runs under the exclusive inventory lock (see lockInventoryForRebuild), so an order that
 * took its hold in a Redis that then lost its data commits before the snapshot is read and is
 * counted in it.
 *
 * `force` first drops the marker so a loaded inventory is replaced. Only for a quiet system
 * (API stopped): an order between its Redis hold and its Postgres insert would lose its hold.
 */
export async function rebuildInventory(
  rt: InventoryRuntime,
  options: { force?: boolean } = {},
): Promise<InventoryRebuild> {
  // A rebuild holds two connections (the lock, and the snapshot's REPEATABLE READ transaction,
  // which must start only once the lock is held); one at a time per process keeps concurrent
  // callers from taking every pooled connection for locks that then wait for a snapshot.
  const queueKey = rt.keys.inventory.loaded;
  const previous = rebuildQueue.get(queueKey) ?? Promise.resolve();
  const run = previous.then(() =>
    rt.db.transaction().execute(async (trx) => {
      await lockInventoryForRebuild(trx);
      if (options.force) await rt.redis.del(rt.keys.inventory.loaded);
      const snapshot = await readInventorySnapshot(rt.db);
      const loaded = await loadInventorySnapshot(rt.redis, rt.keys, snapshot);
      return { loaded, products: snapshot.available.size, holds: snapshot.holds.size };
    }),
  );
  const settled = run.then(
    () => {},
    () => {},
  );
  rebuildQueue.set(queueKey, settled);
  settled.then(() => {
    if (rebuildQueue.get(queueKey) === settled) rebuildQueue.delete(queueKey);
  });
  return run;
}

// One rebuild at a time per process and inventory (keyed by the marker, which carries the
// key prefix): a burst of requests after a flush waits for one Postgres snapshot, not one each.
const rebuilding = new Map<string, Promise<unknown>>();

/**
 * Makes sure the inventory is loaded, rebuilding it from Postgres if the marker is missing.
 * Cheap enough to call before any inventory script (one EXISTS when loaded).
 */
export async function ensureInventoryLoaded(rt: InventoryRuntime): Promise<void> {
  if (await isInventoryLoaded(rt.redis, rt.keys)) return;
  const flightKey = rt.keys.inventory.loaded;
  let flight = rebuilding.get(flightKey);
  if (!flight) {
    flight = rebuildInventory(rt).finally(() => rebuilding.delete(flightKey));
    rebuilding.set(flightKey, flight);
  }
  await flight;
}

function notLoadedAfterRebuild(): AppError {
  return new AppError(AppErrorCode.UNAVAILABLE, 'Inventory is being rebuilt, please retry');
}

/**
 * Gives a product with no Redis entry one, from Postgres. Safe because a product without an
 * entry cannot have been held or restocked in Redis (those scripts refuse it), so committed
 * stock minus pending orders is all there is; if an entry appeared meanwhile, it wins.
 * Returns the entry's value (or undefined for a product that does not exist).
 */
export async function repairInventoryEntry(
  rt: InventoryRuntime,
  productId: number,
): Promise<number | undefined> {
  const units = await findOrderableStock(rt.db, productId);
  if (units === undefined) return undefined;
  const value = await setAvailableIfMissing(rt.redis, rt.keys, productId, units);
  if (value === 'not-loaded') throw notLoadedAfterRebuild();
  return value;
}

/**
 * Units that can be ordered now, per product (never below 0). Rebuilds first if Redis lost the
 * inventory; repairs the entry of an existing product that has none. Callers pass ids of
 * products that exist in Postgres.
 */
export async function readStocks(rt: InventoryRuntime, productIds: number[]): Promise<number[]> {
  let values = await readAvailable(rt.redis, rt.keys, productIds);
  if (values === 'not-loaded') {
    await ensureInventoryLoaded(rt);
    values = await readAvailable(rt.redis, rt.keys, productIds);
    if (values === 'not-loaded') throw notLoadedAfterRebuild();
  }
  const stocks: number[] = [];
  for (const [i, value] of values.entries()) {
    const units = value ?? (await repairInventoryEntry(rt, productIds[i]!)) ?? 0;
    stocks.push(Math.max(0, units));
  }
  return stocks;
}

/**
 * Sets the entry of a product created in the open transaction, before it commits: nobody can
 * hold or restock it yet, and if the commit fails the entry names an id that will never exist
 * (identity values are not reused), which is harmless. If the inventory is not loaded nothing
 * is written: call `settleNewProduct` after the commit.
 */
export async function setNewProductAvailable(
  rt: InventoryRuntime,
  productId: number,
  units: number,
): Promise<'set' | 'not-loaded'> {
  const value = await setAvailableIfMissing(rt.redis, rt.keys, productId, units);
  return value === 'not-loaded' ? 'not-loaded' : 'set';
}

/**
 * After a product's row committed while the inventory was not loaded: load it (the rebuild
 * sees the new row) and repair the entry in case a concurrent rebuild read Postgres just
 * before the commit.
 */
export async function settleNewProduct(rt: InventoryRuntime, productId: number): Promise<void> {
  await ensureInventoryLoaded(rt);
  await readStocks(rt, [productId]);
}
