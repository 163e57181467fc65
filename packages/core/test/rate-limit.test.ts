import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateRedis } from '../../../test/redis-server.ts';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';
import { manualClock } from '../src/clock.ts';
import type { RateLimit } from '../src/config.ts';
import { AppError } from '../src/errors.ts';
import { addressSubject, enforceRateLimit } from '../src/rate-limit/rate-limit.service.ts';
import { consumeRateLimits, intervalMicros } from '../src/rate-limit/rate-limit.store.ts';
import { createRedis } from '../src/redis/client.ts';
import { decodeReply } from '../src/redis/replies.ts';
import { runScript } from '../src/redis/scripts.ts';

const T0 = Date.parse('2026-11-26T10:00:00Z');
const ALLOWED = 'OK';
const LIMITED = 'RATE_LIMITED';

let env: TestRuntime;
let n = 0;
/** A fresh limiter key per test: tests share one prefix. */
const freshKey = () => env.rt.keys.rateLimit('test.proc', `u:${++n}`);

beforeAll(async () => {
  env = await createTestRuntime();
});
afterAll(() => env.cleanup());

// Intervals of 100 s and more: the tests stand the limiter's clock still while Redis expires its
// keys in real time (after the bucket's whole horizon), so a key must outlive any pause of a
// loaded machine between two calls of one test, or a test sees a fresh bucket.
/** 100 s: the interval of the limits below. */
const I = 100_000;

/**
 * Runs the script with one limit on (as the user limit; the address limit off): one per 100 s,
 * `burst` at once. Answers [code, retryAfterMs].
 */
const hit = async (key: string, nowMs: number, burst = 5, intervalUs = I * 1000) => {
  const reply = decodeReply(
    'rateLimit',
    await runScript(env.rt.redis, 'rateLimit', [key, `${key}:unused`], [nowMs, intervalUs, burst, 'off', 0]),
  );
  return [reply.code, reply.code === 'RATE_LIMITED' ? reply.retryAfterMs : 0];
};

describe('scripts/lua/rateLimit-2.lua and lib/gcra.lua (GCRA)', () => {
  it('allows the burst at once, then refuses with the time until the next slot', async () => {
    const key = freshKey();
    for (let i = 0; i < 5; i++) expect(await hit(key, T0)).toEqual([ALLOWED, 0]);
    expect(await hit(key, T0)).toEqual([LIMITED, I]);
    expect(await hit(key, T0 + 40_000)).toEqual([LIMITED, 60_000]);
  });

  it('refills at the sustained rate, one slot per interval', async () => {
    const key = freshKey();
    for (let i = 0; i < 5; i++) await hit(key, T0);
    expect((await hit(key, T0 + I - 1))[0]).toBe(LIMITED);
    expect((await hit(key, T0 + I))[0]).toBe(ALLOWED);
    expect((await hit(key, T0 + I))[0]).toBe(LIMITED);
    // Three intervals later, three more.
    const after = await Promise.all([1, 2, 3, 4].map(() => hit(key, T0 + 4 * I)));
    expect(after.map((r) => r[0]).sort()).toEqual([ALLOWED, ALLOWED, ALLOWED, LIMITED]);
  });

  it('does not count refused requests: hammering earns nothing', async () => {
    // The key must outlive 200 calls in real time (see I).
    const key = freshKey();
    for (let i = 0; i < 5; i++) await hit(key, T0);
    for (let i = 0; i < 200; i++) expect((await hit(key, T0 + i * 500))[0]).toBe(LIMITED);
    expect((await hit(key, T0 + I))[0]).toBe(ALLOWED);
  });

  it('gives back the whole burst after being idle, and the key expires by then', async () => {
    const key = freshKey();
    for (let i = 0; i < 5; i++) await hit(key, T0);
    const pttl = await env.rt.redis.pttl(key);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(5 * I + 1);
    const later = T0 + 100 * I;
    for (let i = 0; i < 5; i++) expect((await hit(key, later))[0]).toBe(ALLOWED);
    expect((await hit(key, later))[0]).toBe(LIMITED);
  });

  it('stores the arrival time to the microsecond (fractional rates stay exact)', async () => {
    const key = freshKey();
    // 3 per 100 s: 33,333,333 us apart.
    await hit(key, T0, 1, 33_333_333);
    expect(await env.rt.redis.get(key)).toBe(String(T0 * 1000 + 33_333_333));
  });

  it('lets exactly `burst` of 1,000 parallel callers through at one instant', async () => {
    const key = freshKey();
    const results = await Promise.all(Array.from({ length: 1000 }, () => hit(key, T0, 100)));
    expect(results.filter((r) => r[0] === ALLOWED)).toHaveLength(100);
    expect(results.filter((r) => r[0] === LIMITED)).toHaveLength(900);
  });

  it('treats an arrival time a little ahead (another instance with a faster clock) as a full bucket', async () => {
    const key = freshKey();
    // 5 intervals are this limit's whole horizon; 20 s beyond it is clock skew, not a fresh start.
    await env.rt.redis.set(key, String((T0 + 5 * I + 20_000) * 1000), 'PX', 600_000);
    expect(await hit(key, T0)).toEqual([LIMITED, I]);
    expect(await env.rt.redis.get(key)).toBe(String((T0 + 5 * I + 20_000) * 1000));
  });

  it('starts over on a value no clock skew explains (corrupt, or a clock that jumped back)', async () => {
    for (const stored of ['garbage', 'nan', 'inf', String(1e30), String((T0 + 2 * 86_400_000) * 1000)]) {
      const key = freshKey();
      await env.rt.redis.set(key, stored);
      for (let i = 0; i < 5; i++) expect((await hit(key, T0))[0]).toBe(ALLOWED);
      expect((await hit(key, T0))[0]).toBe(LIMITED);
      // Rewritten with an expiry.
      expect(await env.rt.redis.pttl(key)).toBeGreaterThan(0);
    }
  });

  it('answers an error for bad arguments instead of letting requests through', async () => {
    const key = freshKey();
    for (const args of [
      ['x', I * 1000, 5, 'off', 0],
      ['nan', I * 1000, 5, 'off', 0],
      [T0, 0, 5, 'off', 0],
      [T0, 'nan', 5, 'off', 0],
      [T0, I * 1000, 0, 'off', 0],
      [T0, I * 1000, 'x', 'off', 0],
      // 0 is not "off": only the word switches a limit off.
      [T0, I * 1000, 5, 0, 0],
      [T0, 'off', 0, I * 1000, 'x'],
    ]) {
      await expect(runScript(env.rt.redis, 'rateLimit', [key, `${key}:b`], args)).rejects.toThrow(
        /rateLimit/,
      );
    }
    expect(await env.rt.redis.exists(key, `${key}:b`)).toBe(0);
  });
});

