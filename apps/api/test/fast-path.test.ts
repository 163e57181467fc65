// The app's fast mutations answer exactly as the same procedures do through tRPC's own Fastify
// adapter: each case runs once through the official adapter, the Redis state of its coupon is
// put back as it was, and the case runs again through the API (lean binding, direct call). A
// manual clock keeps `issuedAt` and the rate limits identical between the two runs.
import { createTokenVerifier, createWaitingRoomDirectory, manualClock } from '@flash/core';
import { fastifyTRPCPlugin } from '@trpc/server/adapters/fastify';
import Fastify, { type FastifyInstance, type InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, createTestServer, scanKeys, type TestServer } from '../../../test/support.ts';
import { registerSecurity } from '../src/plugins/security.ts';
import { contextFactory } from '../src/trpc/context.ts';
import { collectDirectCalls } from '../src/trpc/fast-path.ts';
import { appRouter } from '../src/trpc/root.ts';
import { ask, type ErrorEvent } from './adapter-fixture.ts';

const clock = manualClock(new Date('2026-11-26T10:00:00Z'));
// Not retry-after: the official adapter streams its body, so the security plugin's onSend hook
// cannot read retryAfterMs from it; the API's answers carry it (checked below).
const HEADERS = ['content-type', 'vary', 'allow', 'content-security-policy'];
let s: TestServer;
let official: FastifyInstance;
// onError reports are compared by the wire fixture (adapter-wire.test.ts); here, the answers.
const officialEvents: ErrorEvent[] = [];
const leanEvents: ErrorEvent[] = [];
let admin: string;

beforeAll(async () => {
  s = await createTestServer({
    clock,
    overrides: {
      NODE_ENV: 'production',
      AUTH_JWT_SECRET: 'fast-path-test-secret-0123456789abcdef',
      // 3 at once, then one per 100 s: Redis expires limiter keys in real time, and a case must
      // not see its bucket refill between the two runs, however slow the machine.
      RATE_LIMIT_USER_PER_SEC: '0.01',
      RATE_LIMIT_USER_BURST: '3',
    },
  });
  official = Fastify({ logger: false, routerOptions: { maxParamLength: 2000 }, bodyLimit: 256 * 1024 });
  await registerSecurity(official, s.config);
  await official.register(fastifyTRPCPlugin, {
    prefix: '/trpc',
    trpcOptions: {
      router: appRouter,
      createContext: contextFactory(
        s.rt,
        createTokenVerifier(s.config.jwtSecret),
        createWaitingRoomDirectory(s.rt.db),
      ),
      maxBatchSize: 10,
    },
  });
  await official.ready();
  admin = await s.token(1, { admin: true });
});
afterAll(async () => {
  await official.close();
  await s.cleanup();
});

async function createCoupon(input: Record<string, unknown> = {}): Promise<number> {
  const res = await call(
    s.app,
    'mutation',
    'admin.coupon.create',
    { name: 'fast', discount: { type: 'FIXED', value: 100 }, totalQuantity: 10, ...input },
    admin,
  );
  expect(res.status).toBe(200);
  return res.body.result.data.couponId;
}

/** Every key of the coupon's slot (state, pending stream, limiters) as DUMPs, to put back later. */
async function saveCoupon(couponId: number): Promise<() => Promise<void>> {
  const redis = s.rt.redis;
  const pattern = `${s.rt.keys.prefix}{coupon:${couponId}}*`;
  const scan = () => scanKeys(redis, pattern);
  const saved = await Promise.all(
    (await scan()).map(async (key) => ({
      key,
      dump: await redis.dumpBuffer(key),
      ttl: await redis.pttl(key),
    })),
  );
  return async () => {
    const now = await scan();
    if (now.length) await redis.del(...now);
    for (const { key, dump, ttl } of saved) if (dump) await redis.restore(key, Math.max(ttl, 0), dump);
  };
}

type Case = {
  name: string;
  /** Prepares the coupon (or picks an id) and returns the request. */
  setup: () => Promise<{ couponId: number; request: InjectOptions }>;
};

const issueRequest = (body: string, token?: string, headers: Record<string, string> = {}): InjectOptions => ({
  method: 'POST',
  url: '/trpc/coupon.issue',
  headers: {
    'content-type': 'application/json',
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    ...headers,
  },
  payload: body,
});

let nextUser = 100;
const user = async () => {
  const id = nextUser++;
  return { id, token: await s.token(id) };
};
const issueBody = (couponId: number) => JSON.stringify({ couponId });

