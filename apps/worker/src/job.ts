import type { Logger, QueueName, Runtime } from '@flash/core';
import type { Job } from 'bullmq';

/**
 * One queue's worker: its handler, how many jobs it runs at once, and any jobs that must
 * repeat on a schedule (sweeps that catch what an event-driven job missed).
 */
export type QueueWorker = {
  queue: QueueName;
  concurrency: number;
  /** `log`: the worker's logger, bound to the queue and the job id (tests may leave it out). */
  handle(rt: Runtime, job: Job, log?: Logger): Promise<unknown>;
  schedules?: { id: string; everyMs: number; name: string; data?: unknown }[];
};