describe('consumeRateLimits', () => {
  /** `per100s` calls per 100 s (see I), `burst` at once. */
  const limit = (per100s: number, burst: number): RateLimit => ({ perSecond: per100s / 100, burst });
  const pair = (user: RateLimit, ip: RateLimit) => {
    const key = freshKey();
    return { user: { key, limit: user }, ip: { key: `${key}:ip`, limit: ip } };
  };

  it('checks the user and the address limit in one call; a refused call is counted by neither', async () => {
    const checks = pair(limit(10, 2), limit(10, 3));
    expect(await consumeRateLimits(env.rt.redis, checks, T0)).toEqual({ code: 'OK' });
    expect(await consumeRateLimits(env.rt.redis, checks, T0)).toEqual({ code: 'OK' });
    expect(await consumeRateLimits(env.rt.redis, checks, T0)).toEqual({
      code: 'RATE_LIMITED',
      limit: 'user',
      retryAfterMs: I / 10,
    });
    // The address limit did not count the refused call: with a fresh user it has one call left.
    const other = { ...checks, user: { key: freshKey(), limit: limit(10, 2) } };
    expect(await consumeRateLimits(env.rt.redis, other, T0)).toEqual({ code: 'OK' });
    expect(await consumeRateLimits(env.rt.redis, other, T0)).toEqual({
      code: 'RATE_LIMITED',
      limit: 'ip',
      retryAfterMs: I / 10,
    });
  });

  it('names the limit that frees up last when both refuse', async () => {
    const checks = pair(limit(10, 1), limit(2, 1));
    expect(await consumeRateLimits(env.rt.redis, checks, T0)).toEqual({ code: 'OK' });
    expect(await consumeRateLimits(env.rt.redis, checks, T0 + 5_000)).toEqual({
      code: 'RATE_LIMITED',
      limit: 'ip',
      retryAfterMs: 45_000,
    });
  });

  it('leaves a limit that is off out, and does not ask Redis when both are off', async () => {
    const userOnly = pair(limit(10, 1), limit(0, 1));
    expect(await consumeRateLimits(env.rt.redis, userOnly, T0)).toEqual({ code: 'OK' });
    expect((await consumeRateLimits(env.rt.redis, userOnly, T0)).code).toBe('RATE_LIMITED');
    expect(await env.rt.redis.exists(userOnly.ip.key)).toBe(0);
    const off = pair(limit(0, 1), limit(0, 1));
    for (let i = 0; i < 3; i++)
      expect(await consumeRateLimits(env.rt.redis, off, T0)).toEqual({ code: 'OK' });
    expect(await env.rt.redis.exists(off.user.key, off.ip.key)).toBe(0);
  });

  it('keeps working after SCRIPT FLUSH', async () => {
    // A private redis-server: SCRIPT FLUSH on the shared one would pull the scripts from under
    // every other test file running beside this one.
    const server = await startPrivateRedis();
    const redis = new Redis(server.url);
    try {
      const checks = pair(limit(1, 1), limit(0, 1));
      await redis.script('FLUSH');
      expect(await consumeRateLimits(redis, checks, T0)).toEqual({ code: 'OK' });
      await redis.script('FLUSH');
      expect(await consumeRateLimits(redis, checks, T0)).toEqual({
        code: 'RATE_LIMITED',
        limit: 'user',
        retryAfterMs: I,
      });
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });

  it('rounds the interval to whole microseconds, at least one', () => {
    expect(intervalMicros(3)).toBe(333_333);
    expect(intervalMicros(0.5)).toBe(2_000_000);
    expect(intervalMicros(1_000_000)).toBe(1);
  });
});

describe('enforceRateLimit', () => {
  const withLimits = (user: RateLimit, ip: RateLimit, clock = manualClock(new Date(T0))) => ({
    ...env.rt,
    clock,
    config: { ...env.rt.config, rateLimit: { user, ip } },
  });

  it('refuses a user over their limit with RATE_LIMITED, whatever address they use', async () => {
    const clock = manualClock(new Date(T0));
    const rt = withLimits({ perSecond: 1000 / I, burst: 2 }, { perSecond: 1000, burst: 1000 }, clock);
    const call = (ip: string) => enforceRateLimit(rt, { procedure: 'coupon.issue', userId: 501, ip });
    expect(await call('10.0.0.1')).toBe('allowed');
    expect(await call('10.0.0.2')).toBe('allowed');
    const refused = await call('10.0.0.3').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ code: 'RATE_LIMITED', details: { limit: 'user', retryAfterMs: I } });
    // Counted per procedure: another procedure has its own allowance.
    expect(await enforceRateLimit(rt, { procedure: 'order.create', userId: 501, ip: '10.0.0.3' })).toBe(
      'allowed',
    );
    clock.advance(I);
    expect(await call('10.0.0.3')).toBe('allowed');
  });

  it('refuses an address over its limit across many users, and names the limit', async () => {
    const rt = withLimits({ perSecond: 1000, burst: 1000 }, { perSecond: 1000 / I, burst: 3 });
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        enforceRateLimit(rt, { procedure: 'balance.charge', userId: 600 + i, ip: '192.0.2.7' }),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    for (const r of results.filter((r) => r.status === 'rejected')) {
      expect(r.reason).toMatchObject({ code: 'RATE_LIMITED', details: { limit: 'ip' } });
    }
    // Another address is not affected.
    expect(await enforceRateLimit(rt, { procedure: 'balance.charge', userId: 600, ip: '192.0.2.8' })).toBe(
      'allowed',
    );
  });

  it('counts one IPv6 /64 as one address, and an IPv4-mapped address as the IPv4 one', async () => {
    const rt = withLimits({ perSecond: 1000, burst: 1000 }, { perSecond: 1000 / I, burst: 2 });
    const call = (ip: string, userId: number) =>
      enforceRateLimit(rt, { procedure: 'payment.pay', userId, ip });
    expect(await call('2001:db8:1:2::1', 1)).toBe('allowed');
    expect(await call('2001:db8:1:2:ffff:ffff:ffff:ffff', 2)).toBe('allowed');
    await expect(call('2001:0db8:0001:0002:0:0:0:abcd', 3)).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    expect(await call('2001:db8:1:3::1', 4)).toBe('allowed');
    expect(await call('198.51.100.4', 5)).toBe('allowed');
    expect(await call('::ffff:198.51.100.4', 6)).toBe('allowed');
    await expect(call('::ffff:c633:6404', 7)).rejects.toMatchObject({ code: 'RATE_LIMITED' });
  });

  it('does nothing when both limits are off', async () => {
    const rt = withLimits({ perSecond: 0, burst: 1 }, { perSecond: 0, burst: 1 });
    for (let i = 0; i < 5; i++) {
      expect(await enforceRateLimit(rt, { procedure: 'order.create', userId: 700, ip: '10.1.1.1' })).toBe(
        'allowed',
      );
    }
  });

  it('fails open when Redis is unreachable (the throttle is not a correctness guard)', async () => {
    const down = createRedis('redis://127.0.0.1:1', 'command');
    try {
      const rt = { ...withLimits({ perSecond: 1, burst: 1 }, { perSecond: 1, burst: 1 }), redis: down };
      expect(await enforceRateLimit(rt, { procedure: 'coupon.issue', userId: 1, ip: '10.0.0.1' })).toBe(
        'unchecked',
      );
    } finally {
      down.disconnect();
    }
  });
});

describe('addressSubject', () => {
  it.each([
    ['203.0.113.9', 'ip:203.0.113.9'],
    ['::ffff:203.0.113.9', 'ip:203.0.113.9'],
    ['::FFFF:cb00:7109', 'ip:203.0.113.9'],
    ['2001:db8::1', 'ip:2001:db8:0:0::/64'],
    ['2001:DB8:0:0:1::', 'ip:2001:db8:0:0::/64'],
    ['fe80::1%eth0', 'ip:fe80:0:0:0::/64'],
    ['::1', 'ip:0:0:0:0::/64'],
    ['64:ff9b::192.0.2.33', 'ip:64:ff9b:0:0::/64'],
    ['not-an-ip', 'ip:invalid'],
    ['{evil}', 'ip:invalid'],
    ['', 'ip:invalid'],
  ])('%j -> %j', (ip, subject) => {
    expect(addressSubject(ip)).toBe(subject);
  });
});
