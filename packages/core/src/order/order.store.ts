import { Cluster, type RedisClient } from '../redis/cluster.ts';
import { type CallerLimit, limitArgs } from '../redis/gcra.ts';
import type { Keys } from '../redis/keys.ts';
import type { ReplicaWaiter } from '../redis/replica-wait.ts';
import { decodeReply, type ReplyOf } from '../redis/replies.ts';
import { runScript } from '../redis/scripts.ts';

/** What a hold decided: OK (held), or why nothing was held. */
export type HoldReply = ReplyOf<'holdStock'>;
/** How ending a hold went: OK, NOT_LOADED or NO_HOLD. */
export type ReleaseReply = ReplyOf<'releaseHold'>;

export type OrderLineInput = { productId: number; quantity: number };

/**
 * Holds stock for every line of an order or for none (ADR 0200). Each product is its own
 * slot, so each line is one script (holdStock-7.lua) in its product's slot:
 * - one line (the flash-sale case): one script call, atomic. With `record` (see
 *   order.persist.ts) the same step stores the order in Redis as answered and not yet saved;
 *   with `limits` it first counts the call against the caller's order.create limits on that
 *   product.
 * - several lines: held one after the other in ascending product id, each recorded under the
 *   order id (a repeat is a no-op). When a line is refused, the lines held before it are
 *   released before the refusal is returned, so the caller sees all or nothing. A crash half
 *   way leaves holds whose order Postgres never gets: the orphan sweep releases them
 *   (order-expiry.service.ts), as it does for a crash after a one-line hold.
 * Once held, the products are registered as active (see registerActive) before the caller
 * answers, so the drain, the sweeps and the caller's reads find them.
 * With `wait.replicas` >= 1 each line's hold counts only once that many replicas acknowledged
 * it (redis/replica-wait.ts); one that is not is UNREPLICATED: held on a master that a failover
 * could lose, so the order's holds are released as for a refusal, except that an order the hold
 * stored in Redis (`record`) is kept (saved like any answered order, it expires unpaid).
 */
export async function holdOrder(
  redis: RedisClient,
  keys: Keys,
  hold: {
    orderId: string;
    nowMs: number;
    lines: OrderLineInput[];
    /** When this process last listed each product as active (OrderState.listedAt, see registerActive). */
    listedAt: Map<number, number>;
    /** The order's record for `unsaved` (order.persist.ts), and whose order it is: one line only. */
    record?: { userId: number; json: string };
    limits?: { user: CallerLimit; ip: CallerLimit };
    wait?: ReplicaWaiter;
  },
): Promise<HoldReply | { code: 'UNREPLICATED' }> {
  const lines = [...hold.lines].sort((a, b) => a.productId - b.productId);
  if (lines.length > 1 && (hold.record || hold.limits)) {
    throw new Error('holdOrder: only a one-line order is stored and limited by its hold');
  }
  const held: number[] = [];
  try {
    for (const line of lines) {
      const reply = await holdLine(redis, keys, hold, line);
      if (reply.code === 'UNREPLICATED') {
        if (!hold.record) await releaseAll(redis, keys, hold.orderId, [...held, line.productId]);
        return reply;
      }
      if (reply.code !== 'OK') {
        await releaseAll(redis, keys, hold.orderId, held);
        return reply;
      }
      held.push(line.productId);
    }
  } catch (err) {
    // The failed line's outcome is unknown: it is released too if it was held (a no-op if not).
    if (lines.length > 1)
      await releaseAll(
        redis,
        keys,
        hold.orderId,
        lines.map((l) => l.productId),
      ).catch(() => {});
    throw err;
  }
  // The order is held (and, with a record, answered): a list that cannot be written now must
  // not turn it into an error. The hold sweep lists the product from its unmatched hold.
  await registerActive(redis, keys, hold.listedAt, held).catch(() => {});
  return { code: 'OK' };
}

async function releaseAll(
  redis: RedisClient,
  keys: Keys,
  orderId: string,
  productIds: number[],
): Promise<void> {
  await Promise.all(productIds.map((productId) => endHold(redis, keys, productId, orderId, 'release')));
}

async function holdLine(
  redis: RedisClient,
  keys: Keys,
  hold: Parameters<typeof holdOrder>[2],
  line: OrderLineInput,
): Promise<HoldReply | { code: 'UNREPLICATED' }> {
  const { limits } = hold;
  const k = keys.stock(line.productId);
  const scriptKeys = [
    k.available,
    k.holds,
    k.holdStarted,
    k.unsaved,
    k.limiter(limits?.user.subject ?? 'u:0'),
    k.limiter(limits?.ip.subject ?? 'ip:none'),
    k.unsavedOf(hold.record?.userId ?? 0),
  ];
  const args = [
    hold.orderId,
    hold.nowMs,
    ...(limits ? [...limitArgs(limits.user), ...limitArgs(limits.ip)] : ['off', 0, 'off', 0]),
    hold.record?.json ?? '',
    line.productId,
    line.quantity,
  ];
  if (!hold.wait || hold.wait.replicas === 0) {
    return decodeReply('holdStock', await runScript(redis, 'holdStock', scriptKeys, args));
  }
  const { raw, replicated } = await hold.wait.run('holdStock', scriptKeys, args);
  const reply = decodeReply('holdStock', raw);
  return reply.code === 'OK' && !replicated ? { code: 'UNREPLICATED' } : reply;
}

