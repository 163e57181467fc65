import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';
import type { CouponMeta } from '../src/coupon/coupon.model.ts';
import {
  ackPending,
  type CouponKeys,
  readPending,
  runIssueCoupon,
  runRestoreCoupon,
  runRevokeIssuance,
} from '../src/coupon/coupon.store.ts';
import { runScript } from '../src/redis/scripts.ts';

const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);
/** 100 s in ms: the rate limits' interval below. */
const I = 100_000;
const open: CouponMeta = { total: 3, startsAtMs: 0, endsAtMs: 0, validDays: 0, expireAtMs: 0 };

describe('coupon Lua scripts', () => {
  let env: TestRuntime;
  // The scripts' own connection, without the runtime's 3 s command timeout: thousands of
  // parallel calls on a loaded machine may take longer, and what is tested here is the scripts.
  let scripts: Redis;
  let keys: CouponKeys;
  let nextId = 1;
  beforeAll(async () => {
    env = await createTestRuntime();
    scripts = new Redis(env.config.redisUrl);
  });
  afterAll(async () => {
    scripts.disconnect();
    await env.cleanup();
  });
  beforeEach(() => {
    keys = env.rt.keys.coupon(nextId++);
  });

  const redis = () => scripts;
  const issue = (userId: number, nowMs = NOW) => runIssueCoupon(redis(), keys, { userId, nowMs });
  const load = (meta: Partial<CouponMeta> = {}, rows: { userId: number; issuedAtMs: number }[] = []) =>
    runRestoreCoupon(redis(), keys, { ...open, ...meta }, rows);

  describe('issueCoupon', () => {
    it('issues: records the user in `issued` and appends the same issuance to `pending`', async () => {
      await load();
      expect(await issue(7)).toEqual({ code: 'OK' });
      expect(await redis().hget(keys.issued, '7')).toBe(String(NOW));
      expect(await readPending(redis(), keys, 10)).toEqual([
        { id: expect.any(String), userId: 7, issuedAtMs: NOW },
      ]);
    });

    it('fails closed when meta is missing, and writes nothing', async () => {
      await redis().hset(keys.issued, '_', '1');
      expect(await issue(7)).toEqual({ code: 'NOT_LOADED' });
      expect(await redis().hlen(keys.issued)).toBe(1);
      expect(await redis().exists(keys.pending)).toBe(0);
    });

    it('fails closed when meta lacks a field', async () => {
      await load();
      await redis().hdel(keys.meta, 'endsAt');
      expect(await issue(7)).toEqual({ code: 'NOT_LOADED' });
    });

    it('fails closed when the issued hash (its "_" marker) is missing, even with meta present', async () => {
      await load();
      await redis().del(keys.issued);
      expect(await issue(7)).toEqual({ code: 'NOT_LOADED' });
      expect(await redis().exists(keys.issued, keys.pending)).toBe(0);
    });

    it('refuses before the window opens and issues from its first millisecond', async () => {
      await load({ startsAtMs: NOW + 1 });
      expect(await issue(7, NOW)).toEqual({ code: 'NOT_ACTIVE' });
      expect(await issue(7, NOW + 1)).toEqual({ code: 'OK' });
    });

    it('issues until the last millisecond before the window closes, then refuses', async () => {
      await load({ endsAtMs: NOW + 1 });
      expect(await issue(7, NOW)).toEqual({ code: 'OK' });
      expect(await issue(8, NOW + 1)).toEqual({ code: 'NOT_ACTIVE' });
      expect(await redis().hexists(keys.issued, '8')).toBe(0);
    });

    it('refuses a non-numeric time or limit rather than comparing garbage', async () => {
      await load();
      const allKeys = [keys.meta, keys.issued, keys.pending, keys.limiter('u:7'), keys.limiter('ip:x')];
      for (const args of [
        [7, 'soon', 0, 0, 0, 0],
        [7, 'nan', 0, 0, 0, 0],
        [7, NOW, 'x', 1, 0, 0],
        [7, NOW, -1, 1, 0, 0],
        [7, NOW, 1000, 0, 0, 0],
        [7, NOW, 0, 0, 1000, 'x'],
      ]) {
        await expect(runScript(redis(), 'issueCoupon', allKeys, args)).rejects.toThrow(/issueCoupon: now/);
      }
      expect(await redis().hexists(keys.issued, '7')).toBe(0);
      expect(await redis().exists(keys.limiter('u:7'), keys.limiter('ip:x'))).toBe(0);
    });

    it('treats 0 as an open bound (Lua: 0 is true, so the checks compare explicitly)', async () => {
      await load({ startsAtMs: 0, endsAtMs: 0 });
      expect(await issue(7, 1)).toEqual({ code: 'OK' });
    });

    it('refuses a second issue to the same user, and a first one once sold out', async () => {
      await load({ total: 2 });
      expect(await issue(1)).toEqual({ code: 'OK' });
      expect(await issue(1)).toEqual({ code: 'ALREADY_ISSUED' });
      expect(await issue(2)).toEqual({ code: 'OK' });
      expect(await issue(3)).toEqual({ code: 'SOLD_OUT' });
      // A holder asking again after the sell-out is told they hold it, not that it is sold out.
      expect(await issue(2)).toEqual({ code: 'ALREADY_ISSUED' });
      expect(await redis().hlen(keys.issued)).toBe(3);
      expect(await redis().xlen(keys.pending)).toBe(2);
    });

    it('never issues more than the total, nor twice to one user, under 3,000 parallel calls', async () => {
      await load({ total: 500 });
      const users = Array.from({ length: 3_000 }, (_, i) => (i % 1_500) + 1);
      const results = await Promise.all(users.map((u) => issue(u)));
      const issued = users.filter((_, i) => results[i]?.code === 'OK');
      expect(issued).toHaveLength(500);
      expect(new Set(issued).size).toBe(500);
      expect(await redis().hlen(keys.issued)).toBe(501);
      expect(await redis().xlen(keys.pending)).toBe(500);
      const pendingUsers = (await readPending(redis(), keys, 1_000)).map((p) => p.userId);
      expect(new Set(pendingUsers)).toEqual(new Set(issued));
      expect(results.filter((r) => r.code === 'SOLD_OUT').length).toBeGreaterThan(0);
    });
  });

  describe('issueCoupon rate limits (per user and per address, on this coupon)', () => {
    // One call per 100 s (I), 2 at once, for both limits. The script runs on a clock the test
    // stands still while Redis expires a limiter key in real time once its bucket is whole again:
    // intervals this long outlive any pause of a loaded machine within a test.
    const limit = (subject: string) => ({ subject, intervalMicros: I * 1000, burst: 2 });
    const limited = (userId: number, ip: string, nowMs = NOW) =>
      runIssueCoupon(redis(), keys, { userId, nowMs, limits: { user: limit(`u:${userId}`), ip: limit(ip) } });

    it('lets the burst through, then refuses without deciding or counting, until the bucket refills', async () => {
      await load({ total: 100 });
      expect(await limited(1, 'ip:a')).toEqual({ code: 'OK' });
      // Counted although refused by the issue decision: a call is a call.
      expect(await limited(1, 'ip:b')).toEqual({ code: 'ALREADY_ISSUED' });
      expect(await limited(1, 'ip:c')).toEqual({ code: 'RATE_LIMITED', limit: 'user', retryAfterMs: I });
      expect(await limited(1, 'ip:c', NOW + I)).toEqual({ code: 'ALREADY_ISSUED' });
      // The refused call did not count against ip:c either: it still has its whole burst.
      expect(await limited(2, 'ip:c', NOW + I)).toEqual({ code: 'OK' });
      expect(await limited(3, 'ip:c', NOW + I)).toEqual({
        code: 'RATE_LIMITED',
        limit: 'ip',
        retryAfterMs: I,
      });
      expect(await redis().hlen(keys.issued)).toBe(3);
      expect(await redis().xlen(keys.pending)).toBe(2);
    });

    it('names the limit that frees up last when both refuse', async () => {
      await load({ total: 100 });
      expect(await limited(1, 'ip:a')).toEqual({ code: 'OK' });
      expect(await limited(1, 'ip:a', NOW + 50_000)).toEqual({ code: 'ALREADY_ISSUED' });
      // User 1 has used its burst (next call fits at NOW+100 s); ip:b is used up at NOW+60 s by
      // two other users (next call fits at NOW+160 s). At NOW+60 s both refuse user 1: the
      // address frees up last, so it is the one named, with its wait.
      expect(await limited(2, 'ip:b', NOW + 60_000)).toEqual({ code: 'OK' });
      expect(await limited(3, 'ip:b', NOW + 60_000)).toEqual({ code: 'OK' });
      expect(await limited(1, 'ip:b', NOW + 60_000)).toEqual({
        code: 'RATE_LIMITED',
        limit: 'ip',
        retryAfterMs: I,
      });
      // From a fresh address only the user limit refuses, with its own (shorter) wait.
      expect(await limited(1, 'ip:c', NOW + 60_000)).toEqual({
        code: 'RATE_LIMITED',
        limit: 'user',
        retryAfterMs: 40_000,
      });
    });

    it('keeps its limiters in the coupon slot and lets them expire', async () => {
      await load();
      expect(await limited(1, 'ip:a')).toEqual({ code: 'OK' });
      expect(keys.limiter('u:1')).toMatch(/\{coupon:\d+\}:rl:u:1$/);
      expect(await redis().pttl(keys.limiter('ip:a'))).toBeGreaterThan(0);
      // The issuance records the call for the user limit: no key of its own until the next call.
      expect(await redis().exists(keys.limiter('u:1'))).toBe(0);
      expect(await limited(1, 'ip:a')).toEqual({ code: 'ALREADY_ISSUED' });
      expect(await redis().pttl(keys.limiter('u:1'))).toBeGreaterThan(0);
      // A call refused by the issue decision writes its key at once.
      expect(await limited(2, 'ip:b', NOW - 1)).toEqual({ code: 'OK' });
      await redis().hset(keys.meta, 'total', 2);
      expect(await limited(3, 'ip:b')).toEqual({ code: 'SOLD_OUT' });
      expect(await redis().pttl(keys.limiter('u:3'))).toBeGreaterThan(0);
    });

    // Thousands of sequential script calls: minutes on a loaded machine. A property cut off by
    // its timeout would go on in the background, moving `keys` under the next tests.
    it('decides every call as a plain GCRA of both limits would (random calls, users, addresses, times)', {
      timeout: 240_000,
    }, async () => {
      // The reference: each limit a TAT in µs; a call refused by either limit is counted by
      // neither; the issue decision runs only for calls both allow.
      const intervalMicros = I * 1000;
      type Call = { user: number; ip: number; advanceMs: number };
      const call = fc.record({
        user: fc.integer({ min: 1, max: 3 }),
        ip: fc.integer({ min: 1, max: 2 }),
        // Mostly calls closer together than the interval (100 s), so buckets are rarely idle.
        advanceMs: fc.oneof(
          fc.constant(0),
          fc.integer({ min: 0, max: 60 }).map((ms) => ms * 1000),
          fc.integer({ min: 0, max: 250 }).map((ms) => ms * 1000),
        ),
      });
      let compared = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(call, { minLength: 1, maxLength: 40 }),
          fc.integer({ min: 1, max: 3 }),
          fc.integer({ min: 1, max: 3 }),
          // Calls before the window opens are refused by the decision yet counted by the limits.
          fc.constantFrom(0, 150_000),
          async (calls: Call[], userBurst, ipBurst, opensAfterMs) => {
            keys = env.rt.keys.coupon(nextId++);
            const startsAtMs = opensAfterMs === 0 ? 0 : NOW + opensAfterMs;
            await load({ total: 2, startsAtMs });
            const tat = new Map<string, number>();
            const holders = new Set<number>();
            let nowMs = NOW;
            const gcra = (subject: string, burst: number) => {
              const base = Math.max(tat.get(subject) ?? 0, nowMs * 1000);
              const allowedAt = base + intervalMicros - burst * intervalMicros;
              return {
                next: base + intervalMicros,
                waitMs: Math.max(0, Math.ceil((allowedAt - nowMs * 1000) / 1000)),
              };
            };
            for (const { user, ip, advanceMs } of calls) {
              nowMs += advanceMs;
              const u = gcra(`u:${user}`, userBurst);
              const a = gcra(`ip:${ip}`, ipBurst);
              let expected: unknown;
              if (u.waitMs > 0 || a.waitMs > 0) {
                expected =
                  a.waitMs > 0 && (u.waitMs === 0 || a.waitMs > u.waitMs)
                    ? { code: 'RATE_LIMITED', limit: 'ip', retryAfterMs: a.waitMs }
                    : { code: 'RATE_LIMITED', limit: 'user', retryAfterMs: u.waitMs };
              } else {
                tat.set(`u:${user}`, u.next);
                tat.set(`ip:${ip}`, a.next);
                if (nowMs < startsAtMs) expected = { code: 'NOT_ACTIVE' };
                else if (holders.has(user)) expected = { code: 'ALREADY_ISSUED' };
                else if (holders.size >= 2) expected = { code: 'SOLD_OUT' };
                else {
                  holders.add(user);
                  expected = { code: 'OK' };
                }
              }
              const actual = await runIssueCoupon(redis(), keys, {
                userId: user,
                nowMs,
                limits: {
                  user: { subject: `u:${user}`, intervalMicros, burst: userBurst },
                  ip: { subject: `ip:${ip}`, intervalMicros, burst: ipBurst },
                },
              });
              expect(actual).toEqual(expected);
              compared++;
            }
          },
        ),
        { numRuns: 300 },
      );
      expect(compared).toBeGreaterThan(300);
    });

    it('limits calls for a coupon Redis does not hold (unknown ids are throttled too)', async () => {
      expect(await limited(1, 'ip:a')).toEqual({ code: 'NOT_LOADED' });
      expect(await limited(1, 'ip:a')).toEqual({ code: 'NOT_LOADED' });
      expect(await limited(1, 'ip:a')).toEqual({ code: 'RATE_LIMITED', limit: 'user', retryAfterMs: I });
    });
  });

  describe('revokeIssuance (and the pending id issueCoupon answers when asked)', () => {
    const issueWithId = async (userId: number) => {
      const raw = await runScript(
        redis(),
        'issueCoupon',
        [keys.meta, keys.issued, keys.pending, keys.limiter('-'), keys.limiter('-')],
        [userId, NOW, 'off', 0, 'off', 0, 'id'],
      );
      if (!Array.isArray(raw) || raw[0] !== 0 || typeof raw[1] !== 'string') throw new Error(`got ${raw}`);
      return raw[1] as string;
    };

    it('issueCoupon with ARGV[7] = id answers {OK, id} with the id of the pending entry it appended', async () => {
      await load();
      const id = await issueWithId(7);
      expect(await readPending(redis(), keys, 10)).toEqual([{ id, userId: 7, issuedAtMs: NOW }]);
      // Refusals stay bare codes.
      expect(await issue(7)).toEqual({ code: 'ALREADY_ISSUED' });
    });

    it('takes back exactly that issuance: the user leaves `issued`, the entry `pending` (deleted once empty)', async () => {
      await load();
      const id7 = await issueWithId(7);
      const id8 = await issueWithId(8);
      expect(await runRevokeIssuance(redis(), keys, { userId: 7, issuedAtMs: NOW, pendingId: id7 })).toBe(
        true,
      );
      expect(await redis().hget(keys.issued, '7')).toBeNull();
      expect((await readPending(redis(), keys, 10)).map((e) => e.id)).toEqual([id8]);
      expect(await runRevokeIssuance(redis(), keys, { userId: 8, issuedAtMs: NOW, pendingId: id8 })).toBe(
        true,
      );
      expect(await redis().exists(keys.pending)).toBe(0);
      expect(await redis().hlen(keys.issued)).toBe(1);
      // The place is free again.
      expect(await issue(7)).toEqual({ code: 'OK' });
    });

    it('changes nothing when the entry is gone (persisted) or is not that issuance', async () => {
      await load();
      const id = await issueWithId(7);
      expect(await runRevokeIssuance(redis(), keys, { userId: 8, issuedAtMs: NOW, pendingId: id })).toBe(
        false,
      );
      expect(await runRevokeIssuance(redis(), keys, { userId: 7, issuedAtMs: NOW + 1, pendingId: id })).toBe(
        false,
      );
      await ackPending(redis(), keys, [id]);
      expect(await runRevokeIssuance(redis(), keys, { userId: 7, issuedAtMs: NOW, pendingId: id })).toBe(
        false,
      );
      expect(await redis().hget(keys.issued, '7')).toBe(String(NOW));
    });
  });

  describe('restoreCoupon', () => {
    it('loads meta and the rows, so only the rest of the quantity can be issued', async () => {
      const rows = [
        { userId: 1, issuedAtMs: NOW - 2 },
        { userId: 2, issuedAtMs: NOW - 1 },
      ];
      expect(await load({ total: 3 }, rows)).toEqual({ restored: true, issuedCount: 2 });
      expect(await redis().hgetall(keys.meta)).toEqual({
        total: '3',
        startsAt: '0',
        endsAt: '0',
        validDays: '0',
      });
      expect(await redis().hget(keys.issued, '2')).toBe(String(NOW - 1));
      expect(await issue(2)).toEqual({ code: 'ALREADY_ISSUED' });
      expect(await issue(3)).toEqual({ code: 'OK' });
      expect(await issue(4)).toEqual({ code: 'SOLD_OUT' });
    });

    it('leaves a live coupon untouched, whatever rows it is given', async () => {
      await load({ total: 5 });
      await issue(1);
      await issue(2);
      expect(await load({ total: 100 }, [])).toEqual({ restored: false, issuedCount: 2 });
      expect(await redis().hget(keys.meta, 'total')).toBe('5');
      expect(await redis().hlen(keys.issued)).toBe(3);
    });

    it('counts issuances still waiting in `pending` when only meta was lost', async () => {
      await load({ total: 3 });
      await issue(1);
      await issue(2);
      await redis().del(keys.meta);
      // Postgres has none of them yet: only the stream remembers them.
      expect(await load({ total: 3 }, [])).toEqual({ restored: true, issuedCount: 2 });
      expect(await issue(2)).toEqual({ code: 'ALREADY_ISSUED' });
      expect(await issue(3)).toEqual({ code: 'OK' });
      expect(await issue(4)).toEqual({ code: 'SOLD_OUT' });
    });

    it('rebuilds when the issued hash was lost but meta survived', async () => {
      await load({ total: 3 });
      await issue(1);
      await redis().del(keys.issued);
      expect(await issue(9)).toEqual({ code: 'NOT_LOADED' });
      expect(await load({ total: 3 }, [{ userId: 1, issuedAtMs: NOW }])).toEqual({
        restored: true,
        issuedCount: 1,
      });
    });

    it('sets the expiry only when asked to', async () => {
      const expireAtMs = Date.now() + 3_600_000;
      await load({ expireAtMs });
      expect(await redis().pexpiretime(keys.meta)).toBe(expireAtMs);
      expect(await redis().pexpiretime(keys.issued)).toBe(expireAtMs);
      keys = env.rt.keys.coupon(nextId++);
      await load({ expireAtMs: 0 });
      expect(await redis().pexpiretime(keys.meta)).toBe(-1);
      expect(await redis().pexpiretime(keys.issued)).toBe(-1);
    });
  });

  describe('couponAckPending', () => {
    it('deletes exactly the ids given, then the stream once it is empty', async () => {
      await load({ total: 3 });
      await issue(1);
      await issue(2);
      const [first, second] = await readPending(redis(), keys, 10);
      expect(await ackPending(redis(), keys, [first!.id])).toBe(1);
      expect((await readPending(redis(), keys, 10)).map((p) => p.userId)).toEqual([2]);
      // Deleting twice is a no-op (two drainers overlapping).
      expect(await ackPending(redis(), keys, [first!.id])).toBe(0);
      expect(await redis().exists(keys.pending)).toBe(1);
      expect(await ackPending(redis(), keys, [second!.id])).toBe(1);
      expect(await redis().exists(keys.pending)).toBe(0);
    });

    it('deletes more ids than one unpack() can take', async () => {
      await load({ total: 2_500 });
      await Promise.all(Array.from({ length: 2_500 }, (_, i) => issue(i + 1)));
      const entries = await readPending(redis(), keys, 5_000);
      expect(
        await ackPending(
          redis(),
          keys,
          entries.map((e) => e.id),
        ),
      ).toBe(2_500);
      expect(await redis().exists(keys.pending)).toBe(0);
    });
  });
});
