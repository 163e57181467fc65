import { createLogger, exportOutboxBatch, exportOutboxMessage, QueueName } from '@flash/core';
import { z } from 'zod';
import type { QueueWorker } from '../job.ts';

const ZExportJob = z.object({ outboxId: z.number().int().positive() });

/** Messages one batch takes; a job exports batches until the backlog is shorter than one. */
const BATCH_SIZE = 500;
/** Batches one job exports at most, so one job never runs for ever behind a steady stream. */
const MAX_BATCHES_PER_JOB = 20;

/**
 * `sweep` (scheduled) and `export-soon` (triggered right after payments) export the outbox in
 * batches (exportOutboxBatch: many rows per transaction, one UPDATE per batch). Jobs running at
 * once split the backlog (`SKIP LOCKED`). A message whose delivery failed stays unpublished with
 * its attempt counted and its error on the row; the job then fails, so BullMQ retries it with
 * backoff (and the next sweep tries again): what keeps failing is visible in the failed set and
 * on the row. Payments never wait for any of this.
 * `export` (one message) is what an older version queued; it is still served.
 */
export const outboxExportWorker: QueueWorker = {
  queue: QueueName.OutboxExport,
  concurrency: 2,
  schedules: [{ id: 'outbox-sweep', name: 'sweep', everyMs: 2000 }],
  async handle(rt, job, log = createLogger('worker', rt.config.logLevel)) {
    const info = (msg: string, data: unknown) => log.info({ data }, msg);
    if (job.name === 'export') {
      const { outboxId } = ZExportJob.parse(job.data);
      return exportOutboxMessage(rt, outboxId, { log: info });
    }
    if (job.name === 'sweep' || job.name === 'export-soon') {
      const total = { batches: 0, published: 0, failed: 0 };
      for (let i = 0; i < MAX_BATCHES_PER_JOB; i++) {
        const batch = await exportOutboxBatch(rt, { limit: BATCH_SIZE, log: info });
        if (batch.claimed === 0) break;
        total.batches++;
        total.published += batch.published;
        total.failed += batch.failed;
        if (batch.failed > 0 || batch.claimed < BATCH_SIZE) break;
      }
      if (total.failed > 0) {
        throw new Error(`${total.failed} outbox messages were not delivered (attempt counted on each row)`);
      }
      return total;
    }
    throw new Error(`unknown job ${job.name}`);
  },
};
