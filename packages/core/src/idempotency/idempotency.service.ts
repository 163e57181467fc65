import { createHash } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import type { Db } from '../db/client.ts';
import type { Database } from '../db/database.ts';
import { AppError, AppErrorCode } from '../errors.ts';

// The key claims that a group commit makes inside its own transaction (balance, order and
// payment batches): the keys live in the transaction of the change they protect.
export { findIdempotencyKeys, insertIdempotencyKeys, recordKeyAnswers } from './idempotency.repository.ts';

/**
 * Idempotency keys for mutations (`balance.charge`, `order.create`, `payment.pay`).
 *
 * The key row and the mutation commit in ONE Postgres transaction, so "the key is recorded"
 * and "the work is done" can never disagree:
 * - the first call inserts the key row, runs, stores its answer on the row and commits;
 * - a concurrent call with the same key blocks on the primary key (Postgres makes the second
 *   INSERT wait for the first transaction), then finds the committed row and replays it;
 * - if the first call fails, its transaction (key row included) rolls back and the waiting or
 *   next call runs normally: a failed attempt never poisons its key.
 */

export type IdempotencyRequest = {
  userId: number;
  /** The operation the key belongs to (`balance.charge`): one key may be used once per scope. */
  scope: string;
  key: string;
  /** The input the key stands for; the same key with another input is IDEMPOTENCY_KEY_REUSED. */
  request: unknown;
};

/** JSON with object keys sorted at every level, so equal inputs hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    if (v instanceof Date) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

export function requestHash(request: unknown): string {
  return createHash('sha256')
    .update(canonicalJson(request) ?? 'undefined')
    .digest('hex');
}

function reused(scope: string): AppError {
  return new AppError(
    AppErrorCode.IDEMPOTENCY_KEY_REUSED,
    `This idempotency key was already used for a different ${scope} request`,
  );
}

async function findKeyRow(db: Db | Transaction<Database>, req: IdempotencyRequest) {
  return db
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'response'])
    .where('user_id', '=', req.userId)
    .where('scope', '=', req.scope)
    .where('key', '=', req.key)
    .executeTakeFirst();
}

/**
 * The stored answer for a key that was already used with this request, without starting any
 * work: lets a caller skip side effects outside Postgres (Redis holds) on a replay.
 * Undefined when the key is unused (or its first call has not committed yet).
 * Throws IDEMPOTENCY_KEY_REUSED when the key was used with another request.
 */
export async function findIdempotentResponse(
  db: Db,
  req: IdempotencyRequest,
): Promise<{ response: unknown } | undefined> {
  const row = await findKeyRow(db, req);
  if (!row) return undefined;
  if (row.request_hash !== requestHash(req.request)) throw reused(req.scope);
  return { response: row.response };
}

/**
 * Deletes keys created before `olderThan` (callers pass at least 24 h ago: the contract keeps
 * keys that long). Deletes in batches so a large backlog never holds long locks.
 * Returns how many were deleted.
 */
export async function purgeIdempotencyKeys(db: Db, olderThan: Date, batchSize = 5000): Promise<number> {
  let total = 0;
  for (;;) {
    const result = await sql`
      DELETE FROM idempotency_keys WHERE ctid IN (
        SELECT ctid FROM idempotency_keys WHERE created_at < ${olderThan} LIMIT ${batchSize}
      )`.execute(db);
    const deleted = Number(result.numAffectedRows ?? 0);
    total += deleted;
    if (deleted < batchSize) return total;
  }
}
