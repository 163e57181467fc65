// REDIS_WAIT_REPLICAS on stock holds, on a private primary whose replica comes and goes (the
// shared 6379 is never given a replica).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateRedis, startPrivateRedis } from '../../../test/redis-server.ts';
import { call, createTestServer, type TestServer } from '../../../test/support.ts';

describe('REDIS_WAIT_REPLICAS=1 on order.create', () => {
  let primary: PrivateRedis;
  let s: TestServer;
  let admin: string;
  beforeAll(async () => {
    primary = await startPrivateRedis();
    s = await createTestServer({
      overrides: { REDIS_URL: primary.url, REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '50' },
    });
    admin = await s.token(1, { admin: true });
  });
  afterAll(async () => {
    await s.cleanup();
    await primary.stop();
  });

  const product = async (stock: number): Promise<number> =>
    (await call(s.app, 'mutation', 'admin.product.create', { name: 'p', price: 1_000, stock }, admin)).body
      .result.data.id;
  const stockOf = async (productId: number): Promise<number> =>
    (await call(s.app, 'query', 'product.get', { productId })).body.result.data.stock;
  const order = async (userId: number, productId: number, idempotencyKey?: string) =>
    call(
      s.app,
      'mutation',
      'order.create',
      { items: [{ productId, quantity: 2 }], ...(idempotencyKey ? { idempotencyKey } : {}) },
      await s.token(userId),
    );

  it('without a replica: UNAVAILABLE (503, never 500); a keyed order gives its hold back and is not created', async () => {
    const p = await product(10);
    const res = await order(7, p, 'k-7-1');
    expect(res.status).toBe(503);
    expect(res.body.error.data.appCode).toBe('UNAVAILABLE');
    expect(await stockOf(p)).toBe(10);
    const list = await call(s.app, 'query', 'order.list', {}, await s.token(7));
    expect(list.body.result.data.items).toEqual([]);
  });

  it('without a replica: a two-product order is UNAVAILABLE and gives back both holds', async () => {
    const [a, b] = [await product(10), await product(10)];
    const res = await call(
      s.app,
      'mutation',
      'order.create',
      {
        items: [
          { productId: a, quantity: 2 },
          { productId: b, quantity: 3 },
        ],
      },
      await s.token(11),
    );
    expect(res.status).toBe(503);
    expect(res.body.error.data.appCode).toBe('UNAVAILABLE');
    expect([await stockOf(a), await stockOf(b)]).toEqual([10, 10]);
  });

  it('without a replica: an order answered from Redis is UNAVAILABLE too (and kept, to expire unpaid)', async () => {
    const p = await product(10);
    const res = await order(8, p);
    expect(res.status).toBe(503);
    expect(res.body.error.data.appCode).toBe('UNAVAILABLE');
  });

  it('with a replica: the hold is answered', async () => {
    const replica = await startPrivateRedis({ replicaOf: primary.port });
    try {
      const p = await product(10);
      expect((await order(9, p, 'k-9-1')).status).toBe(200);
      expect((await order(10, p)).status).toBe(200);
      expect(await stockOf(p)).toBe(6);
    } finally {
      await replica.stop();
    }
  });
});
