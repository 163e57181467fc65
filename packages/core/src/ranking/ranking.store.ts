import type { RedisClient } from '../redis/cluster.ts';
import type { Keys } from '../redis/keys.ts';
import { decodeReply } from '../redis/replies.ts';
import { runScript } from '../redis/scripts.ts';

/**
 * Units sold per product, in Redis sorted sets per UTC hour, all in the `{ranking}` slot so one
 * script can merge a whole window. `loaded` marks that the buckets were loaded from Postgres'
 * `sales`: without it a read would mistake "Redis lost its data" for "nothing was sold".
 */

/** Hours in the ranking window: "the last 3 days" as a rolling 72 hours. */
export const WINDOW_HOURS = 72;
const HOUR_MS = 3_600_000;
/** How long a bucket is kept after its hour ends: the window plus a day of margin. */
export const BUCKET_RETENTION_MS = (WINDOW_HOURS + 24) * HOUR_MS;

/** The merged top list as cached: computed at `at` (ms, service clock), [productId, units][]. */
export type CachedTop = { at: number; items: [productId: number, soldQuantity: number][] };

export function hourIndex(date: Date): number {
  return Math.floor(date.getTime() / HOUR_MS);
}

/** `yyyymmddhh` of an hour index, in UTC. */
export function hourLabel(index: number): string {
  return new Date(index * HOUR_MS).toISOString().slice(0, 13).replace(/[-T]/g, '');
}

/** Hour indexes of the window ending at `now`, oldest first: the current hour and the 71 before. */
export function windowHours(now: Date): number[] {
  const current = hourIndex(now);
  return Array.from({ length: WINDOW_HOURS }, (_, i) => current - WINDOW_HOURS + 1 + i);
}

/**
 * Seconds a bucket must still live, measured on the service clock (0 or less: already past
 * retention). Relative, so a test clock far from the real time still behaves.
 */
export function bucketTtlSeconds(index: number, now: Date): number {
  return Math.ceil(((index + 1) * HOUR_MS + BUCKET_RETENTION_MS - now.getTime()) / 1000);
}

export async function isRankingLoaded(redis: RedisClient, keys: Keys): Promise<boolean> {
  return (await redis.exists(keys.ranking.loaded)) === 1;
}

/**
 * Adds sold units to one hour's bucket and drops the cached top list. 'not-loaded': nothing
 * written (the rebuild counts it).
 */
export async function addSales(
  redis: RedisClient,
  keys: Keys,
  hour: number,
  ttlSeconds: number,
  units: Map<number, number>,
): Promise<'counted' | 'not-loaded'> {
  const args: (string | number)[] = [ttlSeconds];
  for (const [productId, quantity] of units) args.push(productId, quantity);
  const raw = await runScript(
    redis,
    'rankingRecord',
    [keys.ranking.loaded, keys.ranking.hour(hourLabel(hour)), keys.ranking.top],
    args,
  );
  return decodeReply('rankingRecord', raw).code === 'OK' ? 'counted' : 'not-loaded';
}

/**
 * Loads the window's buckets unless the ranking is loaded already; returns whether it loaded.
 * `buckets` maps each hour index of `hours` to productId -> units.
 */
export async function loadBuckets(
  redis: RedisClient,
  keys: Keys,
  hours: number[],
  buckets: Map<number, Map<number, number>>,
  now: Date,
): Promise<boolean> {
  const args: (string | number)[] = [];
  for (const hour of hours) {
    const units = buckets.get(hour) ?? new Map<number, number>();
    args.push(bucketTtlSeconds(hour, now), units.size);
    for (const [productId, quantity] of units) args.push(quantity, productId);
  }
  const k = keys.ranking;
  const bucketKeys = hours.map((h) => k.hour(hourLabel(h)));
  const raw = await runScript(redis, 'rankingLoad', [k.loaded, k.top, ...bucketKeys], args);
  return decodeReply('rankingLoad', raw).code === 'OK';
}

export function parseCachedTop(json: string | null): CachedTop | undefined {
  if (json === null) return undefined;
  try {
    const value = JSON.parse(json) as CachedTop;
    return typeof value.at === 'number' && Array.isArray(value.items) ? value : undefined;
  } catch {
    return undefined;
  }
}

export function isFresh(cached: CachedTop | undefined, nowMs: number, ttlMs: number): cached is CachedTop {
  return cached !== undefined && cached.at <= nowMs && nowMs < cached.at + ttlMs;
}

/** The cached merge as stored (may be stale or absent): one GET, the common case of a read. */
export async function readCachedTop(redis: RedisClient, keys: Keys): Promise<CachedTop | undefined> {
  return parseCachedTop(await redis.get(keys.ranking.top));
}

/** Merges the window (or returns a cache another process just refreshed); 'not-loaded' if the marker is missing. */
export async function mergeTop(
  redis: RedisClient,
  keys: Keys,
  opts: { now: Date; ttlMs: number; limit: number },
): Promise<CachedTop | 'not-loaded'> {
  const k = keys.ranking;
  const bucketKeys = windowHours(opts.now).map((h) => k.hour(hourLabel(h)));
  const raw = await runScript(
    redis,
    'rankingTop',
    [k.loaded, k.top, k.merge, ...bucketKeys],
    [opts.now.getTime(), opts.ttlMs, opts.limit],
  );
  const reply = decodeReply('rankingTop', raw);
  if (reply.code === 'NOT_LOADED') return 'not-loaded';
  const cached = parseCachedTop(reply.value);
  if (!cached) throw new Error('rankingTop returned an unreadable cache entry');
  return cached;
}
