import { manualClock, QueueName } from '@flash/core';
import { expiredOrders } from '@flash/core/internal/metrics/metrics.store';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  createTestRuntime,
  createTestServer,
  type TestRuntime,
  type TestServer,
} from '../../../test/support.ts';
import type { QueueWorker } from '../src/job.ts';
import { orderExpiryWorker } from '../src/order-expiry/order-expiry.worker.ts';
import { type RunningWorkers, startWorkers } from '../src/workers.ts';

describe('repeatable sweeps', () => {
  let t: TestRuntime;
  let workers: RunningWorkers;
  let runs = 0;
  let realWork = 0;
  // A sweep every 100 ms that finds nothing, beside real jobs on the same queue.
  const sweeping: QueueWorker = {
    queue: QueueName.Maintenance,
    concurrency: 1,
    schedules: [{ id: 'test-sweep', name: 'sweep', everyMs: 100 }],
    async handle(_rt, job) {
      if (job.name === 'sweep') return { found: runs++ * 0 };
      realWork++;
      return { done: true };
    },
  };

  beforeAll(async () => {
    t = await createTestRuntime();
    workers = await startWorkers(t.rt, [sweeping]);
  });
  afterAll(async () => {
    await workers.close();
    await t.cleanup();
  });

  it('leave no completed jobs behind, so the queue dashboard shows the real work', async () => {
    const queue = t.rt.queues[QueueName.Maintenance];
    await queue.add('real', {});
    await expect.poll(() => runs, { interval: 100 }).toBeGreaterThanOrEqual(5);
    await expect.poll(() => realWork).toBe(1);
    const completed = await queue.getCompleted();
    expect(completed.map((j) => j.name)).toEqual(['real']);
  });
});

describe('the order-expiry sweep', () => {
  const clock = manualClock(new Date('2026-11-26T10:00:00Z'));
  let s: TestServer;
  beforeAll(async () => {
    s = await createTestServer({ clock, overrides: { ORDER_HOLD_SECONDS: '60' } });
  });
  afterAll(() => s.cleanup());

  it('counts the orders it expired in Redis, where /metrics reads flash_orders_expired_total', async () => {
    const admin = await s.token(1, { admin: true });
    const product = (
      await call(s.app, 'mutation', 'admin.product.create', { name: 'x', price: 1_000, stock: 10 }, admin)
    ).body.result.data;
    for (const userId of [11, 12, 13]) {
      const order = await call(
        s.app,
        'mutation',
        'order.create',
        // With a key: saved in Postgres at once, where the sweep looks for due orders.
        { items: [{ productId: product.id, quantity: 1 }], idempotencyKey: `expiry-${userId}` },
        await s.token(userId),
      );
      expect(order.status).toBe(200);
    }
    const sweep = { name: 'expire-due', data: {} } as Job;
    expect(await orderExpiryWorker.handle(s.rt, sweep)).toEqual({ expired: 0 });
    expect(await expiredOrders(s.rt.redis, s.rt.keys)).toBe(0);
    clock.advance(61_000);
    expect(await orderExpiryWorker.handle(s.rt, sweep)).toEqual({ expired: 3 });
    expect(await orderExpiryWorker.handle(s.rt, sweep)).toEqual({ expired: 0 });
    expect(await expiredOrders(s.rt.redis, s.rt.keys)).toBe(3);
    const metrics = await s.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/^flash_orders_expired_total 3$/m);
  });
});
