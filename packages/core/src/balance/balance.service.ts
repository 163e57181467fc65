import { AppError, AppErrorCode } from '../errors.ts';
import { requestHash } from '../idempotency/idempotency.service.ts';
import type { Resources } from '../resources.ts';
import type { ChargeBatcher, ChargeResult } from './balance.batch.ts';
import { findBalance } from './balance.repository.ts';

export type { ChargeResult } from './balance.batch.ts';
export type Balance = { userId: number; balance: number };

/** Smallest single charge, in KRW. */
export const MIN_CHARGE = 1000;
/** Largest single charge, in KRW. */
export const MAX_CHARGE = 10_000_000;

export async function getBalance(rt: Pick<Resources, 'db'>, userId: number): Promise<Balance> {
  return { userId, balance: await findBalance(rt.db, userId) };
}

/**
 * Charges `amount` KRW to the user's balance: the balance update and its ledger row commit in
 * one transaction, shared with the charges that arrive with it (balance.batch.ts), and the
 * answer is given only after that commit. With an idempotency key a replay (also one racing the
 * first call) returns the first answer and charges nothing more.
 */
export async function chargeBalance(
  rt: { chargeBatcher: ChargeBatcher },
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
  return rt.chargeBatcher.submit({
    userId,
    amount,
    ...(idempotencyKey === undefined
      ? {}
      : { idempotency: { key: idempotencyKey, hash: requestHash({ amount }) } }),
  });
}