const cases: Case[] = [
  {
    name: 'issued',
    setup: async () => {
      const couponId = await createCoupon();
      return { couponId, request: issueRequest(issueBody(couponId), (await user()).token) };
    },
  },
  {
    name: 'already issued to this user',
    setup: async () => {
      const couponId = await createCoupon();
      const u = await user();
      expect((await call(s.app, 'mutation', 'coupon.issue', { couponId }, u.token)).status).toBe(200);
      return { couponId, request: issueRequest(issueBody(couponId), u.token) };
    },
  },
  {
    name: 'sold out',
    setup: async () => {
      const couponId = await createCoupon({ totalQuantity: 1 });
      expect((await call(s.app, 'mutation', 'coupon.issue', { couponId }, (await user()).token)).status).toBe(
        200,
      );
      return { couponId, request: issueRequest(issueBody(couponId), (await user()).token) };
    },
  },
  {
    name: 'unknown coupon',
    setup: async () => ({
      couponId: 987_654,
      request: issueRequest(issueBody(987_654), (await user()).token),
    }),
  },
  {
    name: 'window not open yet',
    setup: async () => {
      const couponId = await createCoupon({ issueStartsAt: '2026-11-27T00:00:00Z' });
      return { couponId, request: issueRequest(issueBody(couponId), (await user()).token) };
    },
  },
  {
    name: 'over the user limit (429 with Retry-After)',
    setup: async () => {
      const couponId = await createCoupon({ totalQuantity: 1 });
      const u = await user();
      for (let i = 0; i < 3; i++) await call(s.app, 'mutation', 'coupon.issue', { couponId }, u.token);
      return { couponId, request: issueRequest(issueBody(couponId), u.token) };
    },
  },
  ...(
    [
      ['couponId 0', '{"couponId":0}'],
      ['couponId not a number', '{"couponId":"1"}'],
      ['couponId fractional', '{"couponId":1.5}'],
      ['couponId unsafe', '{"couponId":9007199254740993}'],
      ['no couponId', '{}'],
      ['unknown key', '{"couponId":1,"x":1}'],
      ['array body', '[1]'],
      ['JSON null', 'null'],
      ['malformed JSON', '{"couponId":'],
      ['empty body', ''],
    ] as const
  ).map(
    ([name, body]): Case => ({
      name: `bad input: ${name}`,
      setup: async () => ({ couponId: 1, request: issueRequest(body, (await user()).token) }),
    }),
  ),
  {
    name: 'no token',
    setup: async () => ({ couponId: 1, request: issueRequest(issueBody(1)) }),
  },
  {
    name: 'no token and malformed JSON',
    setup: async () => ({ couponId: 1, request: issueRequest('{') }),
  },
  {
    name: 'token signed with another secret',
    setup: async () => {
      const { signToken } = await import('@flash/core');
      return { couponId: 1, request: issueRequest(issueBody(1), await signToken('x'.repeat(40), 5)) };
    },
  },
  {
    name: 'not a bearer token',
    setup: async () => ({
      couponId: 1,
      request: {
        ...issueRequest(issueBody(1)),
        headers: { 'content-type': 'application/json', authorization: 'Basic Zm9v' },
      },
    }),
  },
];

