import { APP_ERROR_TRPC_CODE, AppError, toAppError } from '@flash/core';
import { getTRPCErrorFromUnknown, initTRPC, TRPCError } from '@trpc/server';
import { ZodError } from 'zod';
import { type AppErrorData, appCodeOf } from './app-code.ts';
import type { Context } from './context.ts';
import { authenticate, countCall } from './guards.ts';
import { measureProcedure } from './metrics.ts';

const t = initTRPC.context<Context>().create({
  // No answer carries a stack, in any mode: a stack names the server's files and is of no use to
  // a client. An internal error's stack goes to the log (server.ts's onError), with the request id.
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    const appCode = appCodeOf(error);
    const details = cause instanceof AppError ? cause.details : undefined;
    const { stack: _stack, ...data } = shape.data;
    return {
      ...shape,
      // A readable one-liner instead of zod's JSON dump: "limit: Too small: expected number to be >=1".
      message:
        cause instanceof ZodError
          ? cause.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ')
          : shape.message,
      // The cast pairs appCode with its details: both come from one AppError (whose constructor
      // types them together), or the appCode stands for a tRPC code and carries none.
      data: {
        ...data,
        ...details,
        ...(appCode ? { appCode } : {}),
      } as AppErrorData,
    };
  },
});

/**
 * Turns domain errors (and store outages) into tRPC errors with the contract's HTTP status.
 * Anything else is a bug: it becomes INTERNAL_SERVER_ERROR with a generic message, and the
 * original is logged with the request id by the adapter's onError. Returning a failed result
 * is what throwing from a middleware amounts to: tRPC turns the throw into the same result.
 */
export function mapErrors<R extends { ok: boolean; error?: TRPCError }>(result: R): R {
  if (result.ok || !result.error) return result;
  const original = result.error.cause ?? result.error;
  const appError = toAppError(original);
  if (appError) return { ...result, error: fromAppError(appError) };
  if (result.error.code === 'INTERNAL_SERVER_ERROR') {
    const error = new TRPCError({
      code: 'INTERNAL_SERVER_ERROR',
      message: 'Internal server error',
      cause: original,
    });
    return { ...result, error };
  }
  return result;
}

function fromAppError(appError: AppError): TRPCError {
  return new TRPCError({
    code: APP_ERROR_TRPC_CODE[appError.code],
    message: appError.message,
    cause: appError,
  });
}

/**
 * What an error thrown by a procedure becomes after tRPC's own wrapping
 * (`getTRPCErrorFromUnknown`) and `mapErrors`, for callers that run a procedure's steps
 * themselves (trpc/fast-path.ts). A domain refusal (COUPON_SOLD_OUT and the like) maps straight
 * to its TRPCError: tRPC's wrapper would copy (and so format) its stack, and mapErrors would
 * discard the wrapper anyway.
 */
export function toTRPCError(thrown: unknown): TRPCError {
  if (thrown instanceof AppError) return fromAppError(thrown);
  return mapErrors({ ok: false, error: getTRPCErrorFromUnknown(thrown) }).error;
}

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

// Metrics and error mapping in one middleware (the metrics see the mapped outcome): each level
// of tRPC's middleware chain copies the call's options twice, measurable on the hot paths.
export const publicProcedure = t.procedure.use(({ ctx, path, next }) =>
  measureProcedure(ctx.rt, path, async () => mapErrors(await next())),
);

/** Requires a valid bearer token; narrows `ctx.user`. */
export const protectedProcedure = publicProcedure.use(({ ctx, next }) =>
  next({ ctx: { user: authenticate(ctx) } }),
);

/**
 * `protectedProcedure` whose calls count against the caller's limits before the input is read
 * (`Limits.BEFORE_INPUT`, guards.ts), keyed by the procedure path: each limited procedure has its
 * own allowance. The token check and the count share one middleware level rather than extending
 * protectedProcedure: each level of the chain is a copy of the call's options more.
 */
export const rateLimitedProcedure = publicProcedure.use(async ({ ctx, path, next }) => {
  const user = authenticate(ctx);
  await countCall(ctx, path, user);
  return next({ ctx: { user } });
});

/** Requires `role: "admin"` in the token. */
export const adminProcedure = protectedProcedure.use(({ ctx, next }) => {
  if (!ctx.user.isAdmin) throw new AppError('FORBIDDEN', 'Admin role required');
  return next();
});
