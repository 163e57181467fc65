import { createHmac } from 'node:crypto';
import { base64url, errors, jwtVerify, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
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
