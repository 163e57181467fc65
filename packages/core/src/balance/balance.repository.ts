import { sql, type Transaction } from 'kysely';
import type { Db } from '../db/client.ts';
import type { Database } from '../db/database.ts';
import { AppError, AppErrorCode } from '../errors.ts';

type Executor = Db | Transaction<Database>;

/** The most a balance may hold (mirrors the `users_balance_range` CHECK constraint). */
export const MAX_BALANCE = 1_000_000_000;

/** A user never seen before has balance 0 (their row is created on the first charge). */
export async function findBalance(db: Executor, userId: number): Promise<number> {
  const row = await db.selectFrom('users').select('balance').where('id', '=', userId).executeTakeFirst();
  return row?.balance ?? 0;
}

/**
 * Debits a payment inside the payment's transaction, in one statement (guarded UPDATE and its
 * ledger row). The UPDATE takes the user's row lock and refuses to go below 0, so two payments
 * can never spend the same money.
 * Throws INSUFFICIENT_BALANCE (nothing written) when the balance does not cover `amount`; a
 * user without a row has balance 0. Writes a PAYMENT ledger row when amount > 0 (a 0 KRW
 * payment moves no money and writes none: ledger amounts are positive).
 */
export async function debitBalance(
  trx: Transaction<Database>,
  debit: { userId: number; amount: number; paymentId: string },
): Promise<{ balanceBefore: number; balanceAfter: number }> {
  const { userId, amount, paymentId } = debit;
  if (!Number.isSafeInteger(amount) || amount < 0) throw new Error(`invalid debit amount ${amount}`);
  if (amount === 0) {
    const balance = await findBalance(trx, userId);
    return { balanceBefore: balance, balanceAfter: balance };
  }
  const ledger = await trx
    .with('debited', (qb) =>
      qb
        .updateTable('users')
        .set((eb) => ({ balance: eb('balance', '-', amount), updated_at: new Date() }))
        .where('id', '=', userId)
        .where('balance', '>=', amount)
        .returning('balance'),
    )
    .insertInto('balance_ledger')
    .columns(['user_id', 'kind', 'amount', 'balance_before', 'balance_after', 'payment_id'])
    .expression((eb) =>
      eb
        .selectFrom('debited')
        .select((sb) => [
          sb.val(userId).as('user_id'),
          sb.val('PAYMENT').as('kind'),
          sb.val(amount).as('amount'),
          sb('debited.balance', '+', amount).as('balance_before'),
          sb.ref('debited.balance').as('balance_after'),
          sb.val(paymentId).as('payment_id'),
        ]),
    )
    .returning(['balance_before', 'balance_after'])
    .executeTakeFirst();
  if (!ledger) {
    throw new AppError(AppErrorCode.INSUFFICIENT_BALANCE, 'The balance does not cover this payment', {
      amount,
    });
  }
  return { balanceBefore: ledger.balance_before, balanceAfter: ledger.balance_after };
}

/**
 * Locks the balances of a charge batch (balance.batch.ts), creating the row (balance 0) of a
 * user seen for the first time, in id order: the lock order of payment batches (keys, then
 * users), so charge and payment batches never wait for each other in a cycle. Returns each
 * user's balance.
 */
export async function lockBalancesForCharge(
  trx: Transaction<Database>,
  userIds: number[],
): Promise<Map<number, number>> {
  const ids = [...new Set(userIds)].sort((a, b) => a - b);
  const balances = new Map<number, number>();
  if (ids.length === 0) return balances;
  const created = await sql<{ id: number; balance: number }>`
    WITH created AS (
      INSERT INTO users (id, balance)
      SELECT id, 0 FROM unnest(${ids}::int8[]) AS u(id) ORDER BY id
      ON CONFLICT (id) DO NOTHING
      RETURNING id, balance
    )
    SELECT id, balance FROM (
      SELECT id, balance FROM users WHERE id = ANY(${ids}::int8[]) ORDER BY id FOR NO KEY UPDATE
    ) locked
    UNION ALL
    SELECT id, balance FROM created`.execute(trx);
  for (const r of created.rows) balances.set(Number(r.id), Number(r.balance));
  // A row another transaction committed after this statement's snapshot (its INSERT waited for
  // it) is neither created nor seen: a new statement sees and locks it.
  const missing = ids.filter((id) => !balances.has(id));
  if (missing.length > 0) {
    const late = await sql<{ id: number; balance: number }>`
      SELECT id, balance FROM users WHERE id = ANY(${missing}::int8[]) ORDER BY id FOR NO KEY UPDATE`.execute(
      trx,
    );
    for (const r of late.rows) balances.set(Number(r.id), Number(r.balance));
  }
  return balances;
}

export type ChargeWrite = {
  transactionId: string;
  userId: number;
  amount: number;
  balanceBefore: number;
  balanceAfter: number;
  idempotencyKey: string | null;
  /** The answer stored on the key's row (keyed charges). */
  response: string | null;
};

/**
 * Writes a charge batch in one statement: each user's final balance, one ledger row per charge
 * (its before/after exact, in the batch's order), the answers of the keyed charges, and drops
 * the keys of the refused ones (as their rollback would have).
 */
export async function writeCharges(
  trx: Transaction<Database>,
  scope: string,
  charges: ChargeWrite[],
  droppedKeys: { userId: number; key: string }[],
): Promise<void> {
  const finalBalance = new Map<number, number>();
  for (const c of charges) finalBalance.set(c.userId, c.balanceAfter);
  const keyed = charges.filter((c) => c.idempotencyKey !== null);
  await sql`
    WITH balance AS (
      UPDATE users u SET balance = b.balance, updated_at = now()
      FROM unnest(${[...finalBalance.keys()]}::int8[], ${[...finalBalance.values()]}::int8[]) AS b(id, balance)
      WHERE u.id = b.id
    ), ledger AS (
      INSERT INTO balance_ledger (id, user_id, kind, amount, balance_before, balance_after, idempotency_key)
      SELECT c.id, c.user_id, 'CHARGE', c.amount, c.before, c.after, c.key
      FROM unnest(${charges.map((c) => c.transactionId)}::uuid[], ${charges.map((c) => c.userId)}::int8[],
                  ${charges.map((c) => c.amount)}::int8[], ${charges.map((c) => c.balanceBefore)}::int8[],
                  ${charges.map((c) => c.balanceAfter)}::int8[], ${charges.map((c) => c.idempotencyKey)}::text[])
           WITH ORDINALITY AS c(id, user_id, amount, before, after, key, n)
      ORDER BY c.n
    ), answered AS (
      UPDATE idempotency_keys ik SET response = a.response
      FROM unnest(${keyed.map((c) => c.userId)}::int8[], ${keyed.map((c) => c.idempotencyKey)}::text[],
                  ${keyed.map((c) => c.response)}::jsonb[]) AS a(user_id, key, response)
      WHERE ik.user_id = a.user_id AND ik.scope = ${scope} AND ik.key = a.key
    ), dropped AS (
      DELETE FROM idempotency_keys ik
      USING unnest(${droppedKeys.map((d) => d.userId)}::int8[], ${droppedKeys.map((d) => d.key)}::text[])
            AS d(user_id, key)
      WHERE ik.user_id = d.user_id AND ik.scope = ${scope} AND ik.key = d.key
    )
    SELECT 1`.execute(trx);
}
