import { enforceRateLimit } from '@flash/core/rate-limit/rate-limit.service';
import { publicProcedure } from './init.ts';

/**
 * `protectedProcedure` plus the per-user and per-address limits (RATE_LIMITED, 429) of
 * packages/core/src/rate-limit. The check runs once per procedure call, so every call inside a
 * `?batch=1` request is counted like a request of its own, and it runs before the input is
 * parsed, so a flood of malformed calls is throttled too. Keyed by the procedure path: each
 * limited procedure has its own allowance.
 *
 * The token check is repeated here rather than inherited from protectedProcedure: every level
 * of tRPC's middleware chain costs the hot paths (coupon.issue) measurably, so authentication
 * and the limit share one. Keep it in step with protectedProcedure.
 */
export const rateLimitedProcedure = publicProcedure.use(async ({ ctx, path, next }) => {
  const user = ctx.tokens.verify(ctx.authorization);
  await enforceRateLimit(ctx.rt, { procedure: path, userId: user.userId, ip: ctx.ip });
  return next({ ctx: { user } });
});
