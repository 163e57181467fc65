import type { Transaction } from 'kysely';
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
 * Adds a charge to a balance and records it in the ledger in ONE statement, so it is one
 * transaction even without an explicit BEGIN (autocommit), and the user's row lock is held only
 * while Postgres runs it: concurrent charges of one user queue on that lock, and each ledger
 * row's before/after is exact. The upsert creates the row of a user seen for the first time.
 * Throws CHARGE_LIMIT_EXCEEDED (nothing written) when the balance would pass MAX_BALANCE.
 */
export async function creditCharge(
  db: Executor,
  charge: { userId: number; amount: number; idempotencyKey: string | null },
): Promise<{ balance: number; transactionId: string }> {
  const { userId, amount } = charge;
  const ledger = await db
    .with('credited', (qb) =>
      qb
        .insertInto('users')
        .values({ id: userId, balance: amount })
        .onConflict((oc) =>
          oc
            .column('id')
            .doUpdateSet((eb) => ({
              balance: eb('users.balance', '+', eb.ref('excluded.balance')),
              updated_at: new Date(),
            }))
            .where('users.balance', '<=', MAX_BALANCE - amount),
        )
        .returning('balance'),
    )
    .insertInto('balance_ledger')
    .columns(['user_id', 'kind', 'amount', 'balance_before', 'balance_after', 'idempotency_key'])
    .expression((eb) =>
      eb
        .selectFrom('credited')
        .select((sb) => [
          sb.val(userId).as('user_id'),
          sb.val('CHARGE').as('kind'),
          sb.val(amount).as('amount'),
          sb('credited.balance', '-', amount).as('balance_before'),
          sb.ref('credited.balance').as('balance_after'),
          sb.val(charge.idempotencyKey).as('idempotency_key'),
        ]),
    )
    .returning(['id', 'balance_after'])
    .executeTakeFirst()
    .catch((err: unknown) => {
      // The key's record was purged (kept 24 h) but the ledger still carries the key.
      const e = err as { code?: unknown; constraint?: unknown };
      if (e.code === '23505' && e.constraint === 'balance_ledger_idempotency_key') {
        throw new AppError(AppErrorCode.IDEMPOTENCY_KEY_REUSED, 'This idempotency key was already used');
      }
      throw err;
    });
  if (!ledger) {
    throw new AppError(AppErrorCode.CHARGE_LIMIT_EXCEEDED, `A balance may not exceed ${MAX_BALANCE} KRW`, {
      maxBalance: MAX_BALANCE,
    });
  }
  return { balance: ledger.balance_after, transactionId: ledger.id };
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
