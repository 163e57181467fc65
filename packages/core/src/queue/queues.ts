import { Queue } from 'bullmq';
import type { RedisClient } from '../redis/cluster.ts';

/**
 * Every BullMQ queue the service uses. Each job is idempotent: BullMQ delivers at least once,
 * so handlers rely on unique keys and state-guarded updates, never on running exactly once.
 */
export const QueueName = {
  /** Moves coupon issuances from Redis into Postgres in batches. */
  CouponPersist: 'coupon-persist',
  /** Saves orders answered from Redis into Postgres. */
  OrderPersist: 'order-persist',
  /** Expires unpaid orders and releases their stock and coupon. */
  OrderExpiry: 'order-expiry',
  /** Ships paid orders from the outbox to the data platform. */
  OutboxExport: 'outbox-export',
  /** Periodic sweeps: persistence catch-up, reconciliation, idempotency-key cleanup. */
  Maintenance: 'maintenance',
} as const;
export type QueueName = (typeof QueueName)[keyof typeof QueueName];

export const ALL_QUEUES: QueueName[] = Object.values(QueueName);

/** Retries with exponential backoff; what keeps failing stays in the failed set for operators. */
export const DEFAULT_JOB_OPTIONS = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: { count: 1000, age: 3600 },
  removeOnFail: false,
} as const;

export type Queues = Record<QueueName, Queue> & { close(): Promise<void> };

/**
 * Producers use the given fail-fast connection (enqueueing never hangs a request). Not the
 * connection requests run their commands on: BullMQ defines its scripts on it (see runtime.ts).
 */
export function createQueues(connection: RedisClient, prefixOf: (queue: QueueName) => string): Queues {
  const entries = ALL_QUEUES.map(
    (name) =>
      [
        name,
        new Queue(name, { connection, prefix: prefixOf(name), defaultJobOptions: DEFAULT_JOB_OPTIONS }),
      ] as const,
  );
  // Without a listener BullMQ prints each error's stack to stderr, outside the structured log;
  // the same errors reach the callers of the commands that failed (as UNAVAILABLE).
  for (const [, queue] of entries) queue.on('error', () => {});
  const queues = Object.fromEntries(entries) as Record<QueueName, Queue>;
  return Object.assign(queues, {
    async close() {
      await Promise.all(entries.map(([, q]) => q.close()));
    },
  });
}
