import type { RateLimit } from '../config.ts';
import type { RedisClient } from '../redis/cluster.ts';
import { decodeReply, type ReplyOf } from '../redis/replies.ts';
import { runScript } from '../redis/scripts.ts';

/** One limiter to check: its key (rt.keys.rateLimit) and the limit that applies to it. */
export type RateLimitCheck = { key: string; limit: RateLimit };

/** OK (counted by both limits), or RATE_LIMITED (counted by neither). */
export type RateLimitReply = ReplyOf<'rateLimit'>;

/** Microseconds between requests at the sustained rate; whole numbers keep the TAT exact. */
export function intervalMicros(perSecond: number): number {
  return Math.max(1, Math.round(1_000_000 / perSecond));
}

/**
 * A limit as the scripts take it (lib/gcra.lua): interval and burst, or 'off' (the scripts
 * refuse 0 and garbage, so a bug never switches a limit off silently).
 */
export function limitArgs(limit: { intervalMicros: number; burst: number }): (string | number)[] {
  return limit.intervalMicros > 0 ? [limit.intervalMicros, limit.burst] : ['off', 0];
}

/** A configured limit as GCRA settings; `perSecond: 0` (off) gives `intervalMicros: 0`. */
export function limitSettings(limit: RateLimit): { intervalMicros: number; burst: number } {
  return limit.perSecond > 0 ? { intervalMicros: intervalMicros(limit.perSecond), burst: limit.burst } : OFF;
}
const OFF = { intervalMicros: 0, burst: 0 };
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
  if (user === OFF && ip === OFF) return ALLOWED;
  const raw = await runScript(
    redis,
    'rateLimit',
    [checks.user.key, checks.ip.key],
    [nowMs, ...limitArgs(user), ...limitArgs(ip)],
  );
  return decodeReply('rateLimit', raw);
}
