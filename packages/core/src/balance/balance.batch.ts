import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import { createGroupCommit, failed, type GroupCommit, ok, type Settled } from '../batch/group-commit.ts';
import type { Db } from '../db/client.ts';
import type { Database } from '../db/database.ts';
import { AppError, AppErrorCode } from '../errors.ts';
import { findIdempotencyKeys, insertIdempotencyKeys } from '../idempotency/idempotency.service.ts';
import { type ChargeWrite, lockBalancesForCharge, MAX_BALANCE, writeCharges } from './balance.repository.ts';

/**
 * Group commit for charges (docs/adr/0301-charges-group-commit.md): the charges that arrive
 * together share ONE Postgres transaction and each is answered only after its COMMIT, so
 * "money moves only inside a Postgres transaction" and "an answered charge is committed" hold
 * as with one transaction per charge. One batch, whatever its size:
 * 1. claims the keys of its keyed charges in one statement (a key used before replays its
 *    stored answer; one still being charged by another transaction is waited for, then replayed);
 * 2. locks the users' balances in id order (creating a new user's row);
 * 3. decides each charge in arrival order in Node, exactly as one transaction per charge would
 *    have one after the other (a refused charge changes nothing, the next sees the balance the
 *    accepted ones left);
 * 4. writes every accepted charge (balances, ledger rows, keys' answers) and drops the keys of
 *    refused ones in one statement; COMMIT.
 * Two calls with one key are never in batches at once (the second replays the first). Should a batch fail
 * as a whole for a definite reason (a constraint, e.g. a key purged from the key table but still
 * on the ledger), its charges are retried one transaction each, so only the culprit fails.
 */

export const CHARGE_SCOPE = 'balance.charge';

export type ChargeResult = { userId: number; balance: number; transactionId: string };

export type ChargeRequest = {
  userId: number;
  amount: number;
  /** An idempotency key and the hash of the request it stands for. */
  idempotency?: { key: string; hash: string };
};

export type ChargeBatcher = GroupCommit<ChargeRequest, ChargeResult>;

export function createChargeBatcher(
  db: Db,
  options: { maxBatch?: number; maxInFlight?: number } = {},
): ChargeBatcher {
  return createGroupCommit<ChargeRequest, ChargeResult>({
    maxBatch: options.maxBatch ?? 200,
    maxInFlight: options.maxInFlight ?? 2,
    keyOf: (r) => (r.idempotency ? `${r.userId}:${r.idempotency.key}` : undefined),
    commit: (requests) => commitCharges(db, requests),
    closedError: () => new AppError(AppErrorCode.UNAVAILABLE, 'Shutting down, please retry'),
  });
}

/** Errors after which Postgres certainly did not commit and a retry may decide otherwise. */
function isStatementError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^(22|23|40|42)/.test(code);
}

async function commitCharges(db: Db, requests: ChargeRequest[]): Promise<Settled<ChargeResult>[]> {
  try {
    return await db.transaction().execute((trx) => settleCharges(trx, requests));
  } catch (err) {
    if (requests.length > 1 && isStatementError(err)) {
      const results: Settled<ChargeResult>[] = [];
      for (const request of requests) {
        results.push(...(await commitCharges(db, [request]).catch((e: unknown) => [failed(e)])));
      }
      return results;
    }
    const e = err as { code?: unknown; constraint?: unknown };
    if (e.code === '23505' && e.constraint === 'balance_ledger_idempotency_key') {
      // The key's record was purged (kept 24 h) but the ledger still carries the key.
      throw new AppError(AppErrorCode.IDEMPOTENCY_KEY_REUSED, 'This idempotency key was already used');
    }
    throw err;
  }
}

async function settleCharges(
  trx: Transaction<Database>,
  requests: ChargeRequest[],
): Promise<Settled<ChargeResult>[]> {
  const results: (Settled<ChargeResult> | undefined)[] = new Array(requests.length);

  // 1. Keys.
  const keyed = requests.flatMap((r) => (r.idempotency ? [{ userId: r.userId, ...r.idempotency }] : []));
  const claimed = await insertIdempotencyKeys(trx, CHARGE_SCOPE, keyed);
  if (claimed.size < keyed.length) {
    const stored = await findIdempotencyKeys(
      trx,
      CHARGE_SCOPE,
      keyed.filter((k) => !claimed.has(`${k.userId}:${k.key}`)),
    );
    for (const [i, r] of requests.entries()) {
      if (!r.idempotency || claimed.has(`${r.userId}:${r.idempotency.key}`)) continue;
      const row = stored.get(`${r.userId}:${r.idempotency.key}`);
      if (!row) {
        results[i] = failed(
          new AppError(AppErrorCode.UNAVAILABLE, 'Idempotency key changed concurrently, please retry'),
        );
      } else if (row.hash !== r.idempotency.hash) {
        results[i] = failed(
          new AppError(
            AppErrorCode.IDEMPOTENCY_KEY_REUSED,
            `This idempotency key was already used for a different ${CHARGE_SCOPE} request`,
          ),
        );
      } else results[i] = ok(row.response as ChargeResult);
    }
  }

  // 2. Balances.
  const live = requests.filter((_, i) => !results[i]);
  const balances = await lockBalancesForCharge(
    trx,
    live.map((r) => r.userId),
  );

  // 3. Each charge in arrival order.
  const writes: ChargeWrite[] = [];
  const dropped: { userId: number; key: string }[] = [];
  for (const [i, r] of requests.entries()) {
    if (results[i]) continue;
    const before = balances.get(r.userId) ?? 0;
    if (before + r.amount > MAX_BALANCE) {
      results[i] = failed(
        new AppError(AppErrorCode.CHARGE_LIMIT_EXCEEDED, `A balance may not exceed ${MAX_BALANCE} KRW`, {
          maxBalance: MAX_BALANCE,
        }),
      );
      if (r.idempotency) dropped.push({ userId: r.userId, key: r.idempotency.key });
      continue;
    }
    const after = before + r.amount;
    balances.set(r.userId, after);
    const result: ChargeResult = { userId: r.userId, balance: after, transactionId: randomUUID() };
    writes.push({
      transactionId: result.transactionId,
      userId: r.userId,
      amount: r.amount,
      balanceBefore: before,
      balanceAfter: after,
      idempotencyKey: r.idempotency?.key ?? null,
      response: r.idempotency ? JSON.stringify(result) : null,
    });
    results[i] = ok(result);
  }

  // 4. One statement for everything.
  if (writes.length > 0 || dropped.length > 0) await writeCharges(trx, CHARGE_SCOPE, writes, dropped);
  return results as Settled<ChargeResult>[];
}
