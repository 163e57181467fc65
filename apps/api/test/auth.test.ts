import { createHmac } from 'node:crypto';
import { CLOCK_TOLERANCE_SECONDS, createTokenVerifier, signToken } from '@flash/core';
import { base64url, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mintBearerPack } from '../../../loadtests/lib/token.ts';
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

describe('bearer tokens: clock skew, headers and claims', () => {
  // Date is frozen (timers are not), so "just inside" and "just outside" the tolerance are exact.
  const NOW = Date.parse('2026-11-26T10:00:00Z');
  const nowS = NOW / 1000;
  let s: TestServer;
  beforeAll(async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: NOW });
    s = await createTestServer({
      overrides: { NODE_ENV: 'production', AUTH_JWT_SECRET: 'skew-test-secret-0123456789abcdef01234' },
    });
  });
  afterAll(async () => {
    await s.cleanup();
    vi.useRealTimers();
  });

  /** Signs any header and claims with the server's secret (or `secret`), as a forger with the key could. */
  const sign = (
    claims: Record<string, unknown>,
    header: Record<string, unknown> = { alg: 'HS256' },
    secret?: string,
  ) => {
    const body = `${encode(header)}.${encode(claims)}`;
    return `${body}.${createHmac('sha256', secret ?? s.config.jwtSecret)
      .update(body)
      .digest('base64url')}`;
  };
  const status = async (token: string, path = 'balance.get') =>
    (
      await s.app.inject({
        method: 'GET',
        url: `/trpc/${path}`,
        headers: { authorization: `Bearer ${token}` },
      })
    ).statusCode;

  it(`accepts exp up to ${CLOCK_TOLERANCE_SECONDS} s in the past, not a second more`, async () => {
    expect(await status(sign({ sub: '7', exp: nowS - CLOCK_TOLERANCE_SECONDS + 1 }))).toBe(200);
    expect(await status(sign({ sub: '7', exp: nowS - CLOCK_TOLERANCE_SECONDS }))).toBe(401);
    expect(await status(sign({ sub: '7', exp: nowS - 3600 }))).toBe(401);
  });

  it('stops accepting a remembered token once it is past exp and the tolerance', async () => {
    const token = sign({ sub: '8', exp: nowS + 60 });
    expect(await status(token)).toBe(200);
    vi.setSystemTime(NOW + (60 + CLOCK_TOLERANCE_SECONDS - 1) * 1000);
    try {
      expect(await status(token)).toBe(200);
      vi.setSystemTime(NOW + (60 + CLOCK_TOLERANCE_SECONDS) * 1000);
      expect(await status(token)).toBe(401);
    } finally {
      vi.setSystemTime(NOW);
    }
  });

  it.each(['nbf', 'iat'])(
    `accepts %s up to ${CLOCK_TOLERANCE_SECONDS} s in the future, not a second more`,
    async (claim) => {
      const exp = nowS + 3600;
      expect(await status(sign({ sub: '9', exp, [claim]: nowS + CLOCK_TOLERANCE_SECONDS }))).toBe(200);
      expect(await status(sign({ sub: '9', exp, [claim]: nowS + CLOCK_TOLERANCE_SECONDS + 1 }))).toBe(401);
      expect(await status(sign({ sub: '9', exp, [claim]: nowS + 86_400 }))).toBe(401);
      expect(await status(sign({ sub: '9', exp, [claim]: String(nowS) }))).toBe(401);
    },
  );

  it('uses the configured key whatever kid, jku, jwk or x5u the header names', async () => {
    const claims = { sub: '10', exp: nowS + 600 };
    const attacker = 'attacker-secret-0123456789abcdef0123456789';
    const jwk = { kty: 'oct', k: Buffer.from(attacker).toString('base64url') };
    const pointers = [
      { kid: 'attacker-key' },
      { kid: '../../../../dev/null' },
      { jku: 'https://evil.example/jwks.json' },
      { jwk },
      { x5u: 'https://evil.example/cert.pem' },
    ];
    for (const extra of pointers) {
      // Signed with the key the header points at: refused.
      expect(await status(sign(claims, { alg: 'HS256', ...extra }, attacker))).toBe(401);
      // Signed with the real key: the header's pointers change nothing.
      expect(await status(sign(claims, { alg: 'HS256', ...extra }))).toBe(200);
    }
  });

  it.each([
    ['alg in lower case', { alg: 'hs256' }],
    ['alg none in capitals', { alg: 'None' }],
    ['an RS256 header', { alg: 'RS256' }],
    ['no alg', {}],
    ['a crit extension', { alg: 'HS256', crit: ['exp'] }],
  ])('refuses %s even when the HMAC is right', async (_name, header) => {
    expect(await status(sign({ sub: '11', exp: nowS + 600 }, header))).toBe(401);
  });

  it.each([
    ['a numeric sub', { sub: 11 }],
    ['a sub with a sign', { sub: '+11' }],
    ['a sub with leading zeros', { sub: '011' }],
    ['an exp that is not a number', { sub: '11', exp: 'tomorrow' }],
  ])('refuses %s', async (_name, claims) => {
    expect(await status(sign({ exp: nowS + 600, ...claims }))).toBe(401);
  });

  it('grants admin only for role "admin" exactly', async () => {
    const path = 'admin.product.create';
    const create = (role: unknown) =>
      s.app.inject({
        method: 'POST',
        url: `/trpc/${path}`,
        headers: {
          authorization: `Bearer ${sign({ sub: '12', exp: nowS + 600, role })}`,
          'content-type': 'application/json',
        },
        payload: { name: 'x', price: 1, stock: 1 },
      });
    for (const role of ['Admin', 'ADMIN', ['admin'], { admin: true }, true, 'admin ']) {
      expect((await create(role)).statusCode).toBe(403);
    }
    expect((await create('admin')).statusCode).toBe(200);
  });

  it.each(['bearer', 'Bearer  ', 'Basic', 'Bearer\t'])('refuses the scheme %j', async (scheme) => {
    const token = sign({ sub: '13', exp: nowS + 600 });
    const res = await s.app.inject({
      method: 'GET',
      url: '/trpc/balance.get',
      headers: {
        authorization: `${scheme}${scheme.endsWith(' ') || scheme.endsWith('\t') ? '' : ' '}${token}`,
      },
    });
    expect(res.statusCode).toBe(401);
  });
});

describe('the load generator’s tokens (loadtests/lib/token.ts)', () => {
  it('packs bearer values the API verifies, each for its own consecutive user', () => {
    const secret = 'a-load-test-secret-of-32-chars!!';
    const verifier = createTokenVerifier(secret, { cacheSize: 0 });
    // 16-digit ids make every value longer than the pack's first guess (160 bytes): it grows.
    const first = 1_000_000_000_000_000;
    const pack = mintBearerPack(secret, first, 40);
    expect(pack.count).toBe(40);
    for (let i = 0; i < pack.count; i++) {
      expect(verifier.verify(pack.bearer(i))).toEqual({ userId: first + i, isAdmin: false });
    }
    expect(() => createTokenVerifier('another-secret-of-32-characters!').verify(pack.bearer(0))).toThrow();
  });
});
