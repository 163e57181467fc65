import type { CallerLimit } from '../rate-limit/rate-limit.service.ts';
import { limitArgs } from '../rate-limit/rate-limit.store.ts';
import type { RedisClient } from '../redis/cluster.ts';
import type { Keys } from '../redis/keys.ts';
import { decodeReply, type ReplyOf } from '../redis/replies.ts';
import { runScript } from '../redis/scripts.ts';

/** What a hold decided: OK (held), or why nothing was held. */
export type HoldReply = ReplyOf<'holdStock'>;
/** How ending a hold went: OK, NOT_LOADED or NO_HOLD. */
export type ReleaseReply = ReplyOf<'releaseHold'>;

export type OrderLineInput = { productId: number; quantity: number };

function inventoryKeys(keys: Keys): string[] {
  const k = keys.inventory;
  return [k.available, k.holds, k.loaded, k.holdStarted];
}

/**
 * Holds stock for every line or for none, in one atomic script. With `record` (see
 * order.persist.ts) the same step stores the order in Redis as answered and not yet saved;
 * with `limits` it first counts the call against the caller's order.create limits.
 */
export async function holdStock(
  redis: RedisClient,
  keys: Keys,
  hold: {
    orderId: string;
    nowMs: number;
    lines: OrderLineInput[];
    /** The order's record for `unsaved` (order.persist.ts), and whose order it is. */
    record?: { userId: number; json: string };
    limits?: { user: CallerLimit; ip: CallerLimit };
  },
): Promise<HoldReply> {
  const { limits } = hold;
  const args: (string | number)[] = [
    hold.orderId,
    hold.nowMs,
    ...(limits ? [...limitArgs(limits.user), ...limitArgs(limits.ip)] : ['off', 0, 'off', 0]),
    hold.record?.json ?? '',
  ];
  for (const line of hold.lines) args.push(line.productId, line.quantity);
  const k = keys.inventory;
  const scriptKeys = [
    k.available,
    k.holds,
    k.loaded,
    k.holdStarted,
    k.unsaved,
    keys.rateLimit('order.create', limits?.user.subject ?? 'u:0'),
    keys.rateLimit('order.create', limits?.ip.subject ?? 'ip:none'),
    k.unsavedOf(hold.record?.userId ?? 0),
  ];
  return decodeReply('holdStock', await runScript(redis, 'holdStock', scriptKeys, args));
}

/**
 * Ends a hold exactly once: `release` gives the units back (order expired, cancelled or never
 * saved), `commit` only drops the record (order paid: the units are sold).
 */
export async function endHold(
  redis: RedisClient,
  keys: Keys,
  orderId: string,
  mode: 'release' | 'commit',
): Promise<ReleaseReply> {
  return decodeReply(
    'releaseHold',
    await runScript(redis, 'releaseHold', inventoryKeys(keys), [orderId, mode]),
  );
}

/** Order ids that hold stock now. */
export async function heldOrderIds(redis: RedisClient, keys: Keys): Promise<string[]> {
  return redis.hkeys(keys.inventory.holds);
}

/** Holds taken before `beforeMs` (candidates for the orphan sweep). */
export async function holdsStartedBefore(
  redis: RedisClient,
  keys: Keys,
  beforeMs: number,
): Promise<string[]> {
  return redis.zrangebyscore(keys.inventory.holdStarted, 0, beforeMs);
}

export async function forgetHoldStart(redis: RedisClient, keys: Keys, orderIds: string[]): Promise<void> {
  if (orderIds.length) await redis.zrem(keys.inventory.holdStarted, ...orderIds);
}

/**
 * Orders answered from Redis and not yet saved in Postgres (see order.persist.ts): their ids,
 * one HSCAN page at a time ('0' starts and ends a scan).
 */
export async function scanUnsavedOrderIds(
  redis: RedisClient,
  keys: Keys,
  cursor: string,
  count: number,
): Promise<[next: string, orderIds: string[]]> {
  const [next, flat] = await redis.hscan(keys.inventory.unsaved, cursor, 'COUNT', count);
  const ids: string[] = [];
  for (let i = 0; i < flat.length; i += 2) ids.push(flat[i]!);
  return [next, ids];
}

/** The unsaved records of these orders, null where an order has none (saved, or never answered from Redis). */
export async function readUnsavedOrders(
  redis: RedisClient,
  keys: Keys,
  orderIds: string[],
): Promise<(string | null)[]> {
  if (orderIds.length === 0) return [];
  return redis.hmget(keys.inventory.unsaved, ...orderIds);
}

/** The ids of one user's orders in `unsaved` (see holdStock-8.lua). */
export async function unsavedOrderIdsOf(redis: RedisClient, keys: Keys, userId: number): Promise<string[]> {
  return redis.hkeys(keys.inventory.unsavedOf(userId));
}

/**
 * Drops the unsaved records of orders that are now in Postgres, and their ids from their
 * users' indexes, in one MULTI per batch: a record and its index entry leave together.
 */
export async function forgetUnsavedOrders(
  redis: RedisClient,
  keys: Keys,
  orders: { orderId: string; userId: number }[],
): Promise<void> {
  for (let i = 0; i < orders.length; i += 1000) {
    const batch = orders.slice(i, i + 1000);
    const multi = redis.multi().hdel(keys.inventory.unsaved, ...batch.map((o) => o.orderId));
    for (const [userId, ofUser] of Map.groupBy(batch, (o) => o.userId)) {
      multi.hdel(keys.inventory.unsavedOf(userId), ...ofUser.map((o) => o.orderId));
    }
    const replies = await multi.exec();
    const failed = replies?.find(([err]) => err);
    if (!replies || failed) throw failed?.[0] ?? new Error('forgetUnsavedOrders: MULTI was discarded');
  }
}

/** Drops ids from a user's index (ids whose records are gone: already saved, or leftovers). */
export async function forgetUnsavedIdsOf(
  redis: RedisClient,
  keys: Keys,
  userId: number,
  orderIds: string[],
): Promise<void> {
  if (orderIds.length > 0) await redis.hdel(keys.inventory.unsavedOf(userId), ...orderIds);
}
