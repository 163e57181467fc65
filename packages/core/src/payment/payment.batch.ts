import type { Transaction } from 'kysely';
import { createGroupCommit, failed, ok, type Settled } from '../batch/group-commit.ts';
import { ensureIssuedCouponRow, findHeldCoupon } from '../coupon/coupon.service.ts';
import type { Database } from '../db/database.ts';
import { AppError, AppErrorCode } from '../errors.ts';
import { findIdempotencyKeys, insertIdempotencyKeys } from '../idempotency/idempotency.service.ts';
import { commitOrderHolds, type OrderWithLines } from '../order/order.service.ts';
import { QueueName } from '../queue/queues.ts';
import { throttledAdd } from '../queue/throttled-add.ts';
import { recordSales } from '../ranking/ranking.service.ts';
import type { Resources } from '../resources.ts';
import { couponKey, type Decision, decide, type PaymentRequest, type PaymentView } from './payment.decide.ts';
import {
  lockBalances,
  lockIssuedCoupons,
  lockOrdersForPayment,
  lockStock,
  type PaymentWrite,
  writePayments,
} from './payment.repository.ts';

/**
 * Group commit for payments (docs/payments.md, docs/adr/0100-payments-group-commit.md): the
 * payments that arrive together share ONE Postgres transaction, one statement per step for all
 * of them and one COMMIT, and each is answered only after that COMMIT, with its own outcome.
 *
 * A batch runs like this, in one transaction:
 * 1. the keys of keyed payments are recorded (a key used before replays its stored answer);
 * 2. the orders are locked (FOR NO KEY UPDATE), then the coupons, balances and stock they touch, each
 *    class in key order (payment.repository.ts: that order makes deadlocks impossible);
 * 3. Node decides each payment in arrival order against the locked rows, exactly as one
 *    transaction per payment would have, one after the other: a refused payment changes
 *    nothing, and the next one sees the balance and stock the accepted ones left;
 * 4. one statement writes every accepted payment (debits, ledger rows, stock, coupons, orders,
 *    payments, sales, outbox, keys) and drops the keys of the refused ones; COMMIT.
 * So a refused payment never aborts its neighbours, and no savepoint is needed. Should the
 * batch fail anyway (a bug, a constraint that fired, a deadlock with something unforeseen),
 * its payments are retried one transaction each, so one bad payment cannot fail the others.
 * After the COMMIT, Redis learns about all of the batch's payments together (holds become
 * sold, the ranking counts the units); then every caller is answered.
 */

export type { PaymentRequest, PaymentView } from './payment.decide.ts';

export const PAYMENT_SCOPE = 'payment.pay';

export type PaymentBatcher = {
  /**
   * Pays (or replays) one order in the next batch; settles after its COMMIT. Rejects with the
   * payment's refusal (AppError) or the batch's error.
   */
  pay(request: PaymentRequest): Promise<PaymentView>;
  /** Refuses new payments (UNAVAILABLE) and waits until every batch has answered. */
  close(): Promise<void>;
};

export type PaymentBatcherOptions = {
  /** Payments per batch at most. */
  maxSize?: number;
  /** Batches holding a pooled connection at once: one commits while the next decides. */
  maxInFlight?: number;
};

type BatchRuntime = Pick<
  Resources,
  'db' | 'redis' | 'keys' | 'queues' | 'clock' | 'jobTriggers' | 'couponState'
>;

type Outcome = Decision | { kind: 'replayed'; response: unknown };

export function createPaymentBatcher(rt: BatchRuntime, options: PaymentBatcherOptions = {}): PaymentBatcher {
  const batches = createGroupCommit<PaymentRequest, PaymentView>({
    maxBatch: options.maxSize ?? 200,
    maxInFlight: options.maxInFlight ?? 2,
    // A repeat of a key waits until the batch with the first one committed, then replays it.
    keyOf: (r) => (r.idempotency ? `${r.userId}:${r.idempotency.key}` : undefined),
    commit: (requests) => commitBatch(rt, requests),
    closedError: () => new AppError(AppErrorCode.UNAVAILABLE, 'Shutting down, please retry'),
  });
  return { pay: (request) => batches.submit(request), close: () => batches.close() };
}

