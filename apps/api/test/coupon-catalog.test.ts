import { buildServer } from '@flash/api';
import { createRuntime, drainCouponPending, manualClock, signToken } from '@flash/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  createTestEnv,
  createTestServer,
  type TestEnv,
  type TestServer,
} from '../../../test/support.ts';
import { startTcpProxy, type TcpProxy } from '../../../test/tcp-proxy.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// Redis expires coupon state by its own clock: keep the manual clock near real time.
const START = Math.floor(Date.now() / HOUR) * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();

describe('coupon.get and coupon.list (public)', () => {
  const clock = manualClock(new Date(START));
  let s: TestServer;
  let admin: string;
  beforeAll(async () => {
    s = await createTestServer({ clock });
    admin = await s.token(1, { admin: true });
  });
  afterAll(() => s.cleanup());

  const createCoupon = async (input: Record<string, unknown> = {}): Promise<number> => {
    const res = await call(
      s.app,
      'mutation',
      'admin.coupon.create',
      { name: 'Flash', discount: { type: 'FIXED', value: 1_000 }, totalQuantity: 3, ...input },
      admin,
    );
    expect(res.status).toBe(200);
    return res.body.result.data.couponId;
  };
  const issue = async (couponId: number, userId: number) =>
    call(s.app, 'mutation', 'coupon.issue', { couponId }, await s.token(userId));
  const get = (couponId: unknown) => call(s.app, 'query', 'coupon.get', { couponId });
  const list = (input?: unknown) => call(s.app, 'query', 'coupon.list', input);

  it('coupon.get answers without a token: the coupon and what is left, counting down to 0', async () => {
    const couponId = await createCoupon({
      name: 'Ten percent',
      discount: { type: 'PERCENT', value: 10 },
      issueStartsAt: iso(START - HOUR),
      issueEndsAt: iso(START + HOUR),
      validDays: 7,
    });
    expect(await get(couponId)).toEqual({
      status: 200,
      body: {
        result: {
          data: {
            id: couponId,
            name: 'Ten percent',
            discount: { type: 'PERCENT', value: 10 },
            totalQuantity: 3,
            remaining: 3,
            issueStartsAt: iso(START - HOUR),
            issueEndsAt: iso(START + HOUR),
            validDays: 7,
          },
        },
      },
    });
    for (const userId of [10, 11, 12]) expect((await issue(couponId, userId)).status).toBe(200);
    expect((await get(couponId)).body.result.data.remaining).toBe(0);
    expect((await issue(couponId, 13)).body.error.data.appCode).toBe('COUPON_SOLD_OUT');
    expect((await get(couponId)).body.result.data.remaining).toBe(0);
  });

  it('coupon.get: open-ended windows are null; the count follows every issuance', async () => {
    const couponId = await createCoupon({ totalQuantity: 5 });
    expect((await issue(couponId, 20)).status).toBe(200);
    expect((await issue(couponId, 20)).body.error.data.appCode).toBe('COUPON_ALREADY_ISSUED');
    expect((await get(couponId)).body.result.data).toMatchObject({
      remaining: 4,
      issueStartsAt: null,
      issueEndsAt: null,
      validDays: null,
    });
  });

  it('coupon.get: an unknown id is COUPON_NOT_FOUND; bad input is INVALID_INPUT', async () => {
    const res = await get(999_999);
    expect(res.status).toBe(404);
    expect(res.body.error.data.appCode).toBe('COUPON_NOT_FOUND');
    for (const bad of [0, -1, 1.5, '1']) {
      const r = await get(bad);
      expect(r.status).toBe(400);
      expect(r.body.error.data.appCode).toBe('INVALID_INPUT');
    }
  });

  it('coupon.get: a window closed long ago (its Redis state expired) counts from Postgres', async () => {
    const couponId = await createCoupon({
      totalQuantity: 4,
      issueStartsAt: iso(START - HOUR),
      issueEndsAt: iso(START + HOUR),
    });
    expect((await issue(couponId, 30)).status).toBe(200);
    // Persist, then let Redis lose the state as its expiry would.
    await drainCouponPending(s.rt, couponId);
    const keys = s.rt.keys.coupon(couponId);
    await s.rt.redis.del(keys.meta, keys.issued);
    clock.set(new Date(START + 2 * HOUR));
    try {
      expect((await get(couponId)).body.result.data.remaining).toBe(3);
    } finally {
      clock.set(new Date(START));
    }
  });

  it('coupon.get: live state lost from Redis answers UNAVAILABLE and is restored', async () => {
    const couponId = await createCoupon({ totalQuantity: 4 });
    expect((await issue(couponId, 40)).status).toBe(200);
    await drainCouponPending(s.rt, couponId);
    const keys = s.rt.keys.coupon(couponId);
    await s.rt.redis.del(keys.meta, keys.issued);
    const first = await get(couponId);
    expect(first.status).toBe(503);
    expect(first.body.error.data.appCode).toBe('UNAVAILABLE');
    await expect.poll(async () => (await get(couponId)).body.result?.data.remaining).toBe(3);
  });

  it('coupon.list: open and upcoming coupons, soonest first, in cursor pages; ended ones left out', async () => {
    // A database of its own keeps the other tests' coupons out of the listing.
    const own = await createTestServer({ clock });
    try {
      const token = await own.token(1, { admin: true });
      const make = async (name: string, window: Record<string, unknown>) =>
        (
          await call(
            own.app,
            'mutation',
            'admin.coupon.create',
            { name, discount: { type: 'FIXED', value: 500 }, totalQuantity: 2, ...window },
            token,
          )
        ).body.result.data.couponId as number;
      const later = await make('later', { issueStartsAt: iso(START + 2 * HOUR) });
      const always = await make('always', {});
      const ended = await make('ended', { issueStartsAt: iso(START - 2 * HOUR), issueEndsAt: iso(START) });
      const soon = await make('soon', { issueStartsAt: iso(START + HOUR), issueEndsAt: iso(START + DAY) });
      const open = await make('open', { issueStartsAt: iso(START - HOUR), issueEndsAt: iso(START + HOUR) });
      const always2 = await make('always too', {});
      await call(own.app, 'mutation', 'coupon.issue', { couponId: open }, await own.token(7));

      const page1 = await call(own.app, 'query', 'coupon.list', { limit: 2 });
      expect(page1.status).toBe(200);
      expect(page1.body.result.data.items.map((c: { id: number }) => c.id)).toEqual([always, always2]);
      expect(page1.body.result.data.nextCursor).toBe(always2);
      const page2 = await call(own.app, 'query', 'coupon.list', { cursor: always2, limit: 2 });
      expect(page2.body.result.data.items.map((c: { id: number }) => c.id)).toEqual([open, soon]);
      expect(page2.body.result.data.items[0]).toMatchObject({ name: 'open', remaining: 1, totalQuantity: 2 });
      const page3 = await call(own.app, 'query', 'coupon.list', { cursor: soon, limit: 2 });
      expect(page3.body.result.data).toEqual({
        items: [expect.objectContaining({ id: later, remaining: 2, issueEndsAt: null })],
        nextCursor: null,
      });
      const all = await call(own.app, 'query', 'coupon.list');
      expect(all.body.result.data.items.map((c: { id: number }) => c.id)).toEqual([
        always,
        always2,
        open,
        soon,
        later,
      ]);
      expect(all.body.result.data.items.map((c: { id: number }) => c.id)).not.toContain(ended);
    } finally {
      await own.cleanup();
    }
  });

  it('coupon.list: bad input is INVALID_INPUT', async () => {
    for (const bad of [{ limit: 0 }, { limit: 101 }, { cursor: -1 }, { other: 1 }]) {
      const r = await list(bad);
      expect(r.status).toBe(400);
      expect(r.body.error.data.appCode).toBe('INVALID_INPUT');
    }
  });
});

