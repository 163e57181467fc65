import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';
import { drainCouponPending, sweepCouponPending } from '../src/coupon/coupon.persist.ts';
import { insertIssuedBatch, lockCouponForPersist } from '../src/coupon/coupon.repository.ts';
import { restoreCoupon } from '../src/coupon/coupon.restore.ts';
import {
  createCoupon,
  ensureIssuedCouponRow,
  findHeldCoupon,
  issueCoupon,
} from '../src/coupon/coupon.service.ts';
import { readPending, runIssueCoupon } from '../src/coupon/coupon.store.ts';
import { createRuntime, type Runtime } from '../src/index.ts';

const DAY = 24 * 3_600_000;

describe('coupon persistence (Redis pending -> Postgres)', () => {
  let env: TestRuntime;
  let rt: Runtime;
  beforeAll(async () => {
    env = await createTestRuntime();
    rt = env.rt;
  });
  afterAll(() => env.cleanup());

  const newCoupon = async (totalQuantity: number, validDays: number | null = null) =>
    (
      await createCoupon(rt, {
        name: 'c',
        discount: { type: 'FIXED', value: 100 },
        totalQuantity,
        issueStartsAt: null,
        issueEndsAt: null,
        validDays,
      })
    ).couponId;
  /** Issues straight through the script: no drain job is requested (like an API killed right after). */
  const issueMany = async (couponId: number, users: number[]) => {
    const nowMs = Date.now();
    await Promise.all(
      users.map((userId) => runIssueCoupon(rt.redis, rt.keys.coupon(couponId), { userId, nowMs })),
    );
  };
  const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
  const persisted = async (couponId: number) =>
    rt.db
      .selectFrom('issued_coupons')
      .select(['user_id', 'issued_at', 'expires_at', 'status'])
      .where('coupon_id', '=', couponId)
      .orderBy('user_id')
      .execute();
  const pendingCount = (couponId: number) => rt.redis.xlen(rt.keys.coupon(couponId).pending);

  it('moves every pending issuance into one row each, with its issue time and expiry, and empties the stream', async () => {
    const couponId = await newCoupon(50, 3);
    await issueMany(couponId, range(1, 50));
    const inRedis = await rt.redis.hgetall(rt.keys.coupon(couponId).issued);
    expect(await drainCouponPending(rt, couponId)).toEqual({ batches: 1, persisted: 50, inserted: 50 });
    const rows = await persisted(couponId);
    expect(rows.map((r) => r.user_id)).toEqual(range(1, 50));
    for (const row of rows) {
      expect(row.issued_at.getTime()).toBe(Number(inRedis[String(row.user_id)]));
      expect(row.expires_at!.getTime()).toBe(row.issued_at.getTime() + 3 * DAY);
      expect(row.status).toBe('AVAILABLE');
    }
    expect(await rt.redis.exists(rt.keys.coupon(couponId).pending)).toBe(0);
    // The issued hash stays: it is what keeps one-per-user and the count in Redis.
    expect(await rt.redis.hlen(rt.keys.coupon(couponId).issued)).toBe(51);
  });

  it('leaves expires_at empty for a coupon without validDays', async () => {
    const couponId = await newCoupon(1);
    await issueMany(couponId, [9]);
    await drainCouponPending(rt, couponId);
    expect((await persisted(couponId))[0]!.expires_at).toBeNull();
  });

  it('persists in batches of the given size', async () => {
    const couponId = await newCoupon(100);
    await issueMany(couponId, range(1, 100));
    expect(await drainCouponPending(rt, couponId, { batchSize: 7 })).toEqual({
      batches: 15,
      persisted: 100,
      inserted: 100,
    });
    expect(await persisted(couponId)).toHaveLength(100);
  });

  it('a drain run twice, or by two processes at once, still leaves one row per issuance', async () => {
    const couponId = await newCoupon(2_000);
    await issueMany(couponId, range(1, 2_000));
    // A second runtime is another process as far as the in-process coalescing is concerned.
    const other = await createRuntime(env.config, { name: 'other-worker' });
    try {
      const results = await Promise.all([
        drainCouponPending(rt, couponId, { batchSize: 300 }),
        drainCouponPending(other, couponId, { batchSize: 300 }),
        drainCouponPending(rt, couponId, { batchSize: 300 }),
      ]);
      // The third call joined the first one's drain (same process) rather than racing it.
      expect(results[2]).toBe(results[0]);
      // Across the two processes each row was inserted exactly once.
      expect(results[0]!.inserted + results[1]!.inserted).toBe(2_000);
    } finally {
      await other.close();
    }
    expect(await drainCouponPending(rt, couponId)).toEqual({ batches: 0, persisted: 0, inserted: 0 });
    expect((await persisted(couponId)).map((r) => r.user_id)).toEqual(range(1, 2_000));
    expect(await pendingCount(couponId)).toBe(0);
  });

  it('a worker that died after its INSERT committed but before XDEL: the rows are inserted again as no-ops', async () => {
    const couponId = await newCoupon(10);
    await issueMany(couponId, range(1, 10));
    const entries = await readPending(rt.redis, rt.keys.coupon(couponId), 6);
    await insertIssuedBatch(rt.db, {
      couponId,
      validDays: null,
      userIds: entries.map((e) => e.userId),
      issuedAtMs: entries.map((e) => e.issuedAtMs),
    });
    expect(await pendingCount(couponId)).toBe(10);
    expect(await drainCouponPending(rt, couponId)).toEqual({ batches: 1, persisted: 10, inserted: 4 });
    expect((await persisted(couponId)).map((r) => r.user_id)).toEqual(range(1, 10));
    expect(await pendingCount(couponId)).toBe(0);
  });

  it('the sweep drains every coupon that has pending issuances, and only those', async () => {
    const a = await newCoupon(5);
    const b = await newCoupon(5);
    const idle = await newCoupon(5);
    await issueMany(a, [1, 2]);
    await issueMany(b, [3]);
    const swept = await sweepCouponPending(rt);
    expect(swept.coupons).toBeGreaterThanOrEqual(2);
    expect((await persisted(a)).map((r) => r.user_id)).toEqual([1, 2]);
    expect((await persisted(b)).map((r) => r.user_id)).toEqual([3]);
    expect(await persisted(idle)).toEqual([]);
    expect(await sweepCouponPending(rt)).toEqual({ coupons: 0, persisted: 0 });
  });

  it('a restore waits for a persistence batch in flight, so it counts the batch either way', async () => {
    const couponId = await newCoupon(3);
    await issueMany(couponId, [1, 2]);
    await rt.redis.del(rt.keys.coupon(couponId).meta, rt.keys.coupon(couponId).issued);
    let restored: Promise<unknown> | undefined;
    let restoreDone = false;
    await rt.db.transaction().execute(async (trx) => {
      await lockCouponForPersist(trx, couponId);
      restored = restoreCoupon(rt, couponId).then((r) => {
        restoreDone = true;
        return r;
      });
      // The restore is queued behind the batch's lock (an ungranted advisory lock of this
      // database), and has not finished: it waits rather than racing the batch.
      await expect
        .poll(async () => {
          const { rows } = await sql<{ waiting: string }>`
            SELECT count(*) AS waiting FROM pg_locks
            WHERE locktype = 'advisory' AND NOT granted
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`.execute(rt.db);
          return Number(rows[0]!.waiting);
        })
        .toBe(1);
      expect(restoreDone).toBe(false);
    });
    expect(await restored).toEqual({ outcome: 'RESTORED', issued: 2 });
    expect(
      await runIssueCoupon(rt.redis, rt.keys.coupon(couponId), { userId: 3, nowMs: Date.now() }),
    ).toEqual({
      code: 'OK',
    });
    expect(
      await runIssueCoupon(rt.redis, rt.keys.coupon(couponId), { userId: 4, nowMs: Date.now() }),
    ).toEqual({
      code: 'SOLD_OUT',
    });
  });

  describe('for the order flow', () => {
    it('findHeldCoupon sees an unpersisted issuance, then the row, and its USED status', async () => {
      const couponId = await newCoupon(5, 10);
      const { issuedAt } = await issueCoupon(rt, 77, couponId);
      const expected = {
        couponId,
        name: 'c',
        discount: { type: 'FIXED', value: 100 },
        issuedAt: new Date(issuedAt),
        expiresAt: new Date(Date.parse(issuedAt) + 10 * DAY),
        status: 'AVAILABLE',
      };
      expect(await persisted(couponId)).toEqual([]);
      expect(await findHeldCoupon(rt, 77, couponId)).toEqual(expected);
      expect(await findHeldCoupon(rt, 78, couponId)).toBeUndefined();
      expect(await findHeldCoupon(rt, 77, 999_999)).toBeUndefined();

      await drainCouponPending(rt, couponId);
      expect(await findHeldCoupon(rt, 77, couponId)).toEqual(expected);
      await rt.db
        .updateTable('issued_coupons')
        .set({ status: 'USED' })
        .where('coupon_id', '=', couponId)
        .execute();
      expect(await findHeldCoupon(rt, 77, couponId)).toEqual({ ...expected, status: 'USED' });
    });

    it('ensureIssuedCouponRow writes the row once, leaving an existing one as it is', async () => {
      const couponId = await newCoupon(5);
      const { issuedAt } = await issueCoupon(rt, 88, couponId);
      const row = { couponId, userId: 88, issuedAt: new Date(issuedAt), expiresAt: null };
      await rt.db.transaction().execute(async (trx) => {
        await ensureIssuedCouponRow(trx, row);
        await trx
          .updateTable('issued_coupons')
          .set({ status: 'USED' })
          .where('coupon_id', '=', couponId)
          .execute();
      });
      await ensureIssuedCouponRow(rt.db, row);
      // The worker catching up later changes nothing either.
      expect(await drainCouponPending(rt, couponId)).toMatchObject({ persisted: 1, inserted: 0 });
      expect(await persisted(couponId)).toEqual([
        { user_id: 88, issued_at: new Date(issuedAt), expires_at: null, status: 'USED' },
      ]);
    });
  });
});
