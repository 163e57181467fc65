import { createRedis, type Runtime } from '@flash/core';
import { Worker } from 'bullmq';
import type { QueueWorker } from './job.ts';

/** Every queue this process drains. Each entry lives in its own folder, one per queue. */
export const QUEUE_WORKERS: QueueWorker[] = [];

export type RunningWorkers = { workers: Worker[]; close(): Promise<void> };

export async function startWorkers(
  rt: Runtime,
  definitions: QueueWorker[] = QUEUE_WORKERS,
): Promise<RunningWorkers> {
  // Workers block on Redis and must ride out outages: their own connection, retrying forever.
  const connection = createRedis(rt.config.redisUrl, 'worker', 'flash-sale-worker');
  const workers = definitions.map(
    (def) =>
      new Worker(def.queue, (job) => def.handle(rt, job), {
        connection,
        prefix: rt.keys.bullPrefix,
        concurrency: def.concurrency,
      }),
  );
  for (const worker of workers) worker.on('error', () => {});
  for (const def of definitions) {
    for (const s of def.schedules ?? []) {
      await rt.queues[def.queue].upsertJobScheduler(
        s.id,
        { every: s.everyMs },
        { name: s.name, data: s.data ?? {} },
      );
    }
  }
  return {
    workers,
    async close() {
      // close() lets active jobs finish; anything interrupted is redelivered (handlers are idempotent).
      await Promise.all(workers.map((w) => w.close()));
      connection.disconnect();
    },
  };
}
