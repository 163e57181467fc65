import type { Redis } from 'ioredis';
import type { RateLimit } from '../config.ts';
import { runScript } from '../redis/scripts.ts';

/** Mirrors the first return value of scripts/lua/rateLimit-1.lua. */
export const RateLimitResult = { ALLOWED: 1, LIMITED: 2 } as const;

/** One limiter to check: its key (rt.keys.rateLimit) and the limit that applies to it. */
export type RateLimitCheck = { key: string; limit: RateLimit };

export type RateLimitOutcome = { allowed: true } | { allowed: false; retryAfterMs: number };

/** Microseconds between requests at the sustained rate; whole numbers keep the TAT exact. */
export function intervalMicros(perSecond: number): number {
  return Math.max(1, Math.round(1_000_000 / perSecond));
}

/**
 * Checks and counts one request against several limiters in ONE round trip: one rateLimit
 * script call per limiter, all written to the connection before any reply is awaited. Each
 * limiter decides on its own (their keys live in different cluster slots, so no single script
 * may touch them all): a request refused by one limiter may still have been counted by
 * another, which errs on the side of limiting. Limits with `perSecond: 0` are off and not
 * sent. Throws what Redis throws.
 *
 * Plain calls rather than `redis.pipeline()`: an ioredis pipeline copies every script defined
 * on the connection (BullMQ's included) onto itself when it is created, which cost more than
 * the whole rest of coupon.issue (bench profile); the commands still leave in one write.
 */
export async function consumeRateLimits(
  redis: Redis,
  checks: RateLimitCheck[],
  nowMs: number,
): Promise<RateLimitOutcome[]> {
  return Promise.all(
    checks.map(async (check): Promise<RateLimitOutcome> => {
      if (check.limit.perSecond <= 0) return { allowed: true };
      const args = [nowMs, intervalMicros(check.limit.perSecond), check.limit.burst];
      return toOutcome(await runScript(redis, 'rateLimit', [check.key], args));
    }),
  );
}

function toOutcome(raw: unknown): RateLimitOutcome {
  if (Array.isArray(raw) && raw.length === 2 && typeof raw[1] === 'number') {
    if (raw[0] === RateLimitResult.ALLOWED) return { allowed: true };
    if (raw[0] === RateLimitResult.LIMITED) return { allowed: false, retryAfterMs: raw[1] };
  }
  throw new Error(`rateLimit returned an unknown result: ${JSON.stringify(raw)}`);
}
