import {
  CouponPersistJob,
  drainCouponPending,
  QueueName,
  sweepCouponPending,
  ZCouponDrainJob,
} from '@flash/core';
import type { QueueWorker } from '../job.ts';

/**
 * Moves coupon issuances from Redis into Postgres. Two ways in, both idempotent:
 * - `drain` jobs, added by the API after issues (deduplicated per coupon), persist a coupon
 *   within moments of a burst;
 * - the `sweep`, every second, drains every coupon that still has pending entries, which is
 *   what persists an issuance whose drain job was never added (API killed right after the
 *   script) or whose job died with a worker (until BullMQ's stall check redelivers it).
 */
export const couponPersistWorker: QueueWorker = {
  queue: QueueName.CouponPersist,
  concurrency: 4,
  schedules: [{ id: 'coupon-persist-sweep', name: CouponPersistJob.Sweep, everyMs: 1000 }],
  async handle(rt, job) {
    if (job.name === CouponPersistJob.Sweep) return sweepCouponPending(rt);
    if (job.name === CouponPersistJob.Drain) {
      const { couponId } = ZCouponDrainJob.parse(job.data);
      return drainCouponPending(rt, couponId);
    }
    throw new Error(`unknown coupon-persist job ${job.name}`);
  },
};
