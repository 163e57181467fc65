import type { Resources } from '../resources.ts';
import {
  claimUnpublished,
  findOutboxMessage,
  markBatchPublished,
  markPublished,
  type OutboxMessage,
  recordAttemptFailure,
  recordBatchFailures,
} from './outbox.repository.ts';

export type ExportResult = 'published' | 'already-published' | 'missing' | 'logged';

/**
 * Delivers one outbox message to the data platform (an `export` job queued by a version before
 * batch export; exportOutboxBatch does the work now). The `Idempotency-Key` header lets the
 * platform drop the duplicates that at-least-once delivery produces (a crash after its 2xx
 * but before we mark the row). Throws on failure so BullMQ retries with backoff.
 */
export async function exportOutboxMessage(
  rt: Pick<Resources, 'db' | 'config' | 'clock'>,
  id: number,
  options: { timeoutMs?: number; log?: (msg: string, data: unknown) => void } = {},
): Promise<ExportResult> {
  const message = await findOutboxMessage(rt.db, id);
  if (!message) return 'missing';
  if (message.published) return 'already-published';
  const url = rt.config.dataPlatformUrl;
  if (!url) {
    (options.log ?? console.log)('data platform export (DATA_PLATFORM_URL unset)', {
      topic: message.topic,
      key: message.key,
      payload: message.payload,
    });
    await markPublished(rt.db, id, rt.clock.now());
    return 'logged';
  }
  try {
    await post(url, message, options.timeoutMs ?? 5000);
  } catch (err) {
    await recordAttemptFailure(rt.db, id, err instanceof Error ? err.message : String(err));
    throw err;
  }
  await markPublished(rt.db, id, rt.clock.now());
  return 'published';
}

export type BatchExportResult = { claimed: number; published: number; failed: number; logged: boolean };

export type BatchExportOptions = {
  /** Messages one batch takes at most. */
  limit?: number;
  /** POSTs in flight at once. */
  concurrency?: number;
  timeoutMs?: number;
  log?: (msg: string, data: unknown) => void;
};

/**
 * Exports one batch of the outbox (docs/adr/0302-outbox-batch-export.md): one transaction takes
 * up to `limit` unpublished messages (`FOR UPDATE SKIP LOCKED`, so concurrent jobs split the
 * backlog), delivers them, marks the delivered ones published in one UPDATE and counts a failed
 * attempt on the others in one more. Each message is still its own POST with its own
 * `Idempotency-Key` (the data platform's contract), `concurrency` at a time. With
 * DATA_PLATFORM_URL unset the batch is one summary log line instead. A crash before the COMMIT
 * releases the rows for the next export; what was delivered then is delivered again, and the
 * platform drops it by its key.
 */
export async function exportOutboxBatch(
  rt: Pick<Resources, 'db' | 'config' | 'clock'>,
  options: BatchExportOptions = {},
): Promise<BatchExportResult> {
  return rt.db.transaction().execute(async (trx) => {
    const messages = await claimUnpublished(trx, options.limit ?? 500);
    if (messages.length === 0) return { claimed: 0, published: 0, failed: 0, logged: false };
    const url = rt.config.dataPlatformUrl;
    if (!url) {
      const topics: Record<string, number> = {};
      for (const m of messages) topics[m.topic] = (topics[m.topic] ?? 0) + 1;
      (options.log ?? console.log)('data platform export (DATA_PLATFORM_URL unset)', {
        messages: messages.length,
        topics,
        firstId: messages[0]!.id,
        lastId: messages[messages.length - 1]!.id,
      });
      await markBatchPublished(
        trx,
        messages.map((m) => m.id),
        rt.clock.now(),
      );
      return { claimed: messages.length, published: messages.length, failed: 0, logged: true };
    }
    const failures: { id: number; error: string }[] = [];
    const delivered: number[] = [];
    let next = 0;
    const lane = async () => {
      while (next < messages.length) {
        const message = messages[next++]!;
        try {
          await post(url, message, options.timeoutMs ?? 5000);
          delivered.push(message.id);
        } catch (err) {
          failures.push({ id: message.id, error: err instanceof Error ? err.message : String(err) });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 8, messages.length) }, lane));
    await markBatchPublished(trx, delivered, rt.clock.now());
    await recordBatchFailures(trx, failures);
    return { claimed: messages.length, published: delivered.length, failed: failures.length, logged: false };
  });
}

async function post(
  url: string,
  message: Pick<OutboxMessage, 'topic' | 'key' | 'payload'>,
  timeoutMs: number,
) {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'idempotency-key': `${message.topic}:${message.key}`,
    },
    body: JSON.stringify({ topic: message.topic, key: message.key, payload: message.payload }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) throw new Error(`data platform answered HTTP ${res.status}`);
  await res.body?.cancel();
}
