import type { Redis } from 'ioredis';
import { limitArgs } from '../rate-limit/rate-limit.store.ts';
import type { Keys } from '../redis/keys.ts';
import { runScript } from '../redis/scripts.ts';
import type { CouponMeta } from './coupon.model.ts';

/** Runs a pipeline and returns its replies, throwing the first error. */
async function exec(pipeline: ReturnType<Redis['pipeline']>): Promise<unknown[]> {
  return ((await pipeline.exec()) ?? []).map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

/** The three keys of one coupon; they share the `{coupon:<id>}` hash tag (one cluster slot). */
export type CouponKeys = ReturnType<Keys['coupon']>;

/** Field of the issued hash that marks it as loaded (user ids are digits, so it never collides). */
export const ISSUED_MARKER = '_';

/** Mirrors the return values of scripts/lua/issueCoupon-5.lua. */
export const IssueCouponResult = {
  ISSUED: 1,
  NOT_LOADED: 2,
  NOT_ACTIVE: 3,
  ALREADY_ISSUED: 4,
  SOLD_OUT: 5,
} as const;
export type IssueCouponResult = (typeof IssueCouponResult)[keyof typeof IssueCouponResult];
const ISSUE_RESULTS = new Set<unknown>(Object.values(IssueCouponResult));

/** One caller's limits for the issue script: limiter subject (`u:1`, `ip:…`) and GCRA settings (interval 0 = off). */
export type IssueLimit = { subject: string; intervalMicros: number; burst: number };

/** The call was over a limit: nothing was decided or counted. */
export type IssueLimited = { limited: 'user' | 'ip'; retryAfterMs: number };

const NO_LIMIT: IssueLimit = { subject: '-', intervalMicros: 0, burst: 0 };
const LIMITED = 6;

/**
 * The atomic issue decision (rate limits, window, one per user, quantity, record + pending
 * entry). Without `limits` the call is not rate-limited (workers, tools, the benchmark's ceiling).
 */
export async function runIssueCoupon(
  redis: Redis,
  keys: CouponKeys,
  args: { userId: number; nowMs: number; limits?: { user: IssueLimit; ip: IssueLimit } },
): Promise<IssueCouponResult | IssueLimited> {
  const user = args.limits?.user ?? NO_LIMIT;
  const ip = args.limits?.ip ?? NO_LIMIT;
  const raw = await runScript(
    redis,
    'issueCoupon',
    [keys.meta, keys.issued, keys.pending, keys.limiter(user.subject), keys.limiter(ip.subject)],
    [args.userId, args.nowMs, ...limitArgs(user), ...limitArgs(ip)],
  );
  if (ISSUE_RESULTS.has(raw)) return raw as IssueCouponResult;
  if (
    Array.isArray(raw) &&
    raw[0] === LIMITED &&
    typeof raw[1] === 'number' &&
    (raw[2] === 1 || raw[2] === 2)
  ) {
    return { limited: raw[2] === 1 ? 'user' : 'ip', retryAfterMs: raw[1] };
  }
  throw new Error(`issueCoupon returned an unknown result: ${JSON.stringify(raw)}`);
}

/** Mirrors the first return value of scripts/lua/restoreCoupon-3.lua. */
export const RestoreCouponResult = { ALREADY_LOADED: 0, RESTORED: 1 } as const;

/**
 * Loads meta and the issued hash when Redis does not hold them (atomic; a live coupon is left
 * untouched). Returns whether it loaded and how many issuances the coupon now counts.
 */
export async function runRestoreCoupon(
  redis: Redis,
  keys: CouponKeys,
  meta: CouponMeta,
  issued: { userId: number; issuedAtMs: number }[],
): Promise<{ restored: boolean; issuedCount: number }> {
  const args: (string | number)[] = [
    meta.total,
    meta.startsAtMs,
    meta.endsAtMs,
    meta.validDays,
    meta.expireAtMs,
  ];
  for (const row of issued) args.push(row.userId, row.issuedAtMs);
  const raw = await runScript(redis, 'restoreCoupon', [keys.meta, keys.issued, keys.pending], args);
  const [code, issuedCount] = raw as [number, number];
  if (code !== RestoreCouponResult.RESTORED && code !== RestoreCouponResult.ALREADY_LOADED) {
    throw new Error(`restoreCoupon returned an unknown result: ${String(raw)}`);
  }
  return { restored: code === RestoreCouponResult.RESTORED, issuedCount };
}

/** Same test as the scripts make: meta present and the issued hash marked loaded. */
export async function isCouponLoaded(redis: Redis, keys: CouponKeys): Promise<boolean> {
  const [meta, marker] = await exec(redis.pipeline().exists(keys.meta).hexists(keys.issued, ISSUED_MARKER));
  return meta === 1 && marker === 1;
}

export type PendingIssuance = { id: string; userId: number; issuedAtMs: number };

/** The oldest `count` unpersisted issuances of a coupon. */
export async function readPending(redis: Redis, keys: CouponKeys, count: number): Promise<PendingIssuance[]> {
  const entries = await redis.xrange(keys.pending, '-', '+', 'COUNT', count);
  return entries.map(([id, fields]) => {
    let userId = Number.NaN;
    let issuedAtMs = Number.NaN;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === 'u') userId = Number(fields[i + 1]);
      else if (fields[i] === 't') issuedAtMs = Number(fields[i + 1]);
    }
    if (!Number.isSafeInteger(userId) || userId <= 0 || !Number.isSafeInteger(issuedAtMs)) {
      // Only issueCoupon-5.lua writes this stream; anything else is corruption worth stopping for.
      throw new Error(`malformed pending issuance ${id} in ${keys.pending}: ${JSON.stringify(fields)}`);
    }
    return { id, userId, issuedAtMs };
  });
}

/** Deletes exactly these pending entries (and the stream once empty). */
export async function ackPending(redis: Redis, keys: CouponKeys, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  return (await runScript(redis, 'couponAckPending', [keys.pending], ids)) as number;
}

/** For each coupon, whether its `pending` stream exists (it is deleted once empty). One round trip. */
export async function havePending(redis: Redis, keys: CouponKeys[]): Promise<boolean[]> {
  if (keys.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const k of keys) pipeline.exists(k.pending);
  return (await exec(pipeline)).map((value) => value === 1);
}

/** When each coupon was issued to this user according to Redis (undefined = not issued there). One round trip. */
export async function issuedAtInRedis(
  redis: Redis,
  keys: CouponKeys[],
  userId: number,
): Promise<(number | undefined)[]> {
  if (keys.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const k of keys) pipeline.hget(k.issued, String(userId));
  return (await exec(pipeline)).map((value) => (typeof value === 'string' ? Number(value) : undefined));
}
