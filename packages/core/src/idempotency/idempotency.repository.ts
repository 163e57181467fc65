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

/**
 * Stores the answers of a batch's claimed keys whose work committed, and drops the keys of the
 * ones that did not happen (as their own rollback would have), in one statement.
 */
export async function recordKeyAnswers(
  trx: Trx,
  scope: string,
  answered: { userId: number; key: string; response: string }[],
  dropped: { userId: number; key: string }[],
): Promise<void> {
  if (answered.length === 0 && dropped.length === 0) return;
  await sql`
    WITH answered AS (
      UPDATE idempotency_keys ik SET response = a.response
      FROM unnest(${answered.map((a) => a.userId)}::int8[], ${answered.map((a) => a.key)}::text[],
                  ${answered.map((a) => a.response)}::jsonb[]) AS a(user_id, key, response)
      WHERE ik.user_id = a.user_id AND ik.scope = ${scope} AND ik.key = a.key
    ), dropped AS (
      DELETE FROM idempotency_keys ik
      USING unnest(${dropped.map((d) => d.userId)}::int8[], ${dropped.map((d) => d.key)}::text[])
            AS d(user_id, key)
      WHERE ik.user_id = d.user_id AND ik.scope = ${scope} AND ik.key = d.key
    )
    SELECT 1`.execute(trx);
}
