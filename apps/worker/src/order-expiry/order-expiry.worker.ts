import { countExpiredOrders, expireDueOrders, QueueName, reconcileHolds } from '@flash/core';
import type { QueueWorker } from '../job.ts';

/**
 * Expiry is a sweep, not one delayed job per order: the sweep finds every due order in
 * Postgres (partial index on pending orders), so an order whose job was never enqueued (API
 * killed after answering) still expires. Payment re-checks `expires_at` itself, so a sweep
 * running a second late never lets an expired order be paid.
 */
export const orderExpiryWorker: QueueWorker = {
  queue: QueueName.OrderExpiry,
  concurrency: 1,
  schedules: [
    { id: 'expire-due-orders', name: 'expire-due', everyMs: 1000 },
    { id: 'reconcile-holds', name: 'reconcile-holds', everyMs: 10_000 },
  ],
  async handle(rt, job) {
    if (job.name === 'expire-due') {
      let total = 0;
      // Drain a backlog in bounded batches rather than one huge transaction.
      for (let batch = await expireDueOrders(rt); batch > 0; batch = await expireDueOrders(rt))
        total += batch;
      // A lost count must not fail (and so repeat) a sweep whose expiries are done.
      await countExpiredOrders(rt.redis, rt.keys, total).catch(() => {});
      return { expired: total };
    }
    if (job.name === 'reconcile-holds') return reconcileHolds(rt);
    throw new Error(`unknown job ${job.name}`);
  },
};