/** Errors after which Postgres certainly did not commit and a retry may decide otherwise. */
function isStatementError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  // SQLSTATE classes 22 (data), 23 (constraint), 40 (rollback, deadlock), 42 (syntax/access).
  return typeof code === 'string' && /^(22|23|40|42)/.test(code);
}

/**
 * Runs one batch's transaction. The slot is freed at its COMMIT (or failure): the Redis steps of
 * the committed payments follow outside it, so a slow Redis never holds up the next batch's
 * transaction, and each caller is answered once they are done.
 */
async function commitBatch(rt: BatchRuntime, requests: PaymentRequest[]): Promise<Settled<PaymentView>[]> {
  let outcomes: Outcome[];
  try {
    outcomes = await rt.db.transaction().execute((trx) => settle(rt, trx, requests));
  } catch (err) {
    if (requests.length > 1 && isStatementError(err)) {
      // Nothing of the batch committed: one transaction each, so only the culprit fails.
      const results: Settled<PaymentView>[] = [];
      for (const request of requests) {
        results.push(...(await commitBatch(rt, [request]).catch((e: unknown) => [failed(e)])));
      }
      return results;
    }
    throw err;
  }
  // Committed: every payment is answered, whatever Redis does (afterCommit never fails one).
  const after = afterCommit(rt, outcomes).catch(() => {});
  return outcomes.map((outcome) => {
    if (outcome.kind === 'paid') return ok(after.then(() => outcome.view));
    if (outcome.kind === 'replayed') return ok(after.then(() => outcome.response as PaymentView));
    return failed(outcome.error);
  });
}

const refused = (error: Error): Outcome => ({ kind: 'refused', error });

/** Steps 1–4 of a batch (see the top of this file); returns each entry's outcome. */
async function settle(
  rt: BatchRuntime,
  trx: Transaction<Database>,
  requests: PaymentRequest[],
): Promise<Outcome[]> {
  const outcomes: (Outcome | undefined)[] = new Array(requests.length);

  // 1. Keys: a key used before replays its first answer (or is refused) and takes no part.
  const keyed = requests.flatMap((r) => (r.idempotency ? [{ userId: r.userId, ...r.idempotency }] : []));
  const inserted = await insertIdempotencyKeys(trx, PAYMENT_SCOPE, keyed);
  if (inserted.size < keyed.length) {
    const stored = await findIdempotencyKeys(
      trx,
      PAYMENT_SCOPE,
      keyed.filter((k) => !inserted.has(`${k.userId}:${k.key}`)),
    );
    for (const [i, request] of requests.entries()) {
      const idem = request.idempotency;
      if (!idem || inserted.has(`${request.userId}:${idem.key}`)) continue;
      const row = stored.get(`${request.userId}:${idem.key}`);
      if (!row) {
        // Purged between the two statements; a retry by the client runs it as new.
        outcomes[i] = refused(
          new AppError(AppErrorCode.UNAVAILABLE, 'Idempotency key changed concurrently, please retry'),
        );
      } else if (row.hash !== idem.hash) {
        outcomes[i] = refused(
          new AppError(
            AppErrorCode.IDEMPOTENCY_KEY_REUSED,
            `This idempotency key was already used for a different ${PAYMENT_SCOPE} request`,
          ),
        );
      } else {
        outcomes[i] = { kind: 'replayed', response: row.response };
      }
    }
  }

  // 2. Locks, in the one order every batch takes them.
  const live = requests.filter((_, i) => !outcomes[i]);
  const orders = live.length > 0 ? await lockOrdersForPayment(trx, live) : new Map<string, OrderWithLines>();
  const candidates = [...orders.values()].filter((o) => o.status === 'PENDING_PAYMENT');
  const coupons = await lockCoupons(
    rt,
    trx,
    candidates.flatMap((o) => (o.coupon_id === null ? [] : [{ couponId: o.coupon_id, userId: o.user_id }])),
  );
  const balances = await lockBalances(trx, [...new Set(candidates.map((o) => o.user_id))]);
  const stock = await lockStock(trx, [
    ...new Set(candidates.flatMap((o) => o.lines.map((l) => l.productId))),
  ]);

  // 3. Each payment in arrival order, as if alone (payment.decide.ts: the rules, pure).
  const decisions = decide(
    { orders, coupons, balances, stock },
    requests.map((r, i) => (outcomes[i] ? undefined : r)),
  );
  const accepted: PaymentWrite[] = [];
  for (const [i, decision] of decisions.entries()) {
    if (!decision) continue;
    if (decision.kind === 'paid') accepted.push(decision.write);
    outcomes[i] = decision;
  }

  // 4. One statement for everything; the keys of refused payments go, as in a rollback.
  const dropped = requests.flatMap((r, i) =>
    r.idempotency && outcomes[i]!.kind === 'refused' && inserted.has(`${r.userId}:${r.idempotency.key}`)
      ? [{ userId: r.userId, key: r.idempotency.key }]
      : [],
  );
  if (accepted.length > 0 || dropped.length > 0) await writePayments(trx, PAYMENT_SCOPE, accepted, dropped);
  return outcomes as Outcome[];
}

