// Inputs are refused alike everywhere: an unknown key is INVALID_INPUT in every procedure, those
// without input included (while the typed client's "no input" still works), a cursor that no
// page could have returned is INVALID_INPUT rather than an empty page, and each problem of an
// input is reported once.
import { createTRPCClient, httpBatchLink, httpLink } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createTestServer, type TestServer } from '../../../test/support.ts';
import type { AppRouter } from '../src/index.ts';
import { appRouter } from '../src/trpc/root.ts';

describe('procedure inputs', () => {
  let s: TestServer;
  let admin: string;
  let url: string;
  beforeAll(async () => {
    s = await createTestServer();
    admin = await s.token(1, { admin: true });
    url = await s.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => s.cleanup());

  const procedures = Object.entries(
    appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>,
  );

  it.each(procedures)('%s refuses an unknown input key', async (path, procedure) => {
    const kind = procedure._def.type === 'mutation' ? 'mutation' : 'query';
    const res = await call(s.app, kind, path, { unexpected: 1 }, admin);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.data.appCode).toBe('INVALID_INPUT');
  });

  it.each(['balance.get', 'coupon.mine', 'product.top'])(
    '%s answers with no input, or an empty one',
    async (path) => {
      expect((await call(s.app, 'query', path, undefined, admin)).status).toBe(200);
      expect((await call(s.app, 'query', path, {}, admin)).status).toBe(200);
      const refused = await call(s.app, 'query', path, { x: 1 }, admin);
      expect(refused.status).toBe(400);
      expect(refused.body.error.message).toBe('input: Unrecognized key: "x"');
    },
  );

  it('the typed client still calls the procedures without input, alone and batched', async () => {
    const headers = { authorization: `Bearer ${admin}` };
    for (const link of [
      httpLink({ url: `${url}/trpc`, headers }),
      httpBatchLink({ url: `${url}/trpc`, headers }),
    ]) {
      const client = createTRPCClient<AppRouter>({ links: [link] });
      const [balance, mine, top] = await Promise.all([
        client.balance.get.query(),
        client.coupon.mine.query(),
        client.product.top.query(),
      ]);
      expect(balance).toEqual({ userId: 1, balance: 0 });
      expect(mine).toEqual({ items: [] });
      expect(top).toEqual({ items: [] });
    }
  });

  it('refuses an order.list cursor that no page returned', async () => {
    const res = await call(s.app, 'query', 'order.list', { cursor: 'garbage' }, admin);
    expect(res.status).toBe(400);
    expect(res.body.error.data.appCode).toBe('INVALID_INPUT');
    expect(res.body.error.message).toBe('cursor: Invalid input: expected an order id');
  });

  it('pages order.list by the cursor it returned', async () => {
    const user = await s.token(7);
    const product = (
      await call(s.app, 'mutation', 'admin.product.create', { name: 'p', price: 0, stock: 10 }, admin)
    ).body.result.data.id;
    for (let i = 0; i < 3; i++) {
      const order = await call(
        s.app,
        'mutation',
        'order.create',
        { items: [{ productId: product, quantity: 1 }] },
        user,
      );
      expect(order.status).toBe(200);
    }
    const first = await call(s.app, 'query', 'order.list', { limit: 2 }, user);
    expect(first.body.result.data.items).toHaveLength(2);
    const cursor = first.body.result.data.nextCursor;
    const second = await call(s.app, 'query', 'order.list', { cursor, limit: 2 }, user);
    expect(second.status).toBe(200);
    expect(second.body.result.data.items).toHaveLength(1);
    expect(second.body.result.data.nextCursor).toBeNull();
  });

  const ABOVE_2_53 = 2 ** 53 + 2;
  it.each([
    ['query', 'product.get', { productId: ABOVE_2_53 }, 'productId'],
    ['query', 'product.list', { cursor: ABOVE_2_53 }, 'cursor'],
    ['mutation', 'coupon.issue', { couponId: ABOVE_2_53 }, 'couponId'],
    ['mutation', 'order.create', { items: [{ productId: ABOVE_2_53, quantity: 1 }] }, 'items.0.productId'],
    ['mutation', 'admin.product.restock', { productId: ABOVE_2_53, quantity: 1 }, 'productId'],
  ] as const)('%s %s: an id above 2^53 is reported once', async (kind, path, input, key) => {
    const res = await call(s.app, kind, path, input, admin);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe(`${key}: Too big: expected int to be <=${Number.MAX_SAFE_INTEGER}`);
  });
});
