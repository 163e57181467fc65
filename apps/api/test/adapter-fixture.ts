// A router that exercises every branch of the HTTP adapters, built from the app's own
// procedure builders (real error mapping, formatter and auth), and a helper that serves it
// through either tRPC's official Fastify plugin or our lean one.
import { AppError, createTokenVerifier, type Runtime } from '@flash/core';
import type { AnyTRPCRouter } from '@trpc/server';
import { fastifyTRPCPlugin } from '@trpc/server/adapters/fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { contextFactory } from '../src/trpc/context.ts';
import { type LeanTRPCPluginOptions, leanTRPCPlugin } from '../src/trpc/fastify-adapter.ts';
import { adminProcedure, protectedProcedure, publicProcedure, router } from '../src/trpc/init.ts';

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
    throw new AppError('COUPON_SOLD_OUT', `Coupon ${input.couponId} is sold out`);
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
    createContext: contextFactory(rt, createTokenVerifier(rt.config.jwtSecret)),
    allowBatching: options.allowBatching,
    maxBatchSize: options.maxBatchSize,
    onError({ error, path, type }) {
      events.push({ path, type, code: error.code });
    },
  };
  await app.register(kind === 'lean' ? leanTRPCPlugin : fastifyTRPCPlugin, { prefix: '/trpc', trpcOptions });
  await app.ready();
  return { app, events };
}
