import { AppError, AppErrorCode } from '../errors.ts';
import { withIdempotency } from '../idempotency/idempotency.service.ts';
import type { Runtime } from '../runtime.ts';
import { creditCharge, findBalance } from './balance.repository.ts';
import { createPerKeyLimiter } from './per-key-limiter.ts';

export type Balance = { userId: number; balance: number };
export type ChargeResult = { userId: number; balance: number; transactionId: string };

/** Smallest single charge, in KRW. */
export const MIN_CHARGE = 1000;
/** Largest single charge, in KRW. */
export const MAX_CHARGE = 10_000_000;

const SCOPE = 'balance.charge';

/** Charges of one user in flight at once from this process (they serialize on the user's row anyway). */
const perUser = createPerKeyLimiter(4);

export async function getBalance(rt: Pick<Runtime, 'db'>, userId: number): Promise<Balance> {
  return { userId, balance: await findBalance(rt.db, userId) };
}

/**
 * Charges `amount` KRW to the user's balance: the balance update and its ledger row commit in
 * one transaction, and the answer is given only after that commit. With an idempotency key a
 * replay (also one racing the first call) returns the first answer and charges nothing more.
 */
export async function chargeBalance(
  rt: Pick<Runtime, 'db'>,
  userId: number,
  input: { amount: number; idempotencyKey?: string },
): Promise<ChargeResult> {
  const { amount, idempotencyKey } = input;
  if (!Number.isInteger(amount) || amount < 0) {
    throw new AppError(AppErrorCode.INVALID_INPUT, 'amount must be a non-negative integer');
  }
  if (amount < MIN_CHARGE) {
    throw new AppError(AppErrorCode.CHARGE_AMOUNT_TOO_SMALL, `A charge must be at least ${MIN_CHARGE} KRW`, {
      minAmount: MIN_CHARGE,
    });
  }
  if (amount > MAX_CHARGE) {
    throw new AppError(AppErrorCode.CHARGE_LIMIT_EXCEEDED, `A charge may be at most ${MAX_CHARGE} KRW`, {
      maxAmount: MAX_CHARGE,
    });
  }
  return perUser(userId, () => {
    // Without a key the charge is a single statement: no BEGIN/COMMIT round trips while the
    // user's row lock is held, which is what bounds throughput for one busy user.
    if (idempotencyKey === undefined) {
      return creditCharge(rt.db, { userId, amount, idempotencyKey: null }).then((r) => ({ userId, ...r }));
    }
    return withIdempotency(
      rt.db,
      { userId, scope: SCOPE, key: idempotencyKey, request: { amount } },
      async (trx) => ({ userId, ...(await creditCharge(trx, { userId, amount, idempotencyKey })) }),
    );
  });
}
