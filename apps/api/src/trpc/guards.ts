/**
 * The guards of an authenticated call, written once: the bearer token, the caller's rate limits
 * (per user and per address, packages/core/src/rate-limit), what an input refusal means for
 * them, and the waiting-room pass of a guarded call. tRPC's middleware chain (init.ts) and the lean binding's direct calls (fast-path.ts) both
 * run these functions, so the two paths cannot drift apart.
 */
import {
  AppError,
  type AuthUser,
  enforceRateLimit,
  type GuardedItems,
  notAdmitted,
  passRefusal,
} from '@flash/core';
import type { TRPCError } from '@trpc/server';
import type { Context } from './context.ts';
import { countRefusal } from './waiting-room-metrics.ts';

/** Where a procedure's calls are counted against the caller's rate limits (RATE_LIMITED, 429). */
export const Limits = {
  /**
   * Every call is counted by the API before its input is read, so a flood of malformed calls is
   * throttled too. Each call of a `?batch=1` request counts like a request of its own.
   */
  BEFORE_INPUT: 'before-input',
  /**
   * The procedure's own Redis script counts the call in the step that decides it (no second round
   * trip); a call refused for its input never reaches the script, so the API counts it instead
   * (order.create's hold).
   */
  IN_SCRIPT_AND_ON_REFUSED_INPUT: 'in-script-and-on-refused-input',
  /** The procedure's own Redis script counts every call it is asked (coupon.issue, per coupon). */
  IN_SCRIPT: 'in-script',
} as const;
export type Limits = (typeof Limits)[keyof typeof Limits];

/** The caller the bearer token names; UNAUTHORIZED when it is missing, malformed or expired. */
export function authenticate(ctx: Context): AuthUser {
  return ctx.tokens.verify(ctx.authorization);
}

/**
 * Counts one call of `path` against the caller's limits; RATE_LIMITED when it is over them
 * (`unchecked` while Redis is down: the limiter fails open, see enforceRateLimit).
 */
export function countCall(ctx: Context, path: string, user: AuthUser): Promise<'allowed' | 'unchecked'> {
  return enforceRateLimit(ctx.rt, { procedure: path, userId: user.userId, ip: ctx.ip });
}

/** A call refused by the input validator (a schema miss or a body that is not JSON). */
export function isInputRefusal(error: TRPCError): boolean {
  return error.code === 'BAD_REQUEST' && !(error.cause instanceof AppError);
}

/**
 * The waiting-room guard of `coupon.issue` and `order.create` (both paths run it in the
 * procedure's resolver, before any Redis work): a call touching a room's coupon or product
 * needs that room's pass for this user in `X-Waiting-Room-Pass`, else NOT_ADMITTED with the
 * room. Checked in memory (packages/core/src/waiting-room/waiting-room.guard.ts); an unguarded
 * call costs a map lookup per item. Only until the directory's first load (a process that
 * started while Postgres was down) does a call wait for it.
 */
export function requirePass(ctx: Context, userId: number, items: GuardedItems): void | Promise<void> {
  if (!ctx.rooms.loaded) return ctx.rooms.refresh().then(() => requirePass(ctx, userId, items));
  const refusal = passRefusal(
    ctx.rooms,
    ctx.rt.config.waitingRoomPassSecret,
    { pass: ctx.waitingRoomPass, userId, nowMs: ctx.rt.clock.now().getTime() },
    items,
  );
  if (refusal) {
    countRefusal(ctx.rt, refusal.reason);
    throw notAdmitted(refusal);
  }
}