/**
 * Ends an order's hold on one product exactly once: `release` gives the units back (order
 * expired, cancelled, never saved, or a later line refused), `commit` only drops the record
 * (order paid: the units are sold).
 */
export async function endHold(
  redis: RedisClient,
  keys: Keys,
  productId: number,
  orderId: string,
  mode: 'release' | 'commit',
): Promise<ReleaseReply> {
  const k = keys.stock(productId);
  return decodeReply(
    'releaseHold',
    await runScript(redis, 'releaseHold', [k.available, k.holds, k.holdStarted], [orderId, mode]),
  );
}

/** Ends an order's holds on all its products; returns how many it ended (OK replies). */
export async function endHolds(
  redis: RedisClient,
  keys: Keys,
  orderId: string,
  productIds: number[],
  mode: 'release' | 'commit',
): Promise<number> {
  const replies = await Promise.all(productIds.map((id) => endHold(redis, keys, id, orderId, mode)));
  return replies.filter((r) => r.code === 'OK').length;
}

/** Order ids that hold stock of this product now. */
export async function heldOrderIds(redis: RedisClient, keys: Keys, productId: number): Promise<string[]> {
  return redis.hkeys(keys.stock(productId).holds);
}

/** Holds of this product taken before `beforeMs` (candidates for the orphan sweep). */
export async function holdsStartedBefore(
  redis: RedisClient,
  keys: Keys,
  productId: number,
  beforeMs: number,
): Promise<string[]> {
  return redis.zrangebyscore(keys.stock(productId).holdStarted, 0, beforeMs);
}

/** How many holds of this product are not yet matched to a saved order. */
export async function countHoldStarts(redis: RedisClient, keys: Keys, productId: number): Promise<number> {
  return redis.zcard(keys.stock(productId).holdStarted);
}

export async function forgetHoldStart(
  redis: RedisClient,
  keys: Keys,
  productId: number,
  orderIds: string[],
): Promise<void> {
  if (orderIds.length) await redis.zrem(keys.stock(productId).holdStarted, ...orderIds);
}

/**
 * Orders answered from Redis and not yet saved in Postgres (see order.persist.ts), in one
 * product's slot: their ids, one HSCAN page at a time ('0' starts and ends a scan).
 */
export async function scanUnsavedOrderIds(
  redis: RedisClient,
  keys: Keys,
  productId: number,
  cursor: string,
  count: number,
): Promise<[next: string, orderIds: string[]]> {
  const [next, flat] = await redis.hscan(keys.stock(productId).unsaved, cursor, 'COUNT', count);
  const ids: string[] = [];
  for (let i = 0; i < flat.length; i += 2) ids.push(flat[i]!);
  return [next, ids];
}

/**
 * The unsaved records of these orders of one product, null where an order has none (saved, or
 * never answered from Redis).
 */
export async function readUnsavedOrders(
  redis: RedisClient,
  keys: Keys,
  productId: number,
  orderIds: string[],
): Promise<(string | null)[]> {
  if (orderIds.length === 0) return [];
  return redis.hmget(keys.stock(productId).unsaved, ...orderIds);
}

/** The ids of one user's orders in one product's `unsaved` (see holdStock-7.lua). */
export async function unsavedOrderIdsOf(
  redis: RedisClient,
  keys: Keys,
  productId: number,
  userId: number,
): Promise<string[]> {
  return redis.hkeys(keys.stock(productId).unsavedOf(userId));
}

/**
 * Drops the unsaved records of one product's orders that are now in Postgres, and their ids
 * from their users' indexes, in one MULTI per batch (one slot): a record and its index entry
 * leave together.
 */
export async function forgetUnsavedOrders(
  redis: RedisClient,
  keys: Keys,
  productId: number,
  orders: { orderId: string; userId: number }[],
): Promise<void> {
  const k = keys.stock(productId);
  for (let i = 0; i < orders.length; i += 1000) {
    const batch = orders.slice(i, i + 1000);
    const multi = redis.multi().hdel(k.unsaved, ...batch.map((o) => o.orderId));
    for (const [userId, ofUser] of Map.groupBy(batch, (o) => o.userId)) {
      multi.hdel(k.unsavedOf(userId), ...ofUser.map((o) => o.orderId));
    }
    const replies = await multi.exec();
    const failed = replies?.find(([err]) => err);
    if (!replies || failed) throw failed?.[0] ?? new Error('forgetUnsavedOrders: MULTI was discarded');
  }
}

