import { createLogger, createRedisClient, isCluster, type Logger, type Runtime } from '@flash/core';
import { Worker } from 'bullmq';
import { couponPersistWorker } from './coupon-persist/coupon-persist.worker.ts';
import type { QueueWorker } from './job.ts';
import { maintenanceWorker } from './maintenance/maintenance.worker.ts';
import { orderExpiryWorker } from './order-expiry/order-expiry.worker.ts';
import { orderPersistWorker } from './order-persist/order-persist.worker.ts';
import { outboxExportWorker } from './outbox-export/outbox-export.worker.ts';

/** Every queue this process drains. Each entry lives in its own folder, one per queue. */
export const QUEUE_WORKERS: QueueWorker[] = [
  couponPersistWorker,
  orderPersistWorker,
  orderExpiryWorker,
  outboxExportWorker,
  maintenanceWorker,
];

/**
 * Schedules live in Redis, so a Redis that lost its data (FLUSHALL, restart without AOF) loses
 * them too; upserting them again now and then brings the sweeps back without a restart.
 */
const RESCHEDULE_EVERY_MS = 30_000;

/**
 * A sweep runs every second or so and mostly finds nothing: kept, its completed runs would bury
 * the real work in the queue dashboard. Its failures stay (the queue's default), visible and
 * alerted on through `flash_queue_jobs{state="failed"}`. (With a bounded `removeOnFail` here,
 * apps/worker/test/coupon-persist.test.ts failed: a restarted worker never said it was ready;
 * the cause was not established.)
 */
export const SWEEP_JOB_OPTIONS = { removeOnComplete: true } as const;

export type RunningWorkers = { workers: Worker[]; close(): Promise<void> };

export async function startWorkers(
  rt: Runtime,
  definitions: QueueWorker[] = QUEUE_WORKERS,
  log: Logger = createLogger('worker', rt.config.logLevel),
): Promise<RunningWorkers> {
  // Workers block on Redis and must ride out outages: their own connection, retrying forever.
  const connection = createRedisClient(rt.config, 'worker', 'flash-sale-worker');
  const workers = definitions.map(
    (def) =>
      new Worker(def.queue, (job) => def.handle(rt, job, log.child({ queue: def.queue, jobId: job.id })), {
        connection,
        prefix: rt.keys.bullPrefixOf(def.queue, isCluster(rt.config)),
        concurrency: def.concurrency,
      }),
  );
  for (const worker of workers) {
    // Connection errors repeat while Redis is down and surface on the jobs; failures are logged.
    worker.on('error', () => {});
    worker.on('failed', (job, err) =>
      log.warn({ queue: worker.name, jobId: job?.id, attempt: job?.attemptsMade, err }, 'job failed'),
    );
  }
  const schedule = async () => {
    for (const def of definitions) {
      for (const s of def.schedules ?? []) {
        await rt.queues[def.queue].upsertJobScheduler(
          s.id,
          { every: s.everyMs },
          { name: s.name, data: s.data ?? {}, opts: SWEEP_JOB_OPTIONS },
        );
      }
    }
  };
  await schedule();
  const rescheduler = setInterval(() => schedule().catch(() => {}), RESCHEDULE_EVERY_MS);
  rescheduler.unref();
  return {
    workers,
    async close() {
      clearInterval(rescheduler);
      // close() lets active jobs finish; anything interrupted is redelivered (handlers are idempotent).
      await Promise.all(workers.map((w) => w.close()));
      connection.disconnect();
    },
  };
}
