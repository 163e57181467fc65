import type { Db } from '../db/client.ts';

/** Topics on the outbox; each row is one message for the data platform. */
export const OutboxTopic = { OrderPaid: 'order.paid' } as const;
export type OutboxTopic = (typeof OutboxTopic)[keyof typeof OutboxTopic];

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