/** Drops ids from a user's index in one product (ids whose records are gone: saved, or leftovers). */
export async function forgetUnsavedIdsOf(
  redis: RedisClient,
  keys: Keys,
  productId: number,
  userId: number,
  orderIds: string[],
): Promise<void> {
  if (orderIds.length > 0) await redis.hdel(keys.stock(productId).unsavedOf(userId), ...orderIds);
}

/**
 * How often a process registers a product it holds stock of again (see registerActive), and
 * how long after its last registration a product stays listed at least. The margin between the
 * two covers clock skew between processes and a hold's own latency.
 */
const REGISTER_EVERY_MS = 5_000;
const ACTIVE_PRODUCT_IDLE_MS = 60_000;

/**
 * Lists products as active (keys.ts, activeProducts) after a hold on them and before its
 * answer, so every answered unsaved order is in the slot of a listed product. A process writes
 * a product again only every REGISTER_EVERY_MS: the rush on one product costs one ZADD per
 * process every few seconds, not one per order, and a refused hold none. ZADD GT keeps the
 * latest time when processes' clocks disagree. Holds whose process died before listing them
 * (never answered) are found by the sweep over every product (reconcileHolds, relistActive). Wall-clock time, not the runtime's clock: this is about
 * processes seeing each other's writes, not about the orders' own times.
 */
export async function registerActive(
  redis: RedisClient,
  keys: Keys,
  /** productId -> when this process last listed it (OrderState.listedAt, one per runtime). */
  memo: Map<number, number>,
  productIds: number[],
): Promise<void> {
  const nowMs = Date.now();
  const stale = productIds.filter((id) => !(nowMs - (memo.get(id) ?? -Infinity) < REGISTER_EVERY_MS));
  if (stale.length === 0) return;
  const args = stale.flatMap((id) => [nowMs, id]);
  await redis.zadd(keys.activeProducts, 'GT', ...args);
  for (const id of stale) memo.set(id, nowMs);
}

/**
 * Lists products again whatever this process remembers: for products found holding stock but
 * not listed (the list's slot lost its data, e.g. a failover that dropped its last writes).
 */
export async function relistActive(redis: RedisClient, keys: Keys, productIds: number[]): Promise<void> {
  if (productIds.length === 0) return;
  const nowMs = Date.now();
  await redis.zadd(keys.activeProducts, 'GT', ...productIds.flatMap((id) => [nowMs, id]));
}

/** The products listed as active (see registerActive). */
export async function activeProductIds(redis: RedisClient, keys: Keys): Promise<number[]> {
  return (await redis.zrange(keys.activeProducts, '0', '-1')).map(Number);
}

/**
 * Takes a product off the active list if nobody registered it for ACTIVE_PRODUCT_IDLE_MS and
 * its slot holds no unsaved order and no hold waiting to be matched to a saved order. Returns
 * whether it did.
 */
export async function forgetIfIdle(redis: RedisClient, keys: Keys, productId: number): Promise<boolean> {
  const cutoffMs = Date.now() - ACTIVE_PRODUCT_IDLE_MS;
  const score = await redis.zscore(keys.activeProducts, String(productId));
  if (score === null || Number(score) > cutoffMs) return false;
  const k = keys.stock(productId);
  // Looked at after the score, which is old: no process remembers listing the product lately,
  // so a hold that lands after this look lists it again after it holds (a newer score, kept by
  // the conditional removal, or re-added after it).
  const [unsaved, started] = await Promise.all([redis.hlen(k.unsaved), redis.zcard(k.holdStarted)]);
  if (unsaved > 0 || started > 0) return false;
  const reply = decodeReply(
    'forgetIdleProduct',
    await runScript(redis, 'forgetIdleProduct', [keys.activeProducts], [productId, cutoffMs]),
  );
  return reply.code === 'OK' && reply.value === 1;
}

/** Unsaved orders across the active products (for monitoring and benchmarks). */
export async function countUnsavedOrders(redis: RedisClient, keys: Keys): Promise<number> {
  const ids = await activeProductIds(redis, keys);
  const lengths =
    redis instanceof Cluster
      ? await Promise.all(ids.map((id) => redis.hlen(keys.stock(id).unsaved)))
      : ((await ids.reduce((p, id) => p.hlen(keys.stock(id).unsaved), redis.pipeline()).exec()) ?? []).map(
          ([err, n]) => {
            if (err) throw err;
            return n as number;
          },
        );
  return lengths.reduce((sum, n) => sum + n, 0);
}
