import type { RateLimit } from '../config.ts';
import type { RedisClient } from '../redis/cluster.ts';
import { LIMIT_OFF, limitArgs, limitSettings } from '../redis/gcra.ts';
import { decodeReply, type ReplyOf } from '../redis/replies.ts';
import { runScript } from '../redis/scripts.ts';

export { intervalMicros, limitArgs, limitSettings } from '../redis/gcra.ts';

/** One limiter to check: its key (rt.keys.rateLimit) and the limit that applies to it. */
export type RateLimitCheck = { key: string; limit: RateLimit };

/** OK (counted by both limits), or RATE_LIMITED (counted by neither). */
export type RateLimitReply = ReplyOf<'rateLimit'>;

/** What the script answers a call it counted, for a call with no limit to count. */
const ALLOWED: RateLimitReply = { code: 'OK' };

/**
 * Checks and counts one call against a caller's user limit and address limit in ONE script
 * call: both keys carry the procedure's hash tag. A call refused by either is counted by
 * neither. Limits with `perSecond: 0` are off; with both off Redis is not asked. Throws what
 * Redis throws.
 */
export async function consumeRateLimits(
  redis: RedisClient,
  checks: { user: RateLimitCheck; ip: RateLimitCheck },
  nowMs: number,
): Promise<RateLimitReply> {
  const user = limitSettings(checks.user.limit);
  const ip = limitSettings(checks.ip.limit);
  if (user === LIMIT_OFF && ip === LIMIT_OFF) return ALLOWED;
  const raw = await runScript(
    redis,
    'rateLimit',
    [checks.user.key, checks.ip.key],
    [nowMs, ...limitArgs(user), ...limitArgs(ip)],
  );
  return decodeReply('rateLimit', raw);
}
