// A router that exercises every branch of the HTTP adapters, built from the app's own
// procedure builders (real error mapping, formatter and auth), and a helper that serves it
// through either tRPC's official Fastify plugin or our lean one.
import { AppError, createTokenVerifier, createWaitingRoomDirectory, type Runtime } from '@flash/core';
import type { AnyTRPCRouter } from '@trpc/server';
import { fastifyTRPCPlugin } from '@trpc/server/adapters/fastify';
import Fastify, { type FastifyInstance, type InjectOptions } from 'fastify';
import { z } from 'zod';
import { contextFactory } from '../src/trpc/context.ts';
import { collectDirectCalls, fastMutation } from '../src/trpc/fast-path.ts';
import { type LeanTRPCPluginOptions, leanTRPCPlugin } from '../src/trpc/fastify-adapter.ts';
import { Limits } from '../src/trpc/guards.ts';
import { adminProcedure, protectedProcedure, publicProcedure, router } from '../src/trpc/init.ts';

/** When waitForAbort calls saw their signal abort. */
export const aborted: number[] = [];

export const fixtureRouter = router({
  echo: publicProcedure
    .input(z.strictObject({ n: z.number().int().min(0) }).optional())
    .query(({ input }) => ({ n: input?.n ?? null })),
  hello: publicProcedure.query(() => 'hello'),
  nothing: publicProcedure.query(() => undefined),
  add: publicProcedure
    .input(z.strictObject({ a: z.number(), b: z.number() }))
    .mutation(({ input }) => ({ sum: input.a + input.b })),
  touch: publicProcedure.mutation(() => ({ touched: true })),
  me: protectedProcedure.query(({ ctx }) => ctx.user),
  adminOnly: adminProcedure.mutation(() => ({ ok: true })),
  soldOut: publicProcedure.input(z.strictObject({ couponId: z.number() })).mutation(({ input }) => {
    throw new AppError('COUPON_SOLD_OUT', `Coupon ${input.couponId} is sold out`, {
      couponId: input.couponId,
    });
  }),
  outOfStock: publicProcedure.query(() => {
    throw new AppError('OUT_OF_STOCK', 'Product 9 is out of stock', { productId: 9 });
  }),
  bug: publicProcedure.query(() => {
    throw new Error('secret internals');
  }),
  bigint: publicProcedure.query(() => ({ n: 1n })),
  streamy: publicProcedure.query(() => ({ later: Promise.resolve(1) })),
  nested: router({ deep: router({ path: publicProcedure.query(() => 'deep') }) }),
  /** Answers when its signal aborts (the client left), and records that it did. */
  waitForAbort: publicProcedure.query(
    ({ signal }) =>
      new Promise((resolve) => {
        signal?.addEventListener('abort', () => {
          aborted.push(Date.now());
          resolve('aborted');
        });
      }),
  ),
  fastAdd: fastMutation({
    input: z.strictObject({ a: z.number(), b: z.number() }),
    limits: Limits.IN_SCRIPT,
    resolve: async ({ ctx, input }) => ({ sum: input.a + input.b, user: ctx.user.userId }),
  }),
  fastLimitedAdd: fastMutation({
    input: z.strictObject({ a: z.number(), b: z.number() }),
    limits: Limits.BEFORE_INPUT,
    resolve: async ({ input }) => ({ sum: input.a + input.b }),
  }),
  fastSoldOut: fastMutation({
    input: z.unknown(),
    limits: Limits.IN_SCRIPT,
    resolve: async () => {
      throw new AppError('COUPON_SOLD_OUT', 'Coupon 3 is sold out', { couponId: 3 });
    },
  }),
  fastBug: fastMutation({
    input: z.unknown(),
    limits: Limits.IN_SCRIPT,
    resolve: async () => {
      throw new Error('secret internals');
    },
  }),
  fastStreamy: fastMutation({
    input: z.unknown(),
    limits: Limits.IN_SCRIPT,
    resolve: async () => ({ later: Promise.resolve(1) }),
  }),
  fastNothing: fastMutation({ input: z.unknown(), limits: Limits.IN_SCRIPT, resolve: async () => undefined }),
  fastStripped: fastMutation({
    input: z.unknown(),
    limits: Limits.IN_SCRIPT,
    output: z.object({ shown: z.number() }),
    resolve: async () => ({ shown: 1, hidden: 2 }) as { shown: number },
  }),
  fastBadOutput: fastMutation({
    input: z.unknown(),
    limits: Limits.IN_SCRIPT,
    output: z.object({ shown: z.number() }),
    resolve: async () => ({ shown: 'one' }) as unknown as { shown: number },
  }),
});
export type FixtureRouter = typeof fixtureRouter;

export type AdapterKind = 'official' | 'lean';
export type ErrorEvent = { path: string | undefined; type: string; code: string };

/** Serves `router` at /trpc through one adapter; `events` records what onError saw. */
export async function serveFixture(
  kind: AdapterKind,
  rt: Runtime,
  options: { router?: AnyTRPCRouter; allowBatching?: boolean; maxBatchSize?: number } = {},
): Promise<{ app: FastifyInstance; events: ErrorEvent[] }> {
  const events: ErrorEvent[] = [];
  const app = Fastify({ logger: false, routerOptions: { maxParamLength: 2000 }, bodyLimit: 256 * 1024 });
  const trpcOptions: LeanTRPCPluginOptions<AnyTRPCRouter>['trpcOptions'] = {
    router: options.router ?? fixtureRouter,
    createContext: contextFactory(
      rt,
      createTokenVerifier(rt.config.jwtSecret),
      createWaitingRoomDirectory(rt.db),
    ),
    allowBatching: options.allowBatching,
    maxBatchSize: options.maxBatchSize,
    onError({ error, path, type }) {
      events.push({ path, type, code: error.code });
    },
  };
  if (kind === 'lean') {
    const directMutations = collectDirectCalls(trpcOptions.router._def.procedures);
    await app.register(leanTRPCPlugin, { prefix: '/trpc', trpcOptions, directMutations });
  } else {
    await app.register(fastifyTRPCPlugin, { prefix: '/trpc', trpcOptions });
  }
  await app.ready();
  return { app, events };
}

export type Answer = { status: number; headers: Record<string, unknown>; body: string; events: ErrorEvent[] };

/** What a client can observe; framing headers (length vs chunked, date, keep-alive) aside. */
export async function ask(
  app: FastifyInstance,
  events: ErrorEvent[],
  options: InjectOptions,
  headerNames: string[] = ['content-type', 'vary', 'allow'],
): Promise<Answer> {
  events.length = 0;
  const res = await app.inject(options);
  const headers: Record<string, unknown> = {};
  for (const name of headerNames) headers[name] = res.headers[name];
  // Batched calls run in parallel, so the order of their onError reports is a scheduling detail.
  const reported = [...events].sort((a, b) => `${a.path}${a.code}`.localeCompare(`${b.path}${b.code}`));
  return { status: res.statusCode, headers, body: withoutStacks(res.body), events: reported };
}

// Stack traces name the adapter's own frames; everything else must match.
function withoutStacks(body: string): string {
  return body.replace(/"stack":"(?:[^"\\]|\\.)*"/g, '"stack":"…"');
}
