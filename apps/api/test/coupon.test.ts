import { drainCouponPending, manualClock } from '@flash/core';
import { listIssuedUsers } from '@flash/core/internal/coupon/coupon.repository';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createTestServer, type TestServer } from '../../../test/support.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * The API's clock is manual, but Redis expires a coupon's state by its own clock: a fixed start in
 * the past let Redis drop state the test still expected (a window of 2026-11-26 plus a week's
 * retention was gone after 2026-12-03T13:00). The hour the run starts in keeps both clocks close.
 */
const START = Math.floor(Date.now() / HOUR) * HOUR;
/** ISO-8601 without milliseconds, and with a numeric offset: both forms the API accepts. */
const isoSeconds = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const isoOffset = (ms: number) => new Date(ms).toISOString().replace('Z', '+00:00');

describe('coupons over the API', () => {
  const clock = manualClock(new Date(START));
  let s: TestServer;
  let admin: string;
  beforeAll(async () => {
    s = await createTestServer({ clock });
    admin = await s.token(1, { admin: true });
  });
  afterAll(() => s.cleanup());

  const create = (input: Record<string, unknown>, token = admin) =>
    call(s.app, 'mutation', 'admin.coupon.create', input, token);
  const createCoupon = async (input: Record<string, unknown> = {}): Promise<number> => {
    const res = await create({
      name: 'Welcome',
      discount: { type: 'FIXED', value: 1_000 },
      totalQuantity: 10,
      ...input,
    });
    expect(res.status).toBe(200);
    return res.body.result.data.couponId;
  };
  const issue = async (couponId: unknown, userId: number) =>
    call(s.app, 'mutation', 'coupon.issue', { couponId }, await s.token(userId));
  const mine = async (userId: number) =>
    (await call(s.app, 'query', 'coupon.mine', undefined, await s.token(userId))).body;
  const persistedUsers = async (couponId: number) =>
    (await listIssuedUsers(s.rt.db, couponId)).map((r) => r.userId).sort((a, b) => a - b);
  const rowsOf = (couponId: number) =>
    s.rt.db
      .selectFrom('issued_coupons')
      .selectAll()
      .where('coupon_id', '=', couponId)
      .orderBy('user_id')
      .execute();

  describe('admin.coupon.create', () => {
    it('writes the coupon to Postgres and its hot-path state to Redis', async () => {
      const res = await create({
        name: 'Flash 10%',
        discount: { type: 'PERCENT', value: 10 },
        totalQuantity: 500,
        issueStartsAt: isoSeconds(START - HOUR),
        issueEndsAt: isoOffset(START + HOUR),
        validDays: 7,
      });
      expect(res).toEqual({ status: 200, body: { result: { data: { couponId: expect.any(Number) } } } });
      const couponId = res.body.result.data.couponId;
      const row = await s.rt.db
        .selectFrom('coupons')
        .selectAll()
        .where('id', '=', couponId)
        .executeTakeFirstOrThrow();
      expect(row).toMatchObject({
        name: 'Flash 10%',
        discount_type: 'PERCENT',
        discount_value: 10,
        total_quantity: 500,
        issue_starts_at: new Date(START - HOUR),
        issue_ends_at: new Date(START + HOUR),
        valid_days: 7,
      });
      const keys = s.rt.keys.coupon(couponId);
      expect(await s.rt.redis.hgetall(keys.meta)).toEqual({
        total: '500',
        startsAt: String(START - HOUR),
        endsAt: String(START + HOUR),
        validDays: '7',
      });
      // Kept a week past the window's end, then gone (see COUPON_REDIS_RETENTION_MS).
      expect(await s.rt.redis.pexpiretime(keys.meta)).toBe(START + HOUR + 7 * DAY);
    });

    it('keeps the state of a coupon without an end', async () => {
      const couponId = await createCoupon();
      expect(await s.rt.redis.pexpiretime(s.rt.keys.coupon(couponId).meta)).toBe(-1);
    });

    it.each([
      ['a zero FIXED value', { discount: { type: 'FIXED', value: 0 } }],
      ['a PERCENT over 100', { discount: { type: 'PERCENT', value: 101 } }],
      ['a PERCENT of 0', { discount: { type: 'PERCENT', value: 0 } }],
      ['a fractional value', { discount: { type: 'FIXED', value: 1.5 } }],
      ['an unknown discount type', { discount: { type: 'BOGO', value: 1 } }],
      ['a zero quantity', { totalQuantity: 0 }],
      ['a zero validDays', { validDays: 0 }],
      ['a date that is not ISO-8601', { issueStartsAt: 'tomorrow' }],
      [
        'an end before the start',
        { issueStartsAt: '2026-11-27T00:00:00Z', issueEndsAt: '2026-11-26T00:00:00Z' },
      ],
      ['an unknown field', { vip: true }],
    ])('refuses %s with INVALID_INPUT', async (_, patch) => {
      const res = await create({
        name: 'x',
        discount: { type: 'FIXED', value: 1 },
        totalQuantity: 1,
        ...patch,
      });
      expect(res.status).toBe(400);
      expect(res.body.error.data.appCode).toBe('INVALID_INPUT');
    });

    it('is for admins only', async () => {
      const res = await create(
        { name: 'x', discount: { type: 'FIXED', value: 1 }, totalQuantity: 1 },
        await s.token(5),
      );
      expect(res.status).toBe(403);
      expect(res.body.error.data.appCode).toBe('FORBIDDEN');
    });
  });

  describe('coupon.issue', () => {
    it('issues once per user, then answers ALREADY_ISSUED, then SOLD_OUT for others', async () => {
      const couponId = await createCoupon({ totalQuantity: 2 });
      const first = await issue(couponId, 11);
      expect(first).toEqual({
        status: 200,
        body: { result: { data: { couponId, status: 'ISSUED', issuedAt: clock.now().toISOString() } } },
      });
      const again = await issue(couponId, 11);
      expect(again.status).toBe(409);
      expect(again.body.error.data).toMatchObject({ code: 'CONFLICT', appCode: 'COUPON_ALREADY_ISSUED' });
      expect((await issue(couponId, 12)).status).toBe(200);
      const late = await issue(couponId, 13);
      expect(late.status).toBe(409);
      expect(late.body.error.data.appCode).toBe('COUPON_SOLD_OUT');
    });

    it('answers COUPON_NOT_FOUND (404) for an unknown coupon', async () => {
      const res = await issue(987_654, 11);
      expect(res.status).toBe(404);
      expect(res.body.error.data).toMatchObject({ code: 'NOT_FOUND', appCode: 'COUPON_NOT_FOUND' });
    });

    it('answers COUPON_NOT_ACTIVE before the window opens and after it closes', async () => {
      const now = clock.now().getTime();
      const notYet = await createCoupon({ issueStartsAt: new Date(now + HOUR).toISOString() });
      const over = await createCoupon({
        issueStartsAt: new Date(now - 2 * HOUR).toISOString(),
        issueEndsAt: new Date(now - HOUR).toISOString(),
      });
      for (const couponId of [notYet, over]) {
        const res = await issue(couponId, 11);
        expect(res.status).toBe(409);
        expect(res.body.error.data.appCode).toBe('COUPON_NOT_ACTIVE');
      }
      clock.advance(HOUR);
      try {
        expect((await issue(notYet, 11)).status).toBe(200);
      } finally {
        clock.advance(-HOUR);
      }
    });

    it('answers NOT_ACTIVE for a window closed so long ago that its Redis state has expired', async () => {
      const now = clock.now().getTime();
      const couponId = await createCoupon({
        issueStartsAt: new Date(now - 30 * DAY).toISOString(),
        issueEndsAt: new Date(now - 20 * DAY).toISOString(),
      });
      expect(await s.rt.redis.exists(s.rt.keys.coupon(couponId).meta)).toBe(0);
      const res = await issue(couponId, 11);
      expect(res.status).toBe(409);
      expect(res.body.error.data.appCode).toBe('COUPON_NOT_ACTIVE');
      expect(await s.rt.redis.exists(s.rt.keys.coupon(couponId).meta)).toBe(0);
    });

    it('needs a bearer token', async () => {
      const couponId = await createCoupon();
      const res = await call(s.app, 'mutation', 'coupon.issue', { couponId });
      expect(res.status).toBe(401);
      expect(res.body.error.data.appCode).toBe('UNAUTHORIZED');
      expect(await s.rt.redis.hlen(s.rt.keys.coupon(couponId).issued)).toBe(1);
    });

    it.each([[0], [-1], [1.5], ['1'], [null]])('refuses couponId %j with INVALID_INPUT', async (couponId) => {
      const res = await issue(couponId, 11);
      expect(res.status).toBe(400);
      expect(res.body.error.data.appCode).toBe('INVALID_INPUT');
    });
  });

  describe('coupon.mine', () => {
    it('shows a coupon as soon as it is issued, before and after the worker persists it, once', async () => {
      const couponId = await createCoupon({
        name: 'RYW',
        discount: { type: 'PERCENT', value: 15 },
        validDays: 3,
      });
      const issued = await issue(couponId, 21);
      const expected = {
        couponId,
        name: 'RYW',
        discount: { type: 'PERCENT', value: 15 },
        status: 'AVAILABLE',
        issuedAt: issued.body.result.data.issuedAt,
        // validDays after the issue, the same before and after the worker persists it.
        expiresAt: new Date(Date.parse(issued.body.result.data.issuedAt) + 3 * DAY).toISOString(),
      };
      // Not in Postgres yet: only Redis knows.
      expect(await rowsOf(couponId)).toEqual([]);
      expect(await mine(21)).toEqual({ result: { data: { items: [expected] } } });

      await drainCouponPending(s.rt, couponId);
      expect(await rowsOf(couponId)).toMatchObject([
        {
          user_id: 21,
          issued_at: new Date(expected.issuedAt),
          expires_at: new Date(Date.parse(expected.issuedAt) + 3 * DAY),
        },
      ]);
      expect(await mine(21)).toEqual({ result: { data: { items: [expected] } } });
      // Another user sees none of it.
      expect((await mine(22)).result.data.items).toEqual([]);
    });

    it('lists newest first and reports USED and EXPIRED', async () => {
      const a = await createCoupon({ name: 'A', validDays: 1 });
      const b = await createCoupon({ name: 'B' });
      const c = await createCoupon({ name: 'C', validDays: 30 });
      await issue(a, 31);
      clock.advance(1_000);
      await issue(b, 31);
      clock.advance(1_000);
      await issue(c, 31);
      await drainCouponPending(s.rt, b);
      await s.rt.db
        .updateTable('issued_coupons')
        .set({ status: 'USED', used_at: clock.now() })
        .where('coupon_id', '=', b)
        .where('user_id', '=', 31)
        .execute();
      // `a` expires a day after its issue; `c` is still pending in Redis and valid for 30 days.
      clock.advance(2 * DAY);
      try {
        const items = (await mine(31)).result.data.items;
        expect(items.map((i: { couponId: number; status: string }) => [i.couponId, i.status])).toEqual([
          [c, 'AVAILABLE'],
          [b, 'USED'],
          [a, 'EXPIRED'],
        ]);
        await drainCouponPending(s.rt, a);
        expect((await mine(31)).result.data.items.map((i: { status: string }) => i.status)).toEqual([
          'AVAILABLE',
          'USED',
          'EXPIRED',
        ]);
      } finally {
        clock.advance(-2 * DAY - 2_000);
      }
    });

    it('needs a bearer token', async () => {
      const res = await call(s.app, 'query', 'coupon.mine');
      expect(res.status).toBe(401);
    });
  });

  describe('a flash crowd', () => {
    it('5,000 concurrent calls from 2,500 users for 1,000 coupons: exactly 1,000 issued, nobody twice', async () => {
      const couponId = await createCoupon({ totalQuantity: 1_000 });
      const users = Array.from({ length: 2_500 }, (_, i) => 1_000 + i);
      const tokens = new Map(await Promise.all(users.map(async (u) => [u, await s.token(u)] as const)));
      // Every user calls twice, all 5,000 calls in flight at once, in a shuffled order.
      const callers = [...users, ...users].sort(() => Math.random() - 0.5);
      const responses = await Promise.all(
        callers.map((u) => call(s.app, 'mutation', 'coupon.issue', { couponId }, tokens.get(u))),
      );

      const winners = callers.filter((_, i) => responses[i]!.status === 200);
      expect(winners).toHaveLength(1_000);
      expect(new Set(winners).size).toBe(1_000);
      const refusals = responses.filter((r) => r.status !== 200);
      expect(refusals).toHaveLength(4_000);
      for (const r of refusals) {
        expect(r.status).toBe(409);
        expect(['COUPON_SOLD_OUT', 'COUPON_ALREADY_ISSUED']).toContain(r.body.error.data.appCode);
      }
      // Each winner's second call is ALREADY_ISSUED; the other 1,500 users are told SOLD_OUT both times.
      const already = refusals.filter((r) => r.body.error.data.appCode === 'COUPON_ALREADY_ISSUED');
      expect(already).toHaveLength(1_000);

      const drained = await drainCouponPending(s.rt, couponId);
      expect(drained.persisted).toBe(1_000);
      expect(await persistedUsers(couponId)).toEqual([...winners].sort((a, b) => a - b));
      expect(await s.rt.redis.exists(s.rt.keys.coupon(couponId).pending)).toBe(0);
    });
  });
});
