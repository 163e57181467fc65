import type { Redis } from 'ioredis';
import type { RateLimit } from '../config.ts';
import { registerScripts } from '../redis/scripts.ts';

/** Mirrors the first return value of scripts/lua/rateLimit-1.lua. */
export const RateLimitResult = { ALLOWED: 1, LIMITED: 2 } as const;

/** One limiter to check: its key (rt.keys.rateLimit) and the limit that applies to it. */
export type RateLimitCheck = { key: string; limit: RateLimit };

export type RateLimitOutcome = { allowed: true } | { allowed: false; retryAfterMs: number };

type RateLimitCommand = (key: string, nowMs: number, intervalUs: number, burst: number) => unknown;

/** Microseconds between requests at the sustained rate; whole numbers keep the TAT exact. */
export function intervalMicros(perSecond: number): number {
  return Math.max(1, Math.round(1_000_000 / perSecond));
}

/**
 * Checks and counts one request against several limiters in ONE round trip: one rateLimit
 * script call per limiter, pipelined. Each limiter decides on its own (their keys live in
 * different cluster slots, so no single script may touch them all): a request refused by one
 * limiter may still have been counted by another, which errs on the side of limiting.
 * Limits with `perSecond: 0` are off and not sent. Throws what Redis throws.
 */
export async function consumeRateLimits(
  redis: Redis,
  checks: RateLimitCheck[],
  nowMs: number,
): Promise<RateLimitOutcome[]> {
  const active = checks.filter((c) => c.limit.perSecond > 0);
  if (active.length === 0) return checks.map(() => ({ allowed: true }));
  // A pipeline copies the connection's scripts when it is created: register them first.
  registerScripts(redis);
  const pipeline = redis.pipeline();
  const rateLimit = (pipeline as unknown as { rateLimit: RateLimitCommand }).rateLimit.bind(pipeline);
  for (const check of active) {
    rateLimit(check.key, nowMs, intervalMicros(check.limit.perSecond), check.limit.burst);
  }
  const replies = (await pipeline.exec()) ?? [];
  if (replies.length !== active.length) throw new Error('rateLimit: pipeline answered a different count');
  const byCheck = new Map<RateLimitCheck, RateLimitOutcome>();
  active.forEach((check, i) => {
    const [err, raw] = replies[i]!;
    if (err) throw err;
    byCheck.set(check, toOutcome(raw));
  });
  return checks.map((c) => byCheck.get(c) ?? { allowed: true });
}

function toOutcome(raw: unknown): RateLimitOutcome {
  if (Array.isArray(raw) && raw.length === 2 && typeof raw[1] === 'number') {
    if (raw[0] === RateLimitResult.ALLOWED) return { allowed: true };
    if (raw[0] === RateLimitResult.LIMITED) return { allowed: false, retryAfterMs: raw[1] };
  }
  throw new Error(`rateLimit returned an unknown result: ${JSON.stringify(raw)}`);
}
