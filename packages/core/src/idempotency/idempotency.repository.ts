import { sql, type Transaction } from 'kysely';
import type { Database } from '../db/database.ts';

/**
 * The key statements of the group commits (payment.batch.ts, balance.batch.ts, order.batch.ts):
 * each takes a whole batch's keys at once, as arrays, so it is one round trip per batch.
 */

type Trx = Transaction<Database>;

/**
 * Claims the keys of a batch (payments, charges, keyed orders) in one statement (sorted by user and key: see the lock order).
 * Blocks while another transaction holds an uncommitted row for one of them, as
 * `withIdempotency` does. Returns the keys inserted, as `${userId}:${key}`; the others were
 * used before.
 */
export async function insertIdempotencyKeys(
  trx: Trx,
  scope: string,
  keys: { userId: number; key: string; hash: string }[],
): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const sorted = [...keys].sort(
    (a, b) => a.userId - b.userId || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
  );
  const result = await sql<{ user_id: number; key: string }>`
    INSERT INTO idempotency_keys (user_id, scope, key, request_hash, response)
    SELECT k.user_id, ${scope}, k.key, k.hash, NULL
    FROM unnest(${sorted.map((k) => k.userId)}::int8[], ${sorted.map((k) => k.key)}::text[],
                ${sorted.map((k) => k.hash)}::text[]) WITH ORDINALITY AS k(user_id, key, hash, n)
    ORDER BY k.n
    ON CONFLICT (user_id, scope, key) DO NOTHING
    RETURNING user_id, key`.execute(trx);
  return new Set(result.rows.map((r) => `${r.user_id}:${r.key}`));
}

/** The committed rows of keys that were used before (READ COMMITTED: after the insert waited). */
export async function findIdempotencyKeys(
  trx: Trx,
  scope: string,
  keys: { userId: number; key: string }[],
): Promise<Map<string, { hash: string; response: unknown }>> {
  if (keys.length === 0) return new Map();
  const result = await sql<{ user_id: number; key: string; request_hash: string; response: unknown }>`
    SELECT k.user_id, k.key, k.request_hash, k.response
    FROM idempotency_keys k
    JOIN unnest(${keys.map((k) => k.userId)}::int8[], ${keys.map((k) => k.key)}::text[]) AS r(user_id, key)
      ON k.user_id = r.user_id AND k.key = r.key
    WHERE k.scope = ${scope}`.execute(trx);
  return new Map(
    result.rows.map((r) => [`${r.user_id}:${r.key}`, { hash: r.request_hash, response: r.response }]),
  );
}
