import { signToken } from '@flash/core';
import { base64url, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createTestServer, type TestServer } from '../../../test/support.ts';

const encode = (value: object) => base64url.encode(JSON.stringify(value));

describe('bearer authentication', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await createTestServer();
  });
  afterAll(() => s.cleanup());

  const expectUnauthorized = async (authorization?: string) => {
    const res = await s.app.inject({
      method: 'GET',
      url: '/trpc/balance.get',
      headers: authorization === undefined ? {} : { authorization },
    });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.data).toMatchObject({ code: 'UNAUTHORIZED', appCode: 'UNAUTHORIZED' });
  };

  it('accepts a valid token and answers for its subject', async () => {
    const res = await call(s.app, 'query', 'balance.get', undefined, await s.token(42));
    expect(res).toEqual({ status: 200, body: { result: { data: { userId: 42, balance: 0 } } } });
  });

  it('refuses a missing token', () => expectUnauthorized());
  it('refuses a malformed header', () => expectUnauthorized('Token abc'));
  it('refuses garbage in place of a JWT', () => expectUnauthorized('Bearer not-a-jwt'));

  it('refuses a token signed with another secret', async () => {
    await expectUnauthorized(`Bearer ${await signToken('another-secret-that-is-long-enough-0000', 42)}`);
  });

  it('refuses an expired token', async () => {
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('42')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(new TextEncoder().encode(s.config.jwtSecret));
    await expectUnauthorized(`Bearer ${expired}`);
  });

  it('refuses a token without exp', async () => {
    const noExp = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('42')
      .sign(new TextEncoder().encode(s.config.jwtSecret));
    await expectUnauthorized(`Bearer ${noExp}`);
  });

  it('refuses alg: none', async () => {
    const exp = Math.floor(Date.now() / 1000) + 3600;
    await expectUnauthorized(`Bearer ${encode({ alg: 'none', typ: 'JWT' })}.${encode({ sub: '42', exp })}.`);
  });

  it('refuses another HMAC algorithm with the right key (algorithm pinned to HS256)', async () => {
    const hs512 = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS512' })
      .setSubject('42')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(s.config.jwtSecret.padEnd(64, 'x')));
    await expectUnauthorized(`Bearer ${hs512}`);
  });

  it.each(['0', '-1', '1.5', 'abc', '99999999999999999999'])('refuses sub %j', async (sub) => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(sub)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(s.config.jwtSecret));
    await expectUnauthorized(`Bearer ${token}`);
  });

  it('answers FORBIDDEN to a non-admin on an admin procedure, and changes nothing', async () => {
    const res = await call(
      s.app,
      'mutation',
      'admin.product.create',
      { name: 'x', price: 1, stock: 1 },
      await s.token(7),
    );
    expect(res.status).toBe(403);
    expect(res.body.error.data).toMatchObject({ code: 'FORBIDDEN', appCode: 'FORBIDDEN' });
    const list = await call(s.app, 'query', 'product.list');
    expect(list.body.result.data.items).toEqual([]);
  });

  it('lets an admin create a product', async () => {
    const res = await call(
      s.app,
      'mutation',
      'admin.product.create',
      { name: 'Keyboard', price: 50_000, stock: 3 },
      await s.token(1, { admin: true }),
    );
    expect(res.status).toBe(200);
    expect(res.body.result.data).toMatchObject({ name: 'Keyboard', price: 50_000 });
  });
});
