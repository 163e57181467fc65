import { createLogger, QueueName } from '@flash/core';
import { findUnpublished } from '@flash/core/outbox/outbox.repository';
import { exportOutboxMessage } from '@flash/core/outbox/outbox.service';
import { z } from 'zod';
import type { QueueWorker } from '../job.ts';

const ZExportJob = z.object({ outboxId: z.number().int().positive() });

/**
 * Two job kinds: `sweep` (scheduled, and triggered right after each payment) turns every
 * unpublished outbox row into one `export` job whose id is the row id, so a row is never queued
 * twice; `export` POSTs it with BullMQ's retries and exponential backoff. A row that keeps
 * failing ends in the failed set, visible and retryable, and stays unpublished in Postgres.
 * Payments never wait for any of this.
 */
export const outboxExportWorker: QueueWorker = {
  queue: QueueName.OutboxExport,
  concurrency: 8,
  schedules: [{ id: 'outbox-sweep', name: 'sweep', everyMs: 2000 }],
  async handle(rt, job, log = createLogger('worker', rt.config.logLevel)) {
    if (job.name === 'export') {
      const { outboxId } = ZExportJob.parse(job.data);
      return exportOutboxMessage(rt, outboxId, {
        log: (msg, data) => log.info({ data }, msg),
      });
    }
    if (job.name === 'sweep' || job.name === 'export-soon') {
      const ids = await findUnpublished(rt.db, 1000);
      await rt.queues[QueueName.OutboxExport].addBulk(
        ids.map((outboxId) => ({
          name: 'export',
          data: { outboxId },
          opts: { jobId: `outbox-${outboxId}` },
        })),
      );
      return { queued: ids.length };
    }
    throw new Error(`unknown job ${job.name}`);
  },
};
