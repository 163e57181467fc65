/**
 * Fast mutations: the flash-crowd procedures (`coupon.issue`, `order.create`, `payment.pay`)
 * served without tRPC's generic middleware chain when they arrive as single calls.
 *
 * tRPC runs every procedure through a chain of middlewares (metrics and error mapping, the
 * guards, the input validator, the resolver), and each level copies the call's options and
 * context into new objects; on the flash-crowd paths that chain cost more API CPU than the Redis
 * script the call exists for (docs/adr/0005-fast-mutations.md has the measurements). A procedure
 * defined with `fastMutation` is still an ordinary tRPC procedure (batches, the official adapter
 * and server-side callers use it as before); the lean binding additionally runs a single
 * `POST /trpc/<path>` of it through `directCall` below: the same guards (guards.ts), in the same
 * order, as plain function calls. `apps/api/test/fast-path.test.ts` sends the same requests
 * through both and compares status, headers and body byte for byte.
 */

import { TRPCError } from '@trpc/server';
import type { z } from 'zod';
import type { Context } from './context.ts';
import type { DirectCall } from './fastify-adapter.ts';
import { authenticate, countCall, isInputRefusal, Limits } from './guards.ts';
import { protectedProcedure, rateLimitedProcedure, toTRPCError } from './init.ts';
import { recordProcedure } from './metrics.ts';

type AuthedContext = Context & { user: ReturnType<typeof authenticate> };

export type FastMutationSpec<TInput extends z.ZodType, TOutput> = {
  input: TInput;
  /** Where the calls are counted against the caller's rate limits (see Limits). */
  limits: Limits;
  /** Validates (and strips) what `resolve` returns, as `.output()` does. */
  output?: z.ZodType<TOutput>;
  resolve: (opts: { ctx: AuthedContext; input: z.output<TInput> }) => Promise<TOutput>;
};

/** `Limits.IN_SCRIPT_AND_ON_REFUSED_INPUT` in tRPC's chain: the input validator runs inside `next()`. */
const countsRefusedInputProcedure = protectedProcedure.use(async ({ ctx, path, next }) => {
  const result = await next();
  if (!result.ok && isInputRefusal(result.error)) await countCall(ctx, path, ctx.user);
  return result;
});

const PROCEDURE_FOR: Record<Limits, typeof protectedProcedure> = {
  [Limits.BEFORE_INPUT]: rateLimitedProcedure,
  [Limits.IN_SCRIPT_AND_ON_REFUSED_INPUT]: countsRefusedInputProcedure,
  [Limits.IN_SCRIPT]: protectedProcedure,
};

const directCalls = new WeakMap<object, DirectCall<Context>>();

/**
 * A mutation for authenticated callers that the lean binding may also run directly. Its tRPC
 * form is `PROCEDURE_FOR[spec.limits].input(spec.input).mutation(spec.resolve)`; its direct form
 * below runs the same guards in the same order.
 */
export function fastMutation<TInput extends z.ZodType, TOutput>(spec: FastMutationSpec<TInput, TOutput>) {
  const base = PROCEDURE_FOR[spec.limits].input(spec.input);
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
 * The direct form: publicProcedure's metrics and error mapping around the guards, the input
 * validator and the resolver, failing exactly where and as tRPC's chain fails.
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
      const user = authenticate(ctx);
      if (spec.limits === Limits.BEFORE_INPUT) await countCall(ctx, path, user);
      // tRPC's input validator: a malformed body throws its own BAD_REQUEST, a schema miss
      // becomes BAD_REQUEST caused by the ZodError (the error formatter words it).
      let input: z.output<TInput>;
      try {
        const parsed = spec.input.safeParse(getRawInput());
        if (!parsed.success) throw new TRPCError({ code: 'BAD_REQUEST', cause: parsed.error });
        input = parsed.data as z.output<TInput>;
      } catch (refused) {
        if (spec.limits === Limits.IN_SCRIPT_AND_ON_REFUSED_INPUT) await countCall(ctx, path, user);
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
