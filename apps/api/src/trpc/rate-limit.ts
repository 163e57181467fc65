import { enforceRateLimit } from '@flash/core/rate-limit/rate-limit.service';
import { protectedProcedure } from './init.ts';

/**
 * `protectedProcedure` plus the per-user and per-address limits (RATE_LIMITED, 429) of
 * packages/core/src/rate-limit. The check runs once per procedure call, so every call inside a
 * `?batch=1` request is counted like a request of its own, and it runs before the input is
 * parsed, so a flood of malformed calls is throttled too. Keyed by the procedure path: each
 * limited procedure has its own allowance.
 */
export const rateLimitedProcedure = protectedProcedure.use(async ({ ctx, path, next }) => {
  await enforceRateLimit(ctx.rt, { procedure: path, userId: ctx.user.userId, ip: ctx.ip });
  return next();
});