describe('coupon.get without Postgres', () => {
  let env: TestEnv;
  let proxy: TcpProxy;

  beforeAll(async () => {
    env = await createTestEnv();
    proxy = await startTcpProxy({
      host: '127.0.0.1',
      port: Number(new URL(env.config.databaseUrl).port || 5432),
    });
  });
  afterAll(async () => {
    await proxy.close();
    await env.cleanup();
  });

  it('keeps answering, with fresh counts, once the coupon was read (no Postgres per call)', async () => {
    const databaseUrl = new URL(env.config.databaseUrl);
    databaseUrl.port = String(proxy.port);
    const config = { ...env.config, databaseUrl: databaseUrl.toString() };
    const rt = await createRuntime(config, { name: 'coupon-get-test' });
    const app = await buildServer(config, { runtime: rt, logger: false });
    try {
      const admin = await signToken(config.jwtSecret, 1, { admin: true });
      const created = await call(
        app,
        'mutation',
        'admin.coupon.create',
        { name: 'c', discount: { type: 'FIXED', value: 100 }, totalQuantity: 10 },
        admin,
      );
      const couponId = created.body.result.data.couponId;
      expect((await call(app, 'query', 'coupon.get', { couponId })).body.result.data.remaining).toBe(10);

      proxy.cut();
      for (const userId of [2, 3]) {
        const issued = await call(
          app,
          'mutation',
          'coupon.issue',
          { couponId },
          await signToken(config.jwtSecret, userId),
        );
        expect(issued.status).toBe(200);
      }
      const res = await call(app, 'query', 'coupon.get', { couponId });
      expect(res.status).toBe(200);
      expect(res.body.result.data.remaining).toBe(8);
    } finally {
      proxy.restore();
      await app.close();
      await rt.close();
    }
  });
});