describe('coupon.issue: the direct call answers as tRPC does (NODE_ENV=production)', () => {
  it('is served as a direct call by the API', () => {
    expect(Object.keys(collectDirectCalls(appRouter._def.procedures))).toContain('coupon.issue');
  });

  it.each(cases)('$name', async ({ setup }) => {
    const { couponId, request } = await setup();
    const restore = await saveCoupon(couponId);
    const viaTrpc = await ask(official, officialEvents, request, HEADERS);
    await restore();
    const direct = await ask(s.app, leanEvents, request, HEADERS);
    expect(direct).toEqual(viaTrpc);
  });

  it('says when to retry in a Retry-After header', async () => {
    const couponId = await createCoupon();
    const u = await user();
    for (let i = 0; i < 3; i++) await call(s.app, 'mutation', 'coupon.issue', { couponId }, u.token);
    const res = await s.app.inject(issueRequest(issueBody(couponId), u.token));
    expect(res.statusCode).toBe(429);
    expect(res.json().error.data).toMatchObject({
      appCode: 'RATE_LIMITED',
      limit: 'user',
      retryAfterMs: 100_000,
    });
    expect(res.headers['retry-after']).toBe('100');
  });

  it('takes the direct path for single calls only (a batch still goes through tRPC, same answers)', async () => {
    const couponId = await createCoupon({ totalQuantity: 1 });
    const u = await user();
    const batch: InjectOptions = {
      method: 'POST',
      url: '/trpc/coupon.issue,coupon.issue?batch=1',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${u.token}` },
      payload: JSON.stringify({ 0: { couponId }, 1: { couponId } }),
    };
    const restore = await saveCoupon(couponId);
    const viaTrpc = await ask(official, officialEvents, batch, HEADERS);
    await restore();
    const lean = await ask(s.app, leanEvents, batch, HEADERS);
    expect(lean).toEqual(viaTrpc);
    expect(lean.status).toBe(207);
  });
});

describe('order.create: the direct call answers as tRPC does (NODE_ENV=production)', () => {
  let productId: number;
  let scarceId: number;
  beforeAll(async () => {
    const product = async (stock: number) => {
      const res = await call(
        s.app,
        'mutation',
        'admin.product.create',
        { name: 'p', price: 1000, stock },
        admin,
      );
      expect(res.status).toBe(200);
      return res.body.result.data.id as number;
    };
    productId = await product(1000);
    scarceId = await product(1);
  });

  const orderRequest = (input: unknown, token?: string): InjectOptions => ({
    ...issueRequest(input === undefined ? '' : JSON.stringify(input), token),
    url: '/trpc/order.create',
  });
  // A new order gets a new id and creation time: everything else must match.
  const masked = (answer: Awaited<ReturnType<typeof ask>>) => ({
    ...answer,
    body: answer.body.replace(/"orderId":"[0-9a-f-]{36}"/, '"orderId":"…"'),
  });

  it('is served as a direct call by the API', () => {
    expect(Object.keys(collectDirectCalls(appRouter._def.procedures))).toContain('order.create');
  });

  it.each<[string, number, (tokens: { token: string }) => unknown]>([
    ['created (answered from Redis, saved after)', 200, () => ({ items: [{ productId, quantity: 2 }] })],
    [
      'created with an idempotency key',
      200,
      () => ({ items: [{ productId, quantity: 1 }], idempotencyKey: `k-${nextUser}` }),
    ],
    ['unknown product', 404, () => ({ items: [{ productId: 987_654, quantity: 1 }] })],
    ['out of stock', 409, () => ({ items: [{ productId: scarceId, quantity: 2 }] })],
    ['coupon not held', 409, () => ({ items: [{ productId, quantity: 1 }], couponId: 987_654 })],
    [
      'the same product twice',
      400,
      () => ({
        items: [
          { productId, quantity: 1 },
          { productId, quantity: 1 },
        ],
      }),
    ],
    ['quantity 0', 400, () => ({ items: [{ productId, quantity: 0 }] })],
    ['no items', 400, () => ({ items: [] })],
    ['empty idempotency key', 400, () => ({ items: [{ productId, quantity: 1 }], idempotencyKey: '' })],
    ['unknown key', 400, () => ({ items: [{ productId, quantity: 1 }], note: 'x' })],
    ['no body', 400, () => undefined],
  ])('%s (%i)', async (_name, status, input) => {
    const u = await user();
    const body = input(u);
    const viaTrpc = masked(await ask(official, officialEvents, orderRequest(body, u.token), HEADERS));
    const direct = masked(await ask(s.app, leanEvents, orderRequest(body, u.token), HEADERS));
    expect(direct.status).toBe(status);
    expect(direct).toEqual(viaTrpc);
  });

  it('created (group commit: with a coupon, without a key) (200)', async () => {
    // Two holders of one coupon: each path creates the one order that coupon can back.
    const couponId = await createCoupon();
    const [first, second] = [await user(), await user()];
    for (const u of [first, second]) {
      expect((await call(s.app, 'mutation', 'coupon.issue', { couponId }, u.token)).status).toBe(200);
    }
    const body = { items: [{ productId, quantity: 2 }], couponId };
    const joined = vi.spyOn(s.rt.orderBatcher, 'join');
    try {
      const viaTrpc = masked(await ask(official, officialEvents, orderRequest(body, first.token), HEADERS));
      expect(joined).toHaveBeenCalledTimes(1);
      const direct = masked(await ask(s.app, leanEvents, orderRequest(body, second.token), HEADERS));
      expect(joined).toHaveBeenCalledTimes(2);
      expect(direct.status).toBe(200);
      expect(direct).toEqual(viaTrpc);
    } finally {
      joined.mockRestore();
    }
  });

  it('replays an idempotent order the same way (same order id)', async () => {
    const u = await user();
    const body = { items: [{ productId, quantity: 1 }], idempotencyKey: 'same' };
    const first = await ask(s.app, leanEvents, orderRequest(body, u.token), HEADERS);
    expect(first.status).toBe(200);
    expect(await ask(official, officialEvents, orderRequest(body, u.token), HEADERS)).toEqual(first);
    expect(await ask(s.app, leanEvents, orderRequest(body, u.token), HEADERS)).toEqual(first);
    const reused = { ...body, items: [{ productId, quantity: 2 }] };
    expect(await ask(s.app, leanEvents, orderRequest(reused, u.token), HEADERS)).toEqual(
      await ask(official, officialEvents, orderRequest(reused, u.token), HEADERS),
    );
  });

  it('refuses over the user limit the same way, and before reading the input', async () => {
    const u = await user();
    // A refused input counts against the procedure's allowance, a one-line order against its
    // product's (docs/api.md, Rate limits): use both up.
    for (let i = 0; i < 3; i++) await ask(s.app, leanEvents, orderRequest({ items: [] }, u.token), HEADERS);
    const one = { items: [{ productId, quantity: 1 }] };
    for (let i = 0; i < 3; i++) await ask(s.app, leanEvents, orderRequest(one, u.token), HEADERS);
    for (const body of [{ items: [{ productId, quantity: 1 }] }, { items: [] }]) {
      const direct = await ask(s.app, leanEvents, orderRequest(body, u.token), HEADERS);
      expect(direct.status).toBe(429);
      expect(direct).toEqual(await ask(official, officialEvents, orderRequest(body, u.token), HEADERS));
    }
  });

  it('answers no token the same way', async () => {
    const body = { items: [{ productId, quantity: 1 }] };
    expect(await ask(s.app, leanEvents, orderRequest(body), HEADERS)).toEqual(
      await ask(official, officialEvents, orderRequest(body), HEADERS),
    );
  });
});

describe('payment.pay: the direct call answers as tRPC does (NODE_ENV=production)', () => {
  let productId: number;
  beforeAll(async () => {
    const res = await call(
      s.app,
      'mutation',
      'admin.product.create',
      { name: 'pay', price: 1000, stock: 1000 },
      admin,
    );
    productId = res.body.result.data.id;
  });

  const payRequest = (input: unknown, token?: string): InjectOptions => ({
    ...issueRequest(input === undefined ? '' : JSON.stringify(input), token),
    url: '/trpc/payment.pay',
  });
  // Each path pays its own order of the same amount: ids differ, everything else must match.
  const masked = (answer: Awaited<ReturnType<typeof ask>>) => ({
    ...answer,
    body: answer.body.replace(/"(paymentId|orderId)":"[0-9a-f-]{36}"/g, '"$1":"…"'),
  });

  it('is served as a direct call by the API', () => {
    expect(Object.keys(collectDirectCalls(appRouter._def.procedures))).toContain('payment.pay');
  });

  /** A user with `balance` and an order of 1,000 KRW; each path pays its own buyer's. */
  async function buyer(balance: number) {
    const u = await user();
    if (balance > 0) await call(s.app, 'mutation', 'balance.charge', { amount: balance }, u.token);
    const res = await call(
      s.app,
      'mutation',
      'order.create',
      { items: [{ productId, quantity: 1 }] },
      u.token,
    );
    return { token: u.token, orderId: res.body.result.data.orderId as string };
  }

  it.each<[string, number, number, (orderId: string) => unknown]>([
    ['paid', 200, 5_000, (orderId) => ({ orderId })],
    ['paid with an idempotency key', 200, 5_000, (orderId) => ({ orderId, idempotencyKey: 'k' })],
    ['insufficient balance', 409, 500, (orderId) => ({ orderId })],
    ['order not found', 404, 5_000, () => ({ orderId: '00000000-0000-4000-8000-000000000000' })],
    ['not an order id', 404, 5_000, () => ({ orderId: 'nope' })],
    ['unknown key', 400, 5_000, (orderId) => ({ orderId, note: 'x' })],
    ['no body', 400, 5_000, () => undefined],
  ])('%s (%i)', async (_name, status, balance, input) => {
    const [a, b] = [await buyer(balance), await buyer(balance)];
    const viaTrpc = masked(
      await ask(official, officialEvents, payRequest(input(a.orderId), a.token), HEADERS),
    );
    const direct = masked(await ask(s.app, leanEvents, payRequest(input(b.orderId), b.token), HEADERS));
    expect(direct.status).toBe(status);
    expect(direct).toEqual(viaTrpc);
  });

  it('replays an idempotent payment the same way (same payment id)', async () => {
    const b = await buyer(5_000);
    const body = { orderId: b.orderId, idempotencyKey: 'same' };
    const first = await ask(s.app, leanEvents, payRequest(body, b.token), HEADERS);
    expect(first.status).toBe(200);
    expect(await ask(official, officialEvents, payRequest(body, b.token), HEADERS)).toEqual(first);
  });
});
