import type { Redis } from 'ioredis';
import type { Keys } from '../redis/keys.ts';
import { runScript } from '../redis/scripts.ts';

/** Mirrors the result codes of scripts/lua/holdStock-4.lua. */
export const HoldResult = { Held: 0, NotLoaded: 1, OutOfStock: 2, UnknownProduct: 3 } as const;
export type HoldOutcome =
  | { kind: 'held' }
  | { kind: 'not-loaded' }
  | { kind: 'out-of-stock'; productId: number }
  | { kind: 'unknown-product'; productId: number };

/** Mirrors the result codes of scripts/lua/releaseHold-4.lua. */
export const ReleaseResult = { Done: 0, NotLoaded: 1, NoHold: 2 } as const;
export type ReleaseOutcome = 'done' | 'not-loaded' | 'no-hold';

export type OrderLineInput = { productId: number; quantity: number };

function inventoryKeys(keys: Keys): string[] {
  const k = keys.inventory;
  return [k.available, k.holds, k.loaded, k.holdStarted];
}

/** Holds stock for every line or for none, in one atomic script. */
export async function holdStock(
  redis: Redis,
  keys: Keys,
  hold: { orderId: string; nowMs: number; lines: OrderLineInput[] },
): Promise<HoldOutcome> {
  const args: (string | number)[] = [hold.orderId, hold.nowMs];
  for (const line of hold.lines) args.push(line.productId, line.quantity);
  const [code, productId] = (await runScript(redis, 'holdStock', inventoryKeys(keys), args)) as [
    number,
    number,
  ];
  switch (code) {
    case HoldResult.Held:
      return { kind: 'held' };
    case HoldResult.NotLoaded:
      return { kind: 'not-loaded' };
    case HoldResult.OutOfStock:
      return { kind: 'out-of-stock', productId };
    case HoldResult.UnknownProduct:
      return { kind: 'unknown-product', productId };
    default:
      throw new Error(`holdStock returned unknown code ${code}`);
  }
}

/**
 * Ends a hold exactly once: `release` gives the units back (order expired, cancelled or never
 * saved), `commit` only drops the record (order paid: the units are sold).
 */
export async function endHold(
  redis: Redis,
  keys: Keys,
  orderId: string,
  mode: 'release' | 'commit',
): Promise<ReleaseOutcome> {
  const code = (await runScript(redis, 'releaseHold', inventoryKeys(keys), [orderId, mode])) as number;
  if (code === ReleaseResult.Done) return 'done';
  if (code === ReleaseResult.NotLoaded) return 'not-loaded';
  if (code === ReleaseResult.NoHold) return 'no-hold';
  throw new Error(`releaseHold returned unknown code ${code}`);
}

/** Order ids that hold stock now. */
export async function heldOrderIds(redis: Redis, keys: Keys): Promise<string[]> {
  return redis.hkeys(keys.inventory.holds);
}

/** Holds taken before `beforeMs` (candidates for the orphan sweep). */
export async function holdsStartedBefore(redis: Redis, keys: Keys, beforeMs: number): Promise<string[]> {
  return redis.zrangebyscore(keys.inventory.holdStarted, 0, beforeMs);
}

export async function forgetHoldStart(redis: Redis, keys: Keys, orderIds: string[]): Promise<void> {
  if (orderIds.length) await redis.zrem(keys.inventory.holdStarted, ...orderIds);
}
