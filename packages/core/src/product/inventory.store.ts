import { Cluster, type RedisClient } from '../redis/cluster.ts';
import type { Keys } from '../redis/keys.ts';
import { decodeReply } from '../redis/replies.ts';
import { runScript } from '../redis/scripts.ts';

/**
 * The live stock in Redis, one hash slot per product (`{stock:<id>}`, keys.ts):
 * - `available`: units that can be ordered now = committed stock in Postgres minus the units
 *   held by unpaid orders. Its absence means "not loaded": every script here refuses to run
 *   without it (NOT_LOADED), because after a lost master an absent count must never read as
 *   "nothing available" nor let a blind increment invent one; callers load the product from
 *   Postgres, then retry;
 * - `holds`: orderId -> units of this product held by each unpaid order (the order flow's).
 *
 * Why one slot per product: orders for different products then run on different masters of a
 * cluster. A multi-line order spans slots and is held line by line (ADR 0200).
 */

export type StockSnapshot = {
  /** Units available now (may be negative if Postgres was oversold; reads clamp at 0). */
  available: number;
  /** orderId -> units of this product held by that unpaid order. */
  holds: Map<string, number>;
};

/** Loads one product's snapshot unless it is loaded already. Returns whether this call loaded it. */
export async function loadStockSnapshot(
  redis: RedisClient,
  keys: Keys,
  productId: number,
  snapshot: StockSnapshot,
): Promise<boolean> {
  const args: (string | number)[] = [productId, snapshot.available];
  for (const [orderId, units] of snapshot.holds) args.push(orderId, units);
  const k = keys.stock(productId);
  const raw = await runScript(redis, 'loadStock', [k.available, k.holds, k.unsaved], args);
  return decodeReply('loadStock', raw).code === 'OK';
}

/** Drops a product's count, so its next use loads it again from Postgres (rebuild --force). */
export async function unloadStock(redis: RedisClient, keys: Keys, productId: number): Promise<void> {
  await redis.del(keys.stock(productId).available);
}

/**
 * Available units per product; undefined where the product is not loaded. One MGET on one
 * Redis; on a cluster one GET per product (each is its own slot), sent together.
 */
export async function readAvailable(
  redis: RedisClient,
  keys: Keys,
  productIds: number[],
): Promise<(number | undefined)[]> {
  if (productIds.length === 0) return [];
  const names = productIds.map((id) => keys.stock(id).available);
  const values =
    redis instanceof Cluster
      ? await Promise.all(names.map((name) => redis.get(name)))
      : await redis.mget(...names);
  return values.map((value) => (value === null ? undefined : Number(value)));
}

/** Adds restocked units; returns the new count, or 'not-loaded' (nothing written). */
export async function addRestocked(
  redis: RedisClient,
  keys: Keys,
  productId: number,
  quantity: number,
): Promise<number | 'not-loaded'> {
  const reply = decodeReply(
    'restock',
    await runScript(redis, 'restock', [keys.stock(productId).available], [quantity]),
  );
  return reply.code === 'OK' ? reply.value : 'not-loaded';
}
