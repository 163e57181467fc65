import { drainUnsavedOrders, OrderPersistJob, QueueName } from '@flash/core';
import type { QueueWorker } from '../job.ts';

/**
 * Saves orders answered from Redis into Postgres. The API adds a `drain` job after answered
 * orders (throttled, deduplicated); the same job every second saves what a lost trigger or a
 * killed API left behind. Both are the one idempotent drain (order.persist.ts).
 */
export const orderPersistWorker: QueueWorker = {
  queue: QueueName.OrderPersist,
  concurrency: 1,
  schedules: [{ id: 'order-persist-sweep', name: OrderPersistJob.Drain, everyMs: 1000 }],
  async handle(rt, job) {
    if (job.name === OrderPersistJob.Drain) return { saved: await drainUnsavedOrders(rt) };
    throw new Error(`unknown order-persist job ${job.name}`);
  },
};
