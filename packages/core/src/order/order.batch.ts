import { createGroupCommit, failed, ok } from '../batch/group-commit.ts';
import type { Db } from '../db/client.ts';
import type { OrderRow } from '../db/database.ts';
import { AppError, AppErrorCode } from '../errors.ts';
import {
  findIdempotencyKeys,
  insertIdempotencyKeys,
  recordKeyAnswers,
} from '../idempotency/idempotency.service.ts';
import { lockInventoryForHold } from '../product/inventory.service.ts';
import { insertPendingOrders, type OrderLine, ordersCarryingKeys } from './order.repository.ts';

/**
 * Group commit for orders without an idempotency key: many orders share one Postgres
 * transaction, one multi-row insert and one COMMIT, and each is answered only after that
 * COMMIT — "an answered order is committed" holds exactly as with one transaction per order.
 *
 * A batch is one pooled connection with an open transaction that took the shared inventory
 * lock (`lockInventoryForHold`) BEFORE any of its orders holds stock in Redis, and keeps it
 * until they are committed. So, as with one transaction per order, an inventory rebuild (which
 * takes the lock exclusively) waits for every hold that is not committed yet.
 *
 * The batching is the group commit of batch/group-commit.ts: the callers of `join` in one turn
 * of the event loop (or, while `maxInFlight` batches hold a connection, everyone who joined
 * meanwhile, up to `maxSize`) form one batch. Its life:
 * 1. it BEGINs and takes the lock; then each joiner gets its ticket;
 * 2. it waits until every ticket was either `submit`ted (its hold succeeded) or `leave`n (no
 *    hold);
 * 3. one insert, COMMIT, and every submitted order learns whether it was inserted.
 *
 * Deadlock freedom: between its lock and its COMMIT a batch waits only for its own joiners'
 * Redis holds (and, inside the insert, for other transactions' uncommitted coupon rows, which
 * wait for nothing a batch holds). A joiner that finds the inventory not loaded must `leave`
 * BEFORE it waits for the rebuild: the rebuild waits for this batch's COMMIT.
 */

/** The scope of order.create's idempotency keys. */
export const ORDER_SCOPE = 'order.create';

/** What a submitted order became when its batch committed. */
export type BatchedOrderOutcome = 'inserted' | 'coupon-taken';

/** One caller's place in a batch. Exactly one of `leave` or `submit` must be called. */
export type OrderBatchTicket = {
  /**
   * Set when the caller's idempotency key was used before: the first call's answer, to be
   * replayed. The ticket is already used up (no hold may be taken, no leave/submit).
   */
  replay?: unknown;
  /** No order from this caller (its hold failed or was never taken). */
  leave(): void;
  /**
   * Hands over an order whose stock is held, and for a keyed order the answer its key stores;
   * settles after the batch's COMMIT. Rejects with the batch's error if the batch failed (see
   * `isDefiniteRollback` in order.service.ts for telling a rollback from an unknown outcome),
   * or with IDEMPOTENCY_KEY_REUSED when another order carries the key (its record was purged).
   */
  submit(row: OrderRow, lines: OrderLine[], answer?: unknown): Promise<BatchedOrderOutcome>;
};

/** An idempotency key to claim for the caller, and the hash of the request it stands for. */
export type OrderKeyClaim = { userId: number; key: string; hash: string };

export type OrderBatcher = {
  /**
   * Joins the next batch; returns once its transaction holds the shared inventory lock and,
   * with `claim`, has claimed the key (or found the answer to replay). Throws
   * IDEMPOTENCY_KEY_REUSED when the key was used with another request.
   */
  join(claim?: OrderKeyClaim): Promise<OrderBatchTicket>;
  /**
   * Refuses new joiners (UNAVAILABLE) and waits until every batch has committed or failed and
   * answered its joiners. Call before Redis and the pool close.
   */
  close(): Promise<void>;
};

export type OrderBatcherOptions = {
  /** Tickets per batch at most. */
  maxSize?: number;
  /**
   * Batches holding a pooled connection at once: one commits while the next collects. Kept
   * well below the pool size so payments and charges always find a connection.
   */
  maxInFlight?: number;
};

type Submission = { row: OrderRow; lines: OrderLine[]; answer: unknown };

/** What the batch tells a joiner once it holds the lock: go ahead, or replay this answer. */
type Verdict = { replay?: unknown };

/** One caller of `join`: told when its batch holds the lock, then hands over its order or none. */
type Joiner = {
  claim?: OrderKeyClaim;
  ready: PromiseWithResolvers<Verdict>;
  submission: PromiseWithResolvers<Submission | undefined>;
};

const keyOf = (c: { userId: number; key: string }) => `${c.userId}:${c.key}`;

