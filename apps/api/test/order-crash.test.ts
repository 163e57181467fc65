import { signToken } from '@flash/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Child, httpCall, startApi } from '../../../test/processes.ts';
import { createTestEnv, type TestEnv } from '../../../test/support.ts';

describe('API killed right after answering order.create', () => {
  let env: TestEnv;
  let api: (Child & { url: string }) | undefined;
  beforeAll(async () => {
    env = await createTestEnv();
  });
  afterAll(async () => {
    await api?.kill();
    await env.cleanup();
  });

  it('keeps the order, payable after restart', async () => {
    const admin = await signToken(env.config.jwtSecret, 1, { admin: true });
    const buyer = await signToken(env.config.jwtSecret, 77);
    api = await startApi(env.childEnv);
    const product = (
      await httpCall(
        api.url,
        'mutation',
        'admin.product.create',
        { name: 'crash', price: 1_500, stock: 5 },
        admin,
      )
    ).body.result.data;
    const created = await httpCall(
      api.url,
      'mutation',
      'order.create',
      { items: [{ productId: product.id, quantity: 2 }] },
      buyer,
    );
    expect(created.status).toBe(200);
    await api.kill('SIGKILL');

    api = await startApi(env.childEnv);
    const order = await httpCall(
      api.url,
      'query',
      'order.get',
      { orderId: created.body.result.data.orderId },
      buyer,
    );
    expect(order.body.result.data).toMatchObject({ status: 'PENDING_PAYMENT', payAmount: 3_000 });
    expect(
      (await httpCall(api.url, 'query', 'product.get', { productId: product.id })).body.result.data.stock,
    ).toBe(3);
    await httpCall(api.url, 'mutation', 'balance.charge', { amount: 3_000 }, buyer);
    const paid = await httpCall(
      api.url,
      'mutation',
      'payment.pay',
      { orderId: created.body.result.data.orderId },
      buyer,
    );
    expect(paid.body.result.data).toMatchObject({ status: 'PAID', amount: 3_000, balance: 0 });
  });
});
