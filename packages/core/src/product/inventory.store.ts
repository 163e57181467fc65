import type { RedisClient } from '../redis/cluster.ts';
import type { Keys } from '../redis/keys.ts';
import { decodeReply } from '../redis/replies.ts';
import { runScript } from '../redis/scripts.ts';

/**
 * The live inventory in Redis (all keys in the one `{inventory}` slot):
 * - `available`: productId -> units that can be ordered now = committed stock in Postgres minus
 *   the units held by unpaid orders;
 * - `holds`: orderId -> [[productId, quantity], ...] of each unpaid order (the order flow's);
 * - `loaded`: set once both were loaded from Postgres. Every script here refuses to run without
 *   it (NOT_LOADED), because after a Redis flush an empty hash would read as "nothing
 *   available" or, worse, let a blind increment invent a count: callers rebuild, then retry.
 *
 * Why one slot for every product and not one per product: an order's lines must all be held
 * or none, atomically, in one script, and a script only sees keys of one slot. One Redis core
 * runs far more of these scripts per second than a sale needs; the price is that inventory
 * cannot be spread over several cluster nodes.
 */

export type InventorySnapshot = {
  /** productId -> available units (may be negative if Postgres was oversold; reads clamp at 0). */
  available: Map<number, number>;
  /** orderId -> lines held by that unpaid order. */
  holds: Map<string, [productId: number, quantity: number][]>;
};

/** Loads a snapshot unless the inventory is loaded already. Returns whether this call loaded it. */
export async function loadInventorySnapshot(
  redis: RedisClient,
  keys: Keys,
  snapshot: InventorySnapshot,
): Promise<boolean> {
  const args: (string | number)[] = [snapshot.available.size];
  for (const [productId, units] of snapshot.available) args.push(productId, units);
  for (const [orderId, lines] of snapshot.holds) args.push(orderId, JSON.stringify(lines));
  const k = keys.inventory;
  const raw = await runScript(redis, 'loadInventory', [k.available, k.holds, k.loaded, k.unsaved], args);
  return decodeReply('loadInventory', raw).code === 'OK';
}

export async function isInventoryLoaded(redis: RedisClient, keys: Keys): Promise<boolean> {
  return (await redis.exists(keys.inventory.loaded)) === 1;
}

/**
 * Available units per product, or 'not-loaded'. A product without an entry maps to undefined.
 */
export async function readAvailable(
  redis: RedisClient,
  keys: Keys,
  productIds: number[],
): Promise<(number | undefined)[] | 'not-loaded'> {
  if (productIds.length === 0) return [];
  const k = keys.inventory;
  const reply = decodeReply(
    'inventoryRead',
    await runScript(redis, 'inventoryRead', [k.loaded, k.available], productIds),
  );
  if (reply.code === 'NOT_LOADED') return 'not-loaded';
  return productIds.map((_, i) => {
    const value = reply.value[i];
    return value === null || value === undefined ? undefined : Number(value);
  });
}

/** Gives a product its entry if it has none; returns the entry's value, or 'not-loaded'. */
export async function setAvailableIfMissing(
  redis: RedisClient,
  keys: Keys,
  productId: number,
  units: number,
): Promise<number | 'not-loaded'> {
  const k = keys.inventory;
  const reply = decodeReply(
    'inventorySetIfMissing',
    await runScript(redis, 'inventorySetIfMissing', [k.loaded, k.available], [productId, units]),
  );
  return reply.code === 'OK' ? reply.value : 'not-loaded';
}

/** Adds restocked units; returns the new count, 'not-loaded' or 'missing' (no entry: nothing written). */
export async function addRestocked(
  redis: RedisClient,
  keys: Keys,
  productId: number,
  quantity: number,
): Promise<number | 'not-loaded' | 'missing'> {
  const k = keys.inventory;
  const reply = decodeReply(
    'restock',
    await runScript(redis, 'restock', [k.loaded, k.available], [productId, quantity]),
  );
  switch (reply.code) {
    case 'OK':
      return reply.value;
    case 'NOT_LOADED':
      return 'not-loaded';
    case 'UNKNOWN_PRODUCT':
      return 'missing';
  }
}
