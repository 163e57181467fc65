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
 * The life of a batch:
 * 1. open: the first caller of `join` creates it; it waits for a free slot (at most
 *    `maxInFlight` batches hold a connection), then BEGINs and takes the lock. Callers keep
 *    joining meanwhile, so batches grow on their own while earlier ones commit.
 * 2. closed: one turn of the event loop after the lock is held (or at `maxSize` tickets) it
 *    takes no more joiners; the next `join` opens the next batch.
 * 3. drained: every ticket was either `submit`ted (its hold succeeded) or `leave`n (no hold).
 *    Then one insert, COMMIT, and every submitted order learns whether it was inserted.
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

type Submitted = {
  row: OrderRow;
  lines: OrderLine[];
  outcome: PromiseWithResolvers<BatchedOrderOutcome>;
};

type Batch = {
  ready: PromiseWithResolvers<void>;
  drained: PromiseWithResolvers<void>;
  orders: Submitted[];
  tickets: number;
  /** Tickets neither submitted nor left. */
  active: number;
  closed: boolean;
};

export function createOrderBatcher(db: Db, options: OrderBatcherOptions = {}): OrderBatcher {
  const maxSize = options.maxSize ?? 200;
  const maxInFlight = options.maxInFlight ?? 2;
  let open: Batch | undefined;
  let closing = false;
  let inFlight = 0;
  const slotWaiters: (() => void)[] = [];
  const running = new Set<Promise<void>>();

  const closeBatch = (batch: Batch) => {
    if (batch.closed) return;
    batch.closed = true;
    if (open === batch) open = undefined;
    if (batch.active === 0) batch.drained.resolve();
  };

  const acquireSlot = async () => {
    if (inFlight < maxInFlight) {
      inFlight++;
      return;
    }
    // The slot is handed over by releaseSlot, so inFlight stays counted.
    await new Promise<void>((resolve) => slotWaiters.push(resolve));
  };
  const releaseSlot = () => {
    const next = slotWaiters.shift();
    if (next) next();
    else inFlight--;
  };

  const run = async (batch: Batch) => {
    await acquireSlot();
    let inserted: Set<string> | undefined;
    try {
      await db.transaction().execute(async (trx) => {
        await lockInventoryForHold(trx);
        batch.ready.resolve();
        // Whoever joins during this turn of the event loop still comes along.
        setImmediate(() => closeBatch(batch));
        await batch.drained.promise;
        if (batch.orders.length > 0) inserted = await insertPendingOrders(trx, batch.orders);
      });
    } catch (err) {
      // Before the lock, joiners still waiting in `join` get the error and hold nothing; after
      // it, every submitted order gets it (the caller tells a rollback from an unknown outcome).
      closeBatch(batch);
      batch.ready.reject(err);
      for (const order of batch.orders) order.outcome.reject(err);
      return;
    } finally {
      releaseSlot();
    }
    for (const order of batch.orders) {
      order.outcome.resolve(inserted?.has(order.row.id) ? 'inserted' : 'coupon-taken');
    }
  };

  const openBatch = (): Batch => {
    const batch: Batch = {
      ready: Promise.withResolvers<void>(),
      drained: Promise.withResolvers<void>(),
      orders: [],
      tickets: 0,
      active: 0,
      closed: false,
    };
    // Nobody may be waiting when it fails (every joiner left already): never unhandled.
    batch.ready.promise.catch(() => {});
    const done = run(batch);
    running.add(done);
    done.finally(() => running.delete(done));
    return batch;
  };

  const ticketFor = (batch: Batch): OrderBatchTicket => {
    let used = false;
    const use = () => {
      if (used) throw new Error('An order batch ticket was used twice');
      used = true;
    };
    const finish = () => {
      batch.active--;
      if (batch.closed && batch.active === 0) batch.drained.resolve();
    };
    return {
      leave() {
        use();
        finish();
      },
      submit(row, lines) {
        use();
        const outcome = Promise.withResolvers<BatchedOrderOutcome>();
        batch.orders.push({ row, lines, outcome });
        finish();
        return outcome.promise;
      },
    };
  };

  return {
    async join() {
      if (closing) throw new AppError(AppErrorCode.UNAVAILABLE, 'Shutting down, please retry');
      open ??= openBatch();
      const batch = open;
      batch.active++;
      if (++batch.tickets >= maxSize) closeBatch(batch);
      try {
        await batch.ready.promise;
      } catch (err) {
        batch.active--;
        throw err;
      }
      return ticketFor(batch);
    },

    async close() {
      closing = true;
      if (open) closeBatch(open);
      while (running.size > 0) await Promise.allSettled([...running]);
    },
  };
}
