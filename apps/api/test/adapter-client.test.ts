import { signToken } from '@flash/core';
import {
  createTRPCClient,
  httpBatchLink,
  httpBatchStreamLink,
  httpLink,
  type TRPCClient,
  TRPCClientError,
  type TRPCLink,
} from '@trpc/client';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';
import { type AdapterKind, type FixtureRouter, serveFixture } from './adapter-fixture.ts';

// The official tRPC client, over real sockets, against both adapters: every link must get the
// same values and the same errors from the lean adapter as from tRPC's own.

type Link = 'httpLink' | 'httpBatchLink' | 'httpBatchStreamLink';
const LINKS: Link[] = ['httpLink', 'httpBatchLink', 'httpBatchStreamLink'];

function makeLink(kind: Link, url: string, token?: string): TRPCLink<FixtureRouter> {
  const options = { url, headers: () => (token ? { authorization: `Bearer ${token}` } : {}) };
  if (kind === 'httpLink') return httpLink(options);
  if (kind === 'httpBatchLink') return httpBatchLink(options);
  return httpBatchStreamLink(options);
}

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}/trpc`;
}

/** What a caller can see of a failure. */
function seen(err: unknown) {
  expect(err).toBeInstanceOf(TRPCClientError);
  const e = err as TRPCClientError<FixtureRouter>;
  return { message: e.message, shape: e.shape, data: e.data };
}

describe('official tRPC client against the lean adapter', () => {
  let s: TestRuntime;
  const urls = {} as Record<AdapterKind, string>;
  const apps: FastifyInstance[] = [];
  let userToken: string;
  beforeAll(async () => {
    s = await createTestRuntime({ overrides: { NODE_ENV: 'production', AUTH_JWT_SECRET: 'v'.repeat(40) } });
    for (const kind of ['official', 'lean'] as const) {
      const { app } = await serveFixture(kind, s.rt);
      apps.push(app);
      urls[kind] = await listen(app);
    }
    userToken = await signToken(s.config.jwtSecret, 42);
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await s.cleanup();
  });

  const client = (adapter: AdapterKind, link: Link, token?: string): TRPCClient<FixtureRouter> =>
    createTRPCClient<FixtureRouter>({ links: [makeLink(link, urls[adapter], token)] });

  describe.each(LINKS)('%s', (link) => {
    it('runs queries and mutations', async () => {
      const c = client('lean', link, userToken);
      expect(await c.echo.query()).toEqual({ n: null });
      expect(await c.echo.query({ n: 7 })).toEqual({ n: 7 });
      expect(await c.hello.query()).toBe('hello');
      expect(await c.nothing.query()).toBeUndefined();
      expect(await c.nested.deep.path.query()).toBe('deep');
      expect(await c.add.mutate({ a: 2, b: 3 })).toEqual({ sum: 5 });
      expect(await c.touch.mutate()).toEqual({ touched: true });
      expect(await c.me.query()).toEqual({ userId: 42, isAdmin: false });
    });

    it('batches parallel calls and keeps each answer with its call', async () => {
      const c = client('lean', link, userToken);
      const inputs = Array.from({ length: 25 }, (_, i) => i);
      const results = await Promise.all(inputs.map((n) => c.echo.query({ n })));
      expect(results).toEqual(inputs.map((n) => ({ n })));
      const sums = await Promise.all(inputs.map((n) => c.add.mutate({ a: n, b: 1 })));
      expect(sums).toEqual(inputs.map((n) => ({ sum: n + 1 })));
    });

    it('gives the same errors as the official adapter, alone and inside a batch', async () => {
      const calls: ((c: TRPCClient<FixtureRouter>) => Promise<unknown>)[] = [
        (c) => c.echo.query({ n: -1 }),
        (c) => c.add.mutate({ a: 1, b: 'x' as never }),
        (c) => c.soldOut.mutate({ couponId: 3 }),
        (c) => c.outOfStock.query(),
        (c) => c.bug.query(),
        (c) => c.adminOnly.mutate(),
        (c) => (c as any).missing.query(),
      ];
      for (const token of [userToken, undefined]) {
        const official = client('official', link, token);
        const lean = client('lean', link, token);
        const expected = await Promise.all(calls.map((f) => f(official).then(() => 'ok', seen)));
        const actual = await Promise.all(calls.map((f) => f(lean).then(() => 'ok', seen)));
        expect(actual).toEqual(expected);
        // And one at a time, so no batch mixes a failure with anything else.
        for (const f of calls) {
          expect(await f(lean).then(() => 'ok', seen)).toEqual(await f(official).then(() => 'ok', seen));
        }
      }
    });

    it('answers with the contract: appCode and HTTP status on error.data', async () => {
      const c = client('lean', link);
      const err = seen(await c.soldOut.mutate({ couponId: 3 }).catch((e: unknown) => e));
      expect(err.message).toBe('Coupon 3 is sold out');
      expect(err.data).toMatchObject({ code: 'CONFLICT', httpStatus: 409, appCode: 'COUPON_SOLD_OUT' });
      const unauthorized = seen(await c.me.query().catch((e: unknown) => e));
      expect(unauthorized.data).toMatchObject({
        code: 'UNAUTHORIZED',
        httpStatus: 401,
        appCode: 'UNAUTHORIZED',
      });
      expect(unauthorized.data && 'stack' in unauthorized.data).toBe(false);
    });
  });
});