/**
 * Locks the issued coupons of the batch's orders. An issuance may still wait in Redis for the
 * persistence worker: its row is written first (from Redis' record), then locked with the rest.
 */
async function lockCoupons(
  rt: BatchRuntime,
  trx: Transaction<Database>,
  pairs: { couponId: number; userId: number }[],
): Promise<Map<string, string>> {
  if (pairs.length === 0) return new Map();
  const locked = await lockIssuedCoupons(trx, pairs);
  const missing = pairs
    .filter((p) => !locked.has(couponKey(p.couponId, p.userId)))
    .sort((a, b) => a.couponId - b.couponId || a.userId - b.userId);
  if (missing.length === 0) return locked;
  for (const { couponId, userId } of missing) {
    const held = await findHeldCoupon(rt, userId, couponId);
    if (held) {
      await ensureIssuedCouponRow(trx, {
        couponId,
        userId,
        issuedAt: held.issuedAt,
        expiresAt: held.expiresAt,
      });
    }
  }
  for (const [key, status] of await lockIssuedCoupons(trx, missing)) locked.set(key, status);
  return locked;
}

/**
 * Redis follow-ups of a committed batch. None may fail a payment (it is committed): a failure
 * here is finished later by the hold sweep (hold -> sold) and the outbox sweep. The ranking is
 * counted once per batch and hour, not once per payment.
 */
async function afterCommit(rt: BatchRuntime, outcomes: Outcome[]): Promise<void> {
  const paid = outcomes.filter((o) => o.kind === 'paid');
  if (paid.length === 0) return;
  const byHour = new Map<number, { soldAt: Date; lines: { productId: number; quantity: number }[] }>();
  for (const { order, now } of paid) {
    const hour = Math.floor(now.getTime() / 3_600_000);
    const sold = byHour.get(hour) ?? { soldAt: now, lines: [] };
    sold.lines.push(...order.lines);
    byHour.set(hour, sold);
  }
  await Promise.allSettled([
    ...paid.map(({ order }) => commitOrderHolds(rt, order)),
    ...[...byHour.values()].map(({ soldAt, lines }) => recordSales(rt, lines, soldAt)),
  ]);
  requestOutboxExport(rt);
}

/** At most one export job per process in this interval (plus one trailing add). */
const EXPORT_TRIGGER_INTERVAL_MS = 100;

/**
 * Asks the worker to export the outbox soon; never awaited. Throttled (throttled-add.ts): every
 * payment used to add a job that BullMQ's deduplication then dropped, a Redis script run per
 * payment for nothing. A lost trigger only delays the export until the outbox sweep.
 */
function requestOutboxExport(rt: Pick<Resources, 'queues' | 'jobTriggers'>): void {
  throttledAdd(rt.jobTriggers, 'export-soon', EXPORT_TRIGGER_INTERVAL_MS, () =>
    rt.queues[QueueName.OutboxExport].add(
      'export-soon',
      {},
      { deduplication: { id: 'export-soon', ttl: 200 } },
    ),
  );
}
