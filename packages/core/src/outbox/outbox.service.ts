import type { Runtime } from '../runtime.ts';
import { findOutboxMessage, markPublished, recordAttemptFailure } from './outbox.repository.ts';

export type ExportResult = 'published' | 'already-published' | 'missing' | 'logged';

/**
 * Delivers one outbox message to the data platform. The `Idempotency-Key` header lets the
 * platform drop the duplicates that at-least-once delivery produces (a crash after its 2xx
 * but before we mark the row). Throws on failure so BullMQ retries with backoff.
 */
export async function exportOutboxMessage(
  rt: Pick<Runtime, 'db' | 'config' | 'clock'>,
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
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': `${message.topic}:${message.key}`,
      },
      body: JSON.stringify({ topic: message.topic, key: message.key, payload: message.payload }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
    });
    if (!res.ok) throw new Error(`data platform answered HTTP ${res.status}`);
    await res.body?.cancel();
  } catch (err) {
    await recordAttemptFailure(rt.db, id, err instanceof Error ? err.message : String(err));
    throw err;
  }
  await markPublished(rt.db, id, rt.clock.now());
  return 'published';
}
