import { createLogger, purgeIdempotencyKeys, QueueName, reconcile } from '@flash/core';
import type { QueueWorker } from '../job.ts';

/** The contract keeps idempotency keys at least 24 hours; we keep them a little longer. */
const IDEMPOTENCY_RETENTION_MS = 25 * 60 * 60 * 1000;

export const maintenanceWorker: QueueWorker = {
  queue: QueueName.Maintenance,
  concurrency: 1,
  schedules: [
    { id: 'reconcile', name: 'reconcile', everyMs: 60_000 },
    { id: 'purge-idempotency-keys', name: 'purge-idempotency-keys', everyMs: 60 * 60 * 1000 },
  ],
  async handle(rt, job, log = createLogger('worker', rt.config.logLevel)) {
    if (job.name === 'reconcile') {
      const report = await reconcile(rt);
      // Drift is reported, not repaired: the job's return value is kept and visible in the
      // queue dashboard, and each drift is logged for alerting.
      for (const drift of report.drifts) log.warn({ drift }, 'reconcile drift');
      return {
        drifts: report.drifts.length,
        critical: report.drifts.filter((d) => d.severity === 'critical').length,
      };
    }
    if (job.name === 'purge-idempotency-keys') {
      const purged = await purgeIdempotencyKeys(
        rt.db,
        new Date(rt.clock.now().getTime() - IDEMPOTENCY_RETENTION_MS),
      );
      return { purged };
    }
    throw new Error(`unknown job ${job.name}`);
  },
};
