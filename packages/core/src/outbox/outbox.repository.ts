import { sql, type Transaction } from 'kysely';
import type { Db } from '../db/client.ts';
import type { Database } from '../db/database.ts';

export { OutboxTopic } from '../db/database.ts';

export type OutboxMessage = { id: number; topic: string; key: string; payload: unknown; attempts: number };

export async function findUnpublished(db: Db, limit: number): Promise<number[]> {
  const rows = await db
    .selectFrom('outbox')
    .select('id')
    .where('published_at', 'is', null)
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}

export async function findOutboxMessage(
  db: Db,
  id: number,
): Promise<(OutboxMessage & { published: boolean }) | undefined> {
  const row = await db.selectFrom('outbox').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    topic: row.topic,
    key: row.key,
    payload: row.payload,
    attempts: row.attempts,
    published: row.published_at !== null,
  };
}

export async function markPublished(db: Db, id: number, now: Date): Promise<void> {
  await db
    .updateTable('outbox')
    .set({ published_at: now })
    .where('id', '=', id)
    .where('published_at', 'is', null)
    .execute();
}

export async function recordAttemptFailure(db: Db, id: number, error: string): Promise<void> {
  await db
    .updateTable('outbox')
    .set((eb) => ({ attempts: eb('attempts', '+', 1), last_error: error.slice(0, 1000) }))
    .where('id', '=', id)
    .execute();
}

type Trx = Transaction<Database>;

/**
 * Takes up to `limit` unpublished messages, oldest first, and locks them for the rest of the
 * transaction; rows another export holds are skipped (`SKIP LOCKED`), so concurrent exports
 * share the backlog instead of queueing on it.
 */
export async function claimUnpublished(trx: Trx, limit: number): Promise<OutboxMessage[]> {
  const rows = await trx
    .selectFrom('outbox')
    .select(['id', 'topic', 'key', 'payload', 'attempts'])
    .where('published_at', 'is', null)
    .orderBy('id')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
  return rows;
}

/** Marks a batch published in one statement. */
export async function markBatchPublished(trx: Trx, ids: number[], now: Date): Promise<void> {
  if (ids.length === 0) return;
  await trx
    .updateTable('outbox')
    .set({ published_at: now })
    .where('id', 'in', ids)
    .where('published_at', 'is', null)
    .execute();
}

/** Counts a failed delivery on each message of a batch, with its error, in one statement. */
export async function recordBatchFailures(
  trx: Trx,
  failures: { id: number; error: string }[],
): Promise<void> {
  if (failures.length === 0) return;
  await sql`
    UPDATE outbox o SET attempts = o.attempts + 1, last_error = f.error
    FROM unnest(${failures.map((f) => f.id)}::int8[], ${failures.map((f) => f.error.slice(0, 1000))}::text[])
         AS f(id, error)
    WHERE o.id = f.id`.execute(trx);
}
