import { AppError, AppErrorCode } from '../errors.ts';
import { getProductInfos } from '../product/product.service.ts';
import type { Resources } from '../resources.ts';
import { sumSalesByHour } from './ranking.repository.ts';
import {
  addSales,
  bucketTtlSeconds,
  type CachedTop,
  hourIndex,
  isFresh,
  isRankingLoaded,
  loadBuckets,
  mergeTop,
  readCachedTop,
  windowHours,
} from './ranking.store.ts';

/**
 * product.top: units sold in paid orders over the last 3 days (a rolling 72 h window of hourly
 * buckets, "now" from rt.clock), top 5, most first, ties by lower product id.
 *
 * Cost of a read: the merged list is cached in Redis for TOP_CACHE_MS and concurrent reads in
 * one process share one in-flight lookup, so a read storm costs one GET per burst and one merge
 * per TOP_CACHE_MS, and names/prices come from memory. Recording a sale drops the cache, so a
 * read that starts after a payment answered sees that payment (merges then happen at most once
 * per sale); the cache lifetime also bounds how late the window's hourly edge moves on.
 *
 * Redis is a cache of Postgres `sales` here. When the marker is missing (Redis lost its data)
 * the window is rebuilt from `sales`. Counting is exact except in the milliseconds around such
 * a rebuild: a sale committed after the rebuild read Postgres but counted (recordSales) before
 * the rebuild loaded is missed, and one committed before the read but counted after the load
 * is counted twice. `pnpm ranking:rebuild --force` re-derives everything from Postgres.
 */

export type TopItem = { productId: number; name: string; price: number; soldQuantity: number };
export type TopProducts = { items: TopItem[] };

type RankingRuntime = Pick<Resources, 'db' | 'redis' | 'keys' | 'clock'>;
/** What the reads take: the ranking's in-flight work, and the product names and prices cache. */
type ReadRuntime = RankingRuntime & Pick<Resources, 'rankingState' | 'productState'>;

export const TOP_LIMIT = 5;
export const TOP_CACHE_MS = 1000;

/**
 * Counts a paid order's units for the ranking, in the hour of `soldAt`. Called after the
 * payment committed (its `sales` rows are in Postgres). If the ranking is not loaded nothing is
 * written: the rebuild counts this sale from Postgres. Sales older than the bucket retention
 * are ignored (they are outside every window).
 */
export async function recordSales(
  rt: RankingRuntime,
  sales: { productId: number; quantity: number }[],
  soldAt: Date,
): Promise<void> {
  const units = new Map<number, number>();
  for (const { productId, quantity } of sales) {
    if (quantity > 0) units.set(productId, (units.get(productId) ?? 0) + quantity);
  }
  if (units.size === 0) return;
  const hour = hourIndex(soldAt);
  const ttl = bucketTtlSeconds(hour, rt.clock.now());
  if (ttl <= 0) return;
  await addSales(rt.redis, rt.keys, hour, ttl, units);
}

export type RankingRebuild = { loaded: boolean; hours: number; products: number };

/**
 * Loads the window's hourly buckets from Postgres `sales`, unless the ranking is loaded already
 * (checked atomically with the load, so a concurrent rebuild cannot overwrite buckets that live
 * sales were counted into). `force` drops the marker first to re-derive a loaded ranking.
 */
export async function rebuildRanking(
  rt: RankingRuntime,
  options: { force?: boolean } = {},
): Promise<RankingRebuild> {
  if (options.force) await rt.redis.del(rt.keys.ranking.loaded);
  const now = rt.clock.now();
  const hours = windowHours(now);
  const buckets = await sumSalesByHour(rt.db, hours[0]!, hours[hours.length - 1]!);
  const loaded = await loadBuckets(rt.redis, rt.keys, hours, buckets, now);
  const products = new Set<number>();
  for (const bucket of buckets.values()) for (const id of bucket.keys()) products.add(id);
  return { loaded, hours: buckets.size, products: products.size };
}

/** In-flight work shared by concurrent callers of one runtime (rankingState), keyed by Redis key. */
function shared<T>(rt: Pick<Resources, 'rankingState'>, key: string, work: () => Promise<T>): Promise<T> {
  const inFlight = rt.rankingState.inFlight;
  let flight = inFlight.get(key) as Promise<T> | undefined;
  if (!flight) {
    flight = work().finally(() => inFlight.delete(key));
    inFlight.set(key, flight);
  }
  return flight;
}

/** Rebuilds the ranking from Postgres when its marker is missing (one EXISTS when loaded). */
export async function ensureRankingLoaded(
  rt: RankingRuntime & Pick<Resources, 'rankingState'>,
): Promise<void> {
  if (await isRankingLoaded(rt.redis, rt.keys)) return;
  await shared(rt, rt.keys.ranking.loaded, () => rebuildRanking(rt));
}

async function currentTop(rt: ReadRuntime): Promise<CachedTop> {
  const now = rt.clock.now();
  const cached = await readCachedTop(rt.redis, rt.keys);
  if (isFresh(cached, now.getTime(), TOP_CACHE_MS)) return cached;
  const options = { now, ttlMs: TOP_CACHE_MS, limit: TOP_LIMIT };
  let merged = await mergeTop(rt.redis, rt.keys, options);
  if (merged === 'not-loaded') {
    await ensureRankingLoaded(rt);
    merged = await mergeTop(rt.redis, rt.keys, options);
    if (merged === 'not-loaded') {
      throw new AppError(AppErrorCode.UNAVAILABLE, 'The ranking is being rebuilt, please retry');
    }
  }
  return merged;
}

/** product.top: the 5 best sellers of the last 72 hours with their names and prices. */
export async function getTopProducts(rt: ReadRuntime): Promise<TopProducts> {
  return shared(rt, rt.keys.ranking.top, async () => {
    const top = await currentTop(rt);
    const infos = await getProductInfos(
      rt,
      top.items.map(([productId]) => productId),
    );
    const items: TopItem[] = [];
    for (const [productId, soldQuantity] of top.items) {
      const info = infos.get(productId);
      if (info) items.push({ productId, name: info.name, price: info.price, soldQuantity });
    }
    return { items };
  });
}
