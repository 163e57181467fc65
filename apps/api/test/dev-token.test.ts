import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createTestServer, type TestServer } from '../../../test/support.ts';

describe('dev.token (the storefront sign-in for local use)', () => {
  let dev: TestServer;
  let prod: TestServer;
  beforeAll(async () => {
    dev = await createTestServer();
    prod = await createTestServer({
      overrides: { NODE_ENV: 'production', AUTH_JWT_SECRET: 'a-production-secret-of-32-characters!' },
    });
  });
  afterAll(async () => {
    await dev.cleanup();
    await prod.cleanup();
  });

  it('outside production hands a shopper token for the user id', async () => {
    const res = await call(dev.app, 'mutation', 'dev.token', { userId: 77 });
    expect(res.status).toBe(200);
    const { token, userId } = res.body.result.data;
    expect(userId).toBe(77);
    const balance = await call(dev.app, 'query', 'balance.get', undefined, token);
    expect(balance.body.result.data).toEqual({ userId: 77, balance: 0 });
    const admin = await call(
      dev.app,
      'mutation',
      'admin.product.create',
      { name: 'x', price: 1, stock: 1 },
      token,
    );
    expect(admin.status).toBe(403);
  });

  it('is refused in production', async () => {
    const res = await call(prod.app, 'mutation', 'dev.token', { userId: 77 });
    expect(res.status).toBe(403);
    expect(res.body.error.data.appCode).toBe('FORBIDDEN');
    expect(JSON.stringify(res.body)).not.toMatch(/eyJ/);
  });

  it('checks its input', async () => {
    const res = await call(dev.app, 'mutation', 'dev.token', { userId: 0 });
    expect(res.status).toBe(400);
    expect(res.body.error.data.appCode).toBe('INVALID_INPUT');
  });
});
