import {
  CouponPersistJob,
  createCoupon,
  createRuntime,
  type DrainResult,
  issueCoupon,
  QueueName,
} from '@flash/core';
import { insertIssuedBatch, listIssuedUsers } from '@flash/core/internal/coupon/coupon.repository';
import { readPending, runIssueCoupon } from '@flash/core/internal/coupon/coupon.store';
import { Job } from 'bullmq';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Child, startChild } from '../../../test/processes.ts';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';
import { couponPersistWorker } from '../src/coupon-persist/coupon-persist.worker.ts';
import { type RunningWorkers, startWorkers } from '../src/workers.ts';

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

describe('coupon-persist worker', () => {
  let env: TestRuntime;
  let children: Child[] = [];
  let running: RunningWorkers | undefined;
  let admin: pg.Pool;
  beforeAll(async () => {
    env = await createTestRuntime();
    admin = new pg.Pool({ connectionString: env.config.databaseUrl, max: 2 });
    // Postgres notices a vanished client (the SIGKILLed worker) within 100 ms even while its
    // statement runs, and rolls its transaction back, instead of after the statement ends.
    const dbName = new URL(env.config.databaseUrl).pathname.slice(1);
    await admin.query(
      `ALTER DATABASE ${pg.escapeIdentifier(dbName)} SET client_connection_check_interval = '100ms'`,
    );
  });
  afterEach(async () => {
    await Promise.all(children.map((c) => c.kill()));
    children = [];
    await running?.close();
    running = undefined;
  });
  afterAll(async () => {
    await admin.end();
    await env.cleanup();
  });

  const newCoupon = async (totalQuantity: number) =>
    (
      await createCoupon(env.rt, {
        name: 'c',
        discount: { type: 'PERCENT', value: 5 },
        totalQuantity,
        issueStartsAt: null,
        issueEndsAt: null,
        validDays: 14,
      })
    ).couponId;
  const persistedUsers = async (couponId: number) =>
    (await listIssuedUsers(env.rt.db, couponId)).map((r) => r.userId).sort((a, b) => a - b);
  const pendingExists = (couponId: number) => env.rt.redis.exists(env.rt.keys.coupon(couponId).pending);
  const startWorkerProcess = async () => {
    const child = startChild('worker', env.childEnv);
    children.push(child);
    await expect.poll(() => child.output(), { timeout: 20_000 }).toContain('worker draining');
    return child;
  };

  it('killed (SIGKILL) in the middle of a drain and restarted: the same 1,000 rows, no duplicates', async () => {
    const couponId = await newCoupon(1_000);
    const users = range(1, 1_000);
    for (const userId of users) await issueCoupon(env.rt, userId, couponId);
    // A previous worker persisted 400 of them and died before deleting them from the stream.
    const first = await readPending(env.rt.redis, env.rt.keys.coupon(couponId), 400);
    await insertIssuedBatch(env.rt.db, {
      couponId,
      validDays: 14,
      userIds: first.map((e) => e.userId),
      issuedAtMs: first.map((e) => e.issuedAtMs),
    });

    // Hold the next INSERT inside its transaction, so the kill lands mid-drain.
    await admin.query(`CREATE FUNCTION hold_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_sleep(60); RETURN NULL; END $$`);
    await admin.query(`CREATE TRIGGER hold_insert AFTER INSERT ON issued_coupons
      FOR EACH STATEMENT EXECUTE FUNCTION hold_insert()`);
    const inFlightInsert = () =>
      admin.query(`SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'flash-sale-worker'
          AND query LIKE '%INSERT INTO issued_coupons%' AND wait_event = 'PgSleep'`);

    const doomed = await startWorkerProcess();
    await expect.poll(async () => (await inFlightInsert()).rows.length, { timeout: 10_000 }).toBe(1);
    await doomed.kill('SIGKILL');
    await admin.query('DROP TRIGGER hold_insert ON issued_coupons');
    // Its transaction dies with it: nothing of the interrupted batch was committed or deleted.
    await expect.poll(async () => (await inFlightInsert()).rows.length, { timeout: 10_000 }).toBe(0);
    expect(await persistedUsers(couponId)).toHaveLength(400);
    expect(await env.rt.redis.xlen(env.rt.keys.coupon(couponId).pending)).toBe(1_000);

    await startWorkerProcess();
    await expect.poll(() => pendingExists(couponId), { timeout: 15_000 }).toBe(0);
    expect(await persistedUsers(couponId)).toEqual(users);
  });

  it('the same drain job delivered twice, and run twice at once, leaves one row per issuance', async () => {
    const couponId = await newCoupon(900);
    const issue = (userIds: number[]) =>
      Promise.all(
        userIds.map((userId) =>
          runIssueCoupon(env.rt.redis, env.rt.keys.coupon(couponId), { userId, nowMs: Date.now() }),
        ),
      );
    const job = { name: CouponPersistJob.Drain, data: { couponId } } as Job;

    // Twice at once in one process: the second delivery joins the running drain.
    await issue(range(1, 300));
    const [a, b] = await Promise.all([
      couponPersistWorker.handle(env.rt, job),
      couponPersistWorker.handle(env.rt, job),
    ]);
    expect(a).toEqual({ batches: 1, persisted: 300, inserted: 300 });
    expect(b).toBe(a);
    expect(await couponPersistWorker.handle(env.rt, job)).toEqual({ batches: 0, persisted: 0, inserted: 0 });

    // Twice at once in two processes (two runtimes, as two worker processes have): both drains
    // run, over the same entries, and only one of them inserts each row.
    await issue(range(301, 300));
    const other = await createRuntime(env.config, { name: 'flash-sale-worker-2' });
    try {
      const [x, y] = (await Promise.all([
        couponPersistWorker.handle(env.rt, job),
        couponPersistWorker.handle(other, job),
      ])) as DrainResult[];
      expect(x!.inserted + y!.inserted).toBe(300);
      expect(x!.persisted + y!.persisted).toBeGreaterThanOrEqual(300);
    } finally {
      await other.close();
    }
    expect(await persistedUsers(couponId)).toEqual(range(1, 600));

    // And through BullMQ: two copies of one job (no deduplication), both processed.
    await issue(range(601, 300));
    const queue = env.rt.queues[QueueName.CouponPersist];
    const copies = [
      await queue.add(CouponPersistJob.Drain, { couponId }),
      await queue.add(CouponPersistJob.Drain, { couponId }),
    ];
    running = await startWorkers(env.rt, [couponPersistWorker]);
    await expect
      .poll(() => Promise.all(copies.map((c) => c.getState())), { timeout: 20_000 })
      .toEqual(['completed', 'completed']);
    for (const copy of copies) {
      const done = await Job.fromId(queue, copy.id!);
      expect(done?.returnvalue).toMatchObject({ batches: expect.any(Number), inserted: expect.any(Number) });
    }
    expect(await persistedUsers(couponId)).toEqual(range(1, 900));
    expect(await pendingExists(couponId)).toBe(0);
  });

  it('persists an issuance whose drain job was never added (API killed right after the script)', async () => {
    running = await startWorkers(env.rt, [couponPersistWorker]);
    const couponId = await newCoupon(5);
    // The script alone, as if the API died before requesting a drain.
    await runIssueCoupon(env.rt.redis, env.rt.keys.coupon(couponId), { userId: 42, nowMs: Date.now() });
    await expect.poll(() => persistedUsers(couponId), { timeout: 5_000 }).toEqual([42]);
    await expect.poll(() => pendingExists(couponId), { timeout: 5_000 }).toBe(0);
  });

  it('refuses a malformed drain job (it fails visibly, BullMQ retries and keeps it)', async () => {
    await expect(
      couponPersistWorker.handle(env.rt, { name: CouponPersistJob.Drain, data: { couponId: 'x' } } as Job),
    ).rejects.toThrow();
    await expect(couponPersistWorker.handle(env.rt, { name: 'nope', data: {} } as Job)).rejects.toThrow(
      /unknown/,
    );
  });
});