export function createOrderBatcher(db: Db, options: OrderBatcherOptions = {}): OrderBatcher {
  const batches = createGroupCommit<Joiner, BatchedOrderOutcome | undefined>({
    maxBatch: options.maxSize ?? 200,
    maxInFlight: options.maxInFlight ?? 2,
    // Two calls with one key are never in batches at once: the second claims after the first
    // batch committed, and replays it (never blocking a batch on another's uncommitted key).
    keyOf: (joiner) => (joiner.claim ? keyOf(joiner.claim) : undefined),
    closedError: () => new AppError(AppErrorCode.UNAVAILABLE, 'Shutting down, please retry'),
    async commit(joiners) {
      let inserted = new Set<string>();
      let submissions: (Submission | undefined)[] = [];
      const keyTaken = new Set<string>();
      await db.transaction().execute(async (trx) => {
        await lockInventoryForHold(trx);
        const claims = joiners.flatMap((j) => (j.claim ? [j.claim] : []));
        const claimed = await insertIdempotencyKeys(trx, ORDER_SCOPE, claims);
        const stored =
          claimed.size < claims.length
            ? await findIdempotencyKeys(
                trx,
                ORDER_SCOPE,
                claims.filter((c) => !claimed.has(keyOf(c))),
              )
            : new Map<string, { hash: string; response: unknown }>();
        for (const joiner of joiners) {
          const claim = joiner.claim;
          if (!claim || claimed.has(keyOf(claim))) {
            joiner.ready.resolve({});
            continue;
          }
          // Used before: no hold, no order; the caller replays (or is refused) at once.
          joiner.submission.resolve(undefined);
          const row = stored.get(keyOf(claim));
          if (!row) {
            joiner.ready.reject(
              new AppError(AppErrorCode.UNAVAILABLE, 'Idempotency key changed concurrently, please retry'),
            );
          } else if (row.hash !== claim.hash) {
            joiner.ready.reject(
              new AppError(
                AppErrorCode.IDEMPOTENCY_KEY_REUSED,
                `This idempotency key was already used for a different ${ORDER_SCOPE} request`,
              ),
            );
          } else joiner.ready.resolve({ replay: row.response });
        }
        submissions = await Promise.all(joiners.map((j) => j.submission.promise));
        const orders = submissions.filter((o) => o !== undefined);
        if (orders.length > 0) inserted = await insertPendingOrders(trx, orders);
        // Keys of orders that went in store their answer; the others are given up, as a
        // rollback of their own transaction would have.
        const answered: { userId: number; key: string; response: string }[] = [];
        const dropped: { userId: number; key: string }[] = [];
        for (const [i, joiner] of joiners.entries()) {
          const claim = joiner.claim;
          if (!claim || !claimed.has(keyOf(claim))) continue;
          const order = submissions[i];
          if (order && inserted.has(order.row.id)) {
            answered.push({ userId: claim.userId, key: claim.key, response: JSON.stringify(order.answer) });
          } else dropped.push(claim);
        }
        const skippedKeyed = orders.filter((o) => o.row.idempotency_key !== null && !inserted.has(o.row.id));
        if (skippedKeyed.length > 0) {
          for (const k of await ordersCarryingKeys(trx, skippedKeyed)) keyTaken.add(k);
        }
        await recordKeyAnswers(trx, ORDER_SCOPE, answered, dropped);
      });
      return submissions.map((o, i) => {
        if (!o) return ok(undefined);
        if (inserted.has(o.row.id)) return ok('inserted');
        const claim = joiners[i]!.claim;
        if (claim && keyTaken.has(keyOf(claim))) {
          // The key's record was purged (kept 24 h) but an order still carries it.
          return failed(
            new AppError(
              AppErrorCode.IDEMPOTENCY_KEY_REUSED,
              'Idempotency key was already used for another order',
            ),
          );
        }
        return ok('coupon-taken');
      });
    },
  });

  return {
    async join(claim) {
      const joiner: Joiner = {
        ...(claim ? { claim } : {}),
        ready: Promise.withResolvers(),
        submission: Promise.withResolvers(),
      };
      const outcome = batches.submit(joiner);
      // Before the lock, a failed batch fails the joiners still waiting here (they hold
      // nothing); after it, every submitted order gets the error through `submit` (the caller
      // tells a rollback from an unknown outcome). A ticket that left listens to nothing.
      outcome.catch((err: unknown) => joiner.ready.reject(err));
      const verdict = await joiner.ready.promise;
      let used = 'replay' in verdict;
      const use = () => {
        if (used) throw new Error('An order batch ticket was used twice');
        used = true;
      };
      return {
        ...verdict,
        leave() {
          use();
          joiner.submission.resolve(undefined);
        },
        submit(row, lines, answer) {
          use();
          joiner.submission.resolve({ row, lines, answer });
          return outcome.then((o) => o!);
        },
      };
    },
    close: () => batches.close(),
  };
}
