import { createTRPCClient, httpBatchLink, httpLink, TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, type TestServer } from '../../../test/support.ts';
import type { AppRouter } from '../src/index.ts';

// Over a real socket, with the official tRPC client, the way a storefront calls the API.
describe('API over HTTP', () => {
  let s: TestServer;
  let url: string;
  beforeAll(async () => {
    s = await createTestServer();
    await s.app.listen({ port: 0, host: '127.0.0.1' });
    const address = s.app.server.address();
    if (!address || typeof address === 'string') throw new Error('no port');
    url = `http://127.0.0.1:${address.port}`;
  });
  afterAll(() => s.cleanup());

  it('answers /healthz and /readyz', async () => {
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', redis: 'ok', postgres: 'ok' });
  });

  it('serves product.list as plain JSON', async () => {
    const res = await fetch(`${url}/trpc/product.list`);
    expect(await res.json()).toEqual({ result: { data: { items: [], nextCursor: null } } });
  });

  it('works with the typed client, batched and unbatched', async () => {
    const admin = await s.token(1, { admin: true });
    const user = await s.token(5);
    const headers = (token: string) => () => ({ authorization: `Bearer ${token}` });
    const batched = createTRPCClient<AppRouter>({
      links: [httpBatchLink({ url: `${url}/trpc`, headers: headers(admin) })],
    });
    const plain = createTRPCClient<AppRouter>({
      links: [httpLink({ url: `${url}/trpc`, headers: headers(user) })],
    });

    const [a, b] = await Promise.all([
      batched.admin.product.create.mutate({ name: 'A', price: 100, stock: 1 }),
      batched.admin.product.create.mutate({ name: 'B', price: 200, stock: 2 }),
    ]);
    const page = await plain.product.list.query({ limit: 1 });
    expect(page.items).toEqual([a.id < b.id ? a : b]);
    expect(await plain.balance.get.query()).toEqual({ userId: 5, balance: 0 });

    const err = await plain.admin.product.create
      .mutate({ name: 'C', price: 1, stock: 1 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TRPCClientError);
    expect((err as TRPCClientError<AppRouter>).data).toMatchObject({ appCode: 'FORBIDDEN', httpStatus: 403 });
  });

  it('refuses a body over the limit', async () => {
    const res = await fetch(`${url}/trpc/admin.product.create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x'.repeat(300_000) }),
    });
    expect(res.status).toBe(413);
  });
});
