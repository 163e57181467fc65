import { AppError, createWaitingRoomDirectory } from '@flash/core';
import { fastifyTRPCPlugin } from '@trpc/server/adapters/fastify';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createTestServer, type TestServer } from '../../../test/support.ts';
import { contextFactory } from '../src/trpc/context.ts';
import { publicProcedure, router } from '../src/trpc/init.ts';

// Procedures that fail in known ways, built from the app's own procedure builders, so the
// real error mapping and formatter are what is tested.
const failingRouter = router({
  bug: publicProcedure.query(() => {
    throw new Error('secret internals: password=hunter2');
  }),
  domain: publicProcedure.query(() => {
    throw new AppError('OUT_OF_STOCK', 'Product 9 is out of stock', { productId: 9 });
  }),
  redisDown: publicProcedure.query(() => {
    throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
  }),
});

describe.each(['production', 'development'] as const)('error responses with NODE_ENV=%s', (nodeEnv) => {
  let s: TestServer;
  let app: ReturnType<typeof Fastify>;
  beforeAll(async () => {
    s = await createTestServer({ overrides: { NODE_ENV: nodeEnv, AUTH_JWT_SECRET: 'y'.repeat(40) } });
    app = Fastify({ logger: false });
    await app.register(fastifyTRPCPlugin, {
      prefix: '/trpc',
      trpcOptions: {
        router: failingRouter,
        createContext: contextFactory(
          s.rt,
          { verify: () => ({ userId: 1, isAdmin: false }) },
          createWaitingRoomDirectory(s.rt.db),
        ),
      },
    });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await s.cleanup();
  });

  // No answer carries a stack in any mode (the log has it).
  const hasStack = false;

  it('turns an unknown error into a generic 500', async () => {
    const res = await call(app, 'query', 'bug');
    expect(res.status).toBe(500);
    expect(res.body.error.message).toBe('Internal server error');
    expect(JSON.stringify(res.body)).not.toContain('hunter2');
    expect('stack' in res.body.error.data).toBe(hasStack);
  });

  it('maps a domain error to its HTTP status, appCode and details', async () => {
    const res = await call(app, 'query', 'domain');
    expect(res.status).toBe(409);
    expect(res.body.error.data).toMatchObject({ code: 'CONFLICT', appCode: 'OUT_OF_STOCK', productId: 9 });
    expect('stack' in res.body.error.data).toBe(hasStack);
  });

  it('maps a store outage to UNAVAILABLE (503)', async () => {
    const res = await call(app, 'query', 'redisDown');
    expect(res.status).toBe(503);
    expect(res.body.error.data).toMatchObject({ code: 'SERVICE_UNAVAILABLE', appCode: 'UNAVAILABLE' });
  });

  it('answers bad input with INVALID_INPUT and a readable message', async () => {
    const res = await call(s.app, 'query', 'product.list', { limit: 0 });
    expect(res.status).toBe(400);
    expect(res.body.error.data).toMatchObject({ code: 'BAD_REQUEST', appCode: 'INVALID_INPUT' });
    expect(res.body.error.message).toBe('limit: Too small: expected number to be >=1');
    expect('stack' in res.body.error.data).toBe(hasStack);
  });

  it('refuses unknown input keys', async () => {
    const res = await call(s.app, 'query', 'product.list', { limit: 5, admin: true });
    expect(res.status).toBe(400);
    expect(res.body.error.data.appCode).toBe('INVALID_INPUT');
  });

  it('answers an unauthenticated call without a stack', async () => {
    const res = await call(s.app, 'query', 'balance.get');
    expect(res.status).toBe(401);
    expect('stack' in res.body.error.data).toBe(hasStack);
  });
});
