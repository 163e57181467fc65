import { createHmac } from 'node:crypto';
import { base64url, errors, jwtVerify, SignJWT } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { CLOCK_TOLERANCE_SECONDS, createTokenVerifier, signToken } from './token.ts';

// The verifier checks HS256 tokens itself instead of through jose (speed); it must accept and
// refuse exactly what jose's jwtVerify does with the same options.
const secret = 's'.repeat(40);
const key = new TextEncoder().encode(secret);
const now = () => Math.floor(Date.now() / 1000);
const enc = (value: unknown) => base64url.encode(JSON.stringify(value));

/** Signs anything, including what jose refuses to produce (unknown crit, non-object payloads). */
async function sign(claims: unknown, header: Record<string, unknown> = { alg: 'HS256' }) {
  const body = `${enc(header)}.${base64url.encode(JSON.stringify(claims))}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

async function joseSays(token: string): Promise<'ok' | 'expired' | 'invalid'> {
  try {
    await jwtVerify(token, key, {
      algorithms: ['HS256'],
      requiredClaims: ['exp', 'sub'],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
    });
    return 'ok';
  } catch (err) {
    return err instanceof errors.JWTExpired ? 'expired' : 'invalid';
  }
}

async function weSay(token: string): Promise<'ok' | 'expired' | 'invalid'> {
  try {
    await createTokenVerifier(secret).verify(`Bearer ${token}`);
    return 'ok';
  } catch (err) {
    return (err as Error).message === 'Token expired' ? 'expired' : 'invalid';
  }
}

describe('HS256 verification agrees with jose', () => {
  const cases: [string, () => Promise<string>][] = [
    ['a valid token', () => signToken(secret, 7)],
    ['an admin token', () => signToken(secret, 7, { admin: true })],
    ['expired an hour ago', () => sign({ sub: '7', exp: now() - 3600 })],
    ['expired within the tolerance', () => sign({ sub: '7', exp: now() - CLOCK_TOLERANCE_SECONDS + 5 })],
    ['expired just past the tolerance', () => sign({ sub: '7', exp: now() - CLOCK_TOLERANCE_SECONDS - 1 })],
    ['no exp', () => sign({ sub: '7' })],
    ['exp as a string', () => sign({ sub: '7', exp: String(now() + 60) })],
    ['no sub', () => sign({ exp: now() + 60 })],
    ['nbf in the future', () => sign({ sub: '7', exp: now() + 600, nbf: now() + 300 })],
    ['nbf within the tolerance', () => sign({ sub: '7', exp: now() + 600, nbf: now() + 10 })],
    ['nbf as a string', () => sign({ sub: '7', exp: now() + 600, nbf: 'soon' })],
    ['iat as a string', () => sign({ sub: '7', exp: now() + 600, iat: 'then' })],
    ['another secret', () => signToken('o'.repeat(40), 7)],
    [
      'HS512',
      () => new SignJWT({ sub: '7', exp: now() + 60 }).setProtectedHeader({ alg: 'HS512' }).sign(key),
    ],
    ['alg none', async () => `${enc({ alg: 'none' })}.${enc({ sub: '7', exp: now() + 60 })}.`],
    ['a crit header', () => sign({ sub: '7', exp: now() + 60 }, { alg: 'HS256', crit: ['x'], x: 1 })],
    [
      'a tampered payload',
      async () => {
        const [h, , s] = (await signToken(secret, 7)).split('.');
        return `${h}.${enc({ sub: '8', exp: now() + 60 })}.${s}`;
      },
    ],
    ['a truncated signature', async () => (await signToken(secret, 7)).slice(0, -2)],
    ['a payload that is not JSON', async () => `${enc({ alg: 'HS256' })}.bm90IGpzb24.${'A'.repeat(43)}`],
    ['a payload that is an array, correctly signed', () => sign([1])],
    [
      'a header that is not an object, correctly signed',
      () => sign({ sub: '7', exp: now() + 60 }, [] as never),
    ],
    ['b64 without crit', () => sign({ sub: '7', exp: now() + 60 }, { alg: 'HS256', b64: true })],
  ];
  it.each(cases)('%s', async (_name, make) => {
    const token = await make();
    expect(await weSay(token)).toBe(await joseSays(token));
  });
});

describe('the cache of verified tokens', () => {
  const bearer = (token: string) => `Bearer ${token}`;

  it('admits a token on its second verification, and answers from it after', async () => {
    const verifier = createTokenVerifier(secret);
    const token = bearer(await signToken(secret, 7));
    expect(verifier.verify(token)).toEqual({ userId: 7, isAdmin: false });
    expect(verifier.cached).toBe(0);
    expect(verifier.verify(token)).toEqual({ userId: 7, isAdmin: false });
    expect(verifier.cached).toBe(1);
    expect(verifier.verify(token)).toEqual({ userId: 7, isAdmin: false });
    expect(verifier.cached).toBe(1);
  });

  it('keeps nothing for tokens seen once, as a flash crowd mostly sends', async () => {
    // The fixed expiry below is decades away: lift the lifetime bound, which is not tested here.
    const verifier = createTokenVerifier(secret, { maxTtlSeconds: Number.MAX_SAFE_INTEGER });
    // A fixed expiry (2100-01-01) makes the 2,000 tokens, and so their fingerprints, the same on
    // every run: two fingerprints that happened to be equal would admit a token on first sight.
    for (let userId = 1; userId <= 2000; userId++) {
      expect(verifier.verify(bearer(await sign({ sub: String(userId), exp: 4_102_444_800 }))).userId).toBe(
        userId,
      );
    }
    expect(verifier.cached).toBe(0);
  });

  it('answers each cached token with its own user', async () => {
    const verifier = createTokenVerifier(secret);
    const tokens = [
      bearer(await signToken(secret, 1)),
      bearer(await signToken(secret, 2, { admin: true })),
      bearer(await signToken(secret, 3)),
    ];
    for (let round = 0; round < 3; round++) {
      expect(tokens.map((t) => verifier.verify(t))).toEqual([
        { userId: 1, isAdmin: false },
        { userId: 2, isAdmin: true },
        { userId: 3, isAdmin: false },
      ]);
    }
    expect(verifier.cached).toBe(3);
  });

  it('refuses a cached token once it expires', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const verifier = createTokenVerifier(secret);
      const token = bearer(await sign({ sub: '7', exp: now() + 60 }));
      verifier.verify(token);
      verifier.verify(token);
      expect(verifier.cached).toBe(1);
      vi.setSystemTime(Date.now() + (60 + CLOCK_TOLERANCE_SECONDS - 1) * 1000);
      expect(verifier.verify(token).userId).toBe(7);
      vi.setSystemTime(Date.now() + 2000);
      expect(() => verifier.verify(token)).toThrow('Token expired');
    } finally {
      vi.useRealTimers();
    }
  });

  it('never caches a refused token', async () => {
    const verifier = createTokenVerifier(secret);
    const forged = bearer(await signToken('o'.repeat(40), 7));
    for (let i = 0; i < 3; i++) expect(() => verifier.verify(forged)).toThrow('Invalid token');
    expect(verifier.cached).toBe(0);
  });
});
