import { Cluster, type RedisClient } from '../redis/cluster.ts';
import { limitArgs } from '../redis/gcra.ts';
import type { Keys } from '../redis/keys.ts';
import type { ReplicaWaiter } from '../redis/replica-wait.ts';
import { decodeReply, type ReplyOf } from '../redis/replies.ts';
import { runScript } from '../redis/scripts.ts';
import type { CouponMeta } from './coupon.model.ts';

/** Runs a pipeline and returns its replies, throwing the first error. */
async function exec(pipeline: ReturnType<RedisClient['pipeline']>): Promise<unknown[]> {
  return ((await pipeline.exec()) ?? []).map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

/** The three keys of one coupon; they share the `{coupon:<id>}` hash tag (one cluster slot). */
export type CouponKeys = ReturnType<Keys['coupon']>;

/** Field of the issued hash that marks it as loaded (user ids are digits, so it never collides). */
export const ISSUED_MARKER = '_';

/** One caller's limits for the issue script: limiter subject (`u:1`, `ip:…`) and GCRA settings (interval 0 = off). */
export type IssueLimit = { subject: string; intervalMicros: number; burst: number };

/** The issue decision (OK = issued), or RATE_LIMITED: the call was over a limit, nothing decided or counted. */
export type IssueReply = ReplyOf<'issueCoupon'>;

const NO_LIMIT: IssueLimit = { subject: '-', intervalMicros: 0, burst: 0 };

/**
 * Issued on the master, but not acknowledged by the replicas REDIS_WAIT_REPLICAS asks for in
 * time: a failover could still lose it, so it must not be answered as issued. `pendingId`
 * names its `pending` entry, for `runRevokeIssuance`.
 */
export type UnreplicatedIssue = { code: 'UNREPLICATED'; pendingId: string };

/**
 * The atomic issue decision (rate limits, window, one per user, quantity, record + pending
 * entry). Without `limits` the call is not rate-limited (workers, tools, the benchmark's ceiling).
 * With `wait.replicas` >= 1 an issuance is OK only once that many replicas acknowledged it
 * (redis/replica-wait.ts), else UNREPLICATED; with 0 (or no `wait`) it is the one EVALSHA.
 */
export async function runIssueCoupon(
  redis: RedisClient,
  keys: CouponKeys,
  args: {
    userId: number;
    nowMs: number;
    limits?: { user: IssueLimit; ip: IssueLimit };
    wait?: ReplicaWaiter;
  },
): Promise<IssueReply | UnreplicatedIssue> {
  const user = args.limits?.user ?? NO_LIMIT;
  const ip = args.limits?.ip ?? NO_LIMIT;
  const scriptKeys = [
    keys.meta,
    keys.issued,
    keys.pending,
    keys.limiter(user.subject),
    keys.limiter(ip.subject),
  ];
  const scriptArgs = [args.userId, args.nowMs, ...limitArgs(user), ...limitArgs(ip)];
  if (!args.wait || args.wait.replicas === 0) {
    return decodeReply('issueCoupon', await runScript(redis, 'issueCoupon', scriptKeys, scriptArgs));
  }
  scriptArgs.push('id');
  const { raw, replicated } = await args.wait.run('issueCoupon', scriptKeys, scriptArgs);
  const reply = decodeReply('issueCoupon', raw);
  if (reply.code !== 'OK') return reply;
  if (reply.value === undefined)
    throw new Error('issueCoupon answered OK without the pending id it was asked for');
  return replicated ? decodeReply('issueCoupon', 0) : { code: 'UNREPLICATED', pendingId: reply.value };
}

/**
 * Takes back one unreplicated issuance if it is still unpersisted (revokeIssuance-2.lua);
 * true when it did. Only under the coupon's exclusive persist lock, after checking Postgres
 * (coupon.persist.ts `revokeUnreplicatedIssuance`).
 */
export async function runRevokeIssuance(
  redis: RedisClient,
  keys: CouponKeys,
  issuance: { userId: number; issuedAtMs: number; pendingId: string },
): Promise<boolean> {
  const reply = decodeReply(
    'revokeIssuance',
    await runScript(
      redis,
      'revokeIssuance',
      [keys.issued, keys.pending],
      [issuance.userId, issuance.issuedAtMs, issuance.pendingId],
    ),
  );
  return reply.value === 1;
}

/**
 * Loads meta and the issued hash when Redis does not hold them (atomic; a live coupon is left
 * untouched). Returns whether it loaded and how many issuances the coupon now counts.
 */
export async function runRestoreCoupon(
  redis: RedisClient,
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
  const reply = decodeReply(
    'restoreCoupon',
    await runScript(redis, 'restoreCoupon', [keys.meta, keys.issued, keys.pending], args),
  );
  return { restored: reply.code === 'OK', issuedCount: reply.value };
}

/** Same test as the scripts make: meta present and the issued hash marked loaded. */
export async function isCouponLoaded(redis: RedisClient, keys: CouponKeys): Promise<boolean> {
  const [meta, marker] = await exec(redis.pipeline().exists(keys.meta).hexists(keys.issued, ISSUED_MARKER));
  return meta === 1 && marker === 1;
}

export type PendingIssuance = { id: string; userId: number; issuedAtMs: number };

/** The oldest `count` unpersisted issuances of a coupon. */
export async function readPending(
  redis: RedisClient,
  keys: CouponKeys,
  count: number,
): Promise<PendingIssuance[]> {
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
export async function ackPending(redis: RedisClient, keys: CouponKeys, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  return decodeReply('couponAckPending', await runScript(redis, 'couponAckPending', [keys.pending], ids))
    .value;
}

/** For each coupon, whether its `pending` stream exists (it is deleted once empty). One round trip. */
export async function havePending(redis: RedisClient, keys: CouponKeys[]): Promise<boolean[]> {
  if (keys.length === 0) return [];
  // Each coupon is its own slot: on a cluster the commands go one by one (ioredis still sends
  // the ones for one master together); a cluster pipeline must stay on one node.
  if (redis instanceof Cluster)
    return Promise.all(keys.map(async (k) => (await redis.exists(k.pending)) === 1));
  const pipeline = redis.pipeline();
  for (const k of keys) pipeline.exists(k.pending);
  return (await exec(pipeline)).map((value) => value === 1);
}

/** When each coupon was issued to this user according to Redis (undefined = not issued there). One round trip. */
export async function issuedAtInRedis(
  redis: RedisClient,
  keys: CouponKeys[],
  userId: number,
): Promise<(number | undefined)[]> {
  if (keys.length === 0) return [];
  let replies: unknown[];
  if (redis instanceof Cluster) {
    // One slot per coupon: see havePending.
    replies = await Promise.all(keys.map((k) => redis.hget(k.issued, String(userId))));
  } else {
    const pipeline = redis.pipeline();
    for (const k of keys) pipeline.hget(k.issued, String(userId));
    replies = await exec(pipeline);
  }
  return replies.map((value) => (typeof value === 'string' ? Number(value) : undefined));
}

/**
 * How many times each coupon has been issued according to Redis, in one round trip: the size
 * of its issued hash minus the loaded marker, the count the issue script decides on. Undefined
 * for a coupon whose issued hash is not marked loaded (Redis lost it, or it expired on purpose).
 */
export async function issuedCounts(redis: RedisClient, keys: CouponKeys[]): Promise<(number | undefined)[]> {
  if (keys.length === 0) return [];
  let replies: unknown[];
  if (redis instanceof Cluster) {
    // One slot per coupon: one pipeline per coupon (see havePending).
    replies = (
      await Promise.all(
        keys.map((k) => exec(redis.pipeline().hexists(k.issued, ISSUED_MARKER).hlen(k.issued))),
      )
    ).flat();
  } else {
    const pipeline = redis.pipeline();
    for (const k of keys) pipeline.hexists(k.issued, ISSUED_MARKER).hlen(k.issued);
    replies = await exec(pipeline);
  }
  return keys.map((_, i) => (replies[2 * i] === 1 ? (replies[2 * i + 1] as number) - 1 : undefined));
}
