/**
 * Fast mutations: the flash-crowd procedures (`coupon.issue`, `order.create`, `payment.pay`)
 * served without tRPC's generic middleware chain when they arrive as single calls.
 *
 * tRPC runs every procedure through a chain of middlewares (error formatter, metrics and error
 * mapping, authentication, rate limit, input validator, resolver), and each level copies the
 * call's options and context into new objects. At 100 connections that chain cost more API
 * CPU than the Redis script the call exists for (`pnpm bench --profile`). A procedure defined
 * with `fastMutation` is still an ordinary tRPC procedure (batches, the official adapter and
 * server-side callers use it as before); the lean binding additionally runs a single
 * `POST /trpc/<path>` of it through `directCall` below: the same steps, in the same order, as
 * plain function calls. `apps/api/test/fast-path.test.ts` sends the same requests through both
 * and compares status, headers and body byte for byte.
 */

import { AppError } from '@flash/core';
import { enforceRateLimit } from '@flash/core/rate-limit/rate-limit.service';
import { TRPCError } from '@trpc/server';
import type { z } from 'zod';
import type { Context } from './context.ts';
import type { DirectCall } from './fastify-adapter.ts';
import { protectedProcedure, toTRPCError } from './init.ts';
import { recordProcedure } from './metrics.ts';
import { rateLimitedProcedure } from './rate-limit.ts';

type AuthedContext = Context & { user: ReturnType<Context['tokens']['verify']> };

export type FastMutationSpec<TInput extends z.ZodType, TOutput> = {
  input: TInput;
  /**
   * `true`: check the caller against the per-procedure rate limits (rateLimitedProcedure) before
   * the input is read. `'refused-input'`: the procedure counts its calls itself (in the Redis
   * script it runs anyway), so only a call whose input is refused is counted here, before it is
   * answered: a flood of malformed calls is throttled as with `true`. `false`: not limited here
   * at all (coupon.issue, whose script limits per coupon).
   */
  rateLimited: boolean | 'refused-input';
  /** Validates (and strips) what `resolve` returns, as `.output()` does. */
  output?: z.ZodType<TOutput>;
  resolve: (opts: { ctx: AuthedContext; input: z.output<TInput> }) => Promise<TOutput>;
};

/** A call refused by the input validator (a schema miss or a body that is not JSON). */
function isInputRefusal(error: TRPCError): boolean {
  return error.code === 'BAD_REQUEST' && !(error.cause instanceof AppError);
}

/** `'refused-input'` in tRPC's chain: the input validator runs inside `next()`. */
const refusedInputLimitedProcedure = protectedProcedure.use(async ({ ctx, path, next }) => {
  const result = await next();
  if (!result.ok && isInputRefusal(result.error)) {
    await enforceRateLimit(ctx.rt, { procedure: path, userId: ctx.user.userId, ip: ctx.ip });
  }
  return result;
});

const directCalls = new WeakMap<object, DirectCall<Context>>();

/**
 * A mutation for authenticated callers that the lean binding may also run directly. Its tRPC
 * form is `(rateLimited ? rateLimitedProcedure : protectedProcedure).input(spec.input)
 * .mutation(spec.resolve)`; its direct form below must stay step for step the same.
 */
export function fastMutation<TInput extends z.ZodType, TOutput>(spec: FastMutationSpec<TInput, TOutput>) {
  const base = (
    spec.rateLimited === 'refused-input'
      ? refusedInputLimitedProcedure
      : spec.rateLimited
        ? rateLimitedProcedure
        : protectedProcedure
  ).input(spec.input);
  const resolver = ({ ctx, input }: { ctx: unknown; input: unknown }) =>
    spec.resolve({ ctx: ctx as AuthedContext, input: input as z.output<TInput> });
  // Typed as the builder without .output(): the output type is TOutput either way.
  const procedure = (spec.output ? (base.output(spec.output) as unknown as typeof base) : base).mutation(
    resolver,
  ) as ReturnType<typeof base.mutation<TOutput>>;
  directCalls.set(procedure, directCall(spec));
  return procedure;
}

/**
 * The direct form: publicProcedure's metrics and error mapping around the token check, the rate
 * limit, the input validator and the resolver, failing exactly where and as tRPC's chain fails.
 */
function directCall<TInput extends z.ZodType, TOutput>(
  spec: FastMutationSpec<TInput, TOutput>,
): DirectCall<Context> {
  // One async function for the whole call: each nested async level is a promise and a
  // microtask more on the flash-crowd path.
  return async ({ ctx, path, getRawInput }) => {
    const started = performance.now();
    let result: { ok: true; data: unknown } | { ok: false; error: TRPCError };
    try {
      const user = ctx.tokens.verify(ctx.authorization);
      if (spec.rateLimited === true) {
        await enforceRateLimit(ctx.rt, { procedure: path, userId: user.userId, ip: ctx.ip });
      }
      // tRPC's input validator: a malformed body throws its own BAD_REQUEST, a schema miss
      // becomes BAD_REQUEST caused by the ZodError (the error formatter words it).
      let input: z.output<TInput>;
      try {
        const parsed = spec.input.safeParse(getRawInput());
        if (!parsed.success) throw new TRPCError({ code: 'BAD_REQUEST', cause: parsed.error });
        input = parsed.data as z.output<TInput>;
      } catch (refused) {
        if (spec.rateLimited === 'refused-input') {
          await enforceRateLimit(ctx.rt, { procedure: path, userId: user.userId, ip: ctx.ip });
        }
        throw refused;
      }
      let data: unknown = await spec.resolve({ ctx: { ...ctx, user }, input });
      if (spec.output) {
        // tRPC's output validator: a miss is a bug of ours, INTERNAL_SERVER_ERROR.
        const checked = spec.output.safeParse(data);
        if (!checked.success) {
          throw new TRPCError({
            message: 'Output validation failed',
            code: 'INTERNAL_SERVER_ERROR',
            cause: checked.error,
          });
        }
        data = checked.data;
      }
      result = { ok: true, data };
    } catch (cause) {
      result = { ok: false, error: toTRPCError(cause) };
    }
    // As publicProcedure: the metrics see the mapped outcome.
    recordProcedure(ctx.rt, path, result, started);
    return result;
  };
}

/** The direct calls of a router's fast mutations, by path (for the lean binding's options). */
export function collectDirectCalls(procedures: Record<string, unknown>): Record<string, DirectCall<Context>> {
  const calls: Record<string, DirectCall<Context>> = Object.create(null);
  for (const [path, procedure] of Object.entries(procedures)) {
    const call = typeof procedure === 'function' ? directCalls.get(procedure) : undefined;
    if (call) calls[path] = call;
  }
  return calls;
}
