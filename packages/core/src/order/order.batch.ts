import { createGroupCommit, ok } from '../batch/group-commit.ts';
import type { Db } from '../db/client.ts';
import type { OrderRow } from '../db/database.ts';
import { AppError, AppErrorCode } from '../errors.ts';
import { lockInventoryForHold } from '../product/inventory.repository.ts';
import { insertPendingOrders, type OrderLine } from './order.repository.ts';

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

/** What a submitted order became when its batch committed. */
export type BatchedOrderOutcome = 'inserted' | 'coupon-taken';

/** One caller's place in a batch. Exactly one of `leave` or `submit` must be called. */
export type OrderBatchTicket = {
  /** No order from this caller (its hold failed or was never taken). */
  leave(): void;
  /**
   * Hands over an order whose stock is held; settles after the batch's COMMIT. Rejects with
   * the batch's error if the batch failed (see `isDefiniteRollback` in order.service.ts for
   * telling a rollback from an unknown outcome).
   */
  submit(row: OrderRow, lines: OrderLine[]): Promise<BatchedOrderOutcome>;
};

export type OrderBatcher = {
  /** Joins the open batch once its transaction holds the shared inventory lock. */
  join(): Promise<OrderBatchTicket>;
  /**
   * Refuses new joiners (UNAVAILABLE), closes the open batch now and waits until every batch
   * has committed or failed and answered its joiners. Call before Redis and the pool close.
   */
  close(): Promise<void>;
};

export type OrderBatcherOptions = {
  /** Tickets per batch at most. */
  maxSize?: number;
  /**
   * Batches holding a pooled connection at once: one commits while the next collects. Kept
   * well below the pool size so payments, charges and keyed orders always find a connection.
   */
  maxInFlight?: number;
};

type Submission = { row: OrderRow; lines: OrderLine[] };

/** One caller of `join`: told when its batch holds the lock, then hands over its order or none. */
type Joiner = {
  ready: PromiseWithResolvers<void>;
  submission: PromiseWithResolvers<Submission | undefined>;
};

export function createOrderBatcher(db: Db, options: OrderBatcherOptions = {}): OrderBatcher {
  const batches = createGroupCommit<Joiner, BatchedOrderOutcome | undefined>({
    maxBatch: options.maxSize ?? 200,
    maxInFlight: options.maxInFlight ?? 2,
    closedError: () => new AppError(AppErrorCode.UNAVAILABLE, 'Shutting down, please retry'),
    async commit(joiners) {
      let inserted = new Set<string>();
      let submissions: (Submission | undefined)[] = [];
      await db.transaction().execute(async (trx) => {
        await lockInventoryForHold(trx);
        for (const joiner of joiners) joiner.ready.resolve();
        submissions = await Promise.all(joiners.map((j) => j.submission.promise));
        const orders = submissions.filter((o) => o !== undefined);
        if (orders.length > 0) inserted = await insertPendingOrders(trx, orders);
      });
      return submissions.map((o) => ok(o && (inserted.has(o.row.id) ? 'inserted' : 'coupon-taken')));
    },
  });

  return {
    async join() {
      const joiner: Joiner = { ready: Promise.withResolvers(), submission: Promise.withResolvers() };
      const outcome = batches.submit(joiner);
      // Before the lock, a failed batch fails the joiners still waiting here (they hold
      // nothing); after it, every submitted order gets the error through `submit` (the caller
      // tells a rollback from an unknown outcome). A ticket that left listens to nothing.
      outcome.catch((err: unknown) => joiner.ready.reject(err));
      await joiner.ready.promise;
      let used = false;
      const use = () => {
        if (used) throw new Error('An order batch ticket was used twice');
        used = true;
      };
      return {
        leave() {
          use();
          joiner.submission.resolve(undefined);
        },
        submit(row, lines) {
          use();
          joiner.submission.resolve({ row, lines });
          return outcome.then((o) => o!);
        },
      };
    },
    close: () => batches.close(),
  };
}
