/**
 * Group commit: the one way this codebase turns "many callers this turn of the event loop" into
 * "one round trip, one transaction, one pipeline". Orders, payments, charges, the outbox export
 * and the Redis WAIT lanes all use it (docs/adr/0300-group-commit.md).
 *
 * The rules it keeps, each tested in group-commit.test.ts:
 * - Ordering: items reach `commit` in the order they were submitted, and a batch starts only
 *   after every earlier batch started (an item held back by its key keeps its place for the
 *   next batch). Item i of a batch gets result i.
 * - Per-item outcome: `commit` returns one result per item, so one refused item fails only its
 *   own caller. A `commit` that throws fails every item of that batch (and only of that batch).
 * - Exclusive keys: two items with one `keyOf` key are never in batches at the same time.
 * - Back-pressure: at most `maxInFlight` batches run at once, each of at most `maxBatch` items;
 *   while all slots are busy new items wait in the queue, so under load batches grow instead of
 *   multiplying (that is what makes it pay).
 * - Shutdown: `close` refuses new items and returns only when every queued item was committed
 *   and answered, including answers that finish after the commit (see `Settled`).
 */

/**
 * One item's result. A value may be a promise: the slot is freed when `commit` returns, and the
 * caller is answered when that promise settles (work that must follow the COMMIT but should not
 * hold a connection, e.g. telling Redis). `close` waits for those promises too.
 */
export type Settled<R> = { ok: true; value: R | Promise<R> } | { ok: false; error: unknown };

export const ok = <R>(value: R | Promise<R>): Settled<R> => ({ ok: true, value });
export const failed = <R = never>(error: unknown): Settled<R> => ({ ok: false, error });

export type GroupCommitOptions<I, R> = {
  /**
   * Commits one batch and returns one result per item, in the items' order. Holds one of the
   * `maxInFlight` slots until it settles.
   */
  commit(items: I[]): Promise<Settled<R>[]>;
  /** Items per batch at most (default 100). */
  maxBatch?: number;
  /** Batches running at once at most (default 1). */
  maxInFlight?: number;
  /**
   * An item's exclusive key (an idempotency key), or undefined. Items with one key never share a
   * batch, and an item waits while a running batch holds its key; it keeps its place at the head
   * of the queue. So a repeat of a call is committed only after the call it repeats (and
   * replays it), without ever blocking inside Postgres on that call's uncommitted key row.
   */
  keyOf?(item: I): string | undefined;
  /** The error a `submit` after `close` rejects with. */
  closedError?(): Error;
  /** Called whenever the last running batch ended with nothing queued. */
  onIdle?(): void;
};

export type GroupCommit<I, R> = {
  /** Queues `item` for the next batch that has room; settles with its own result. */
  submit(item: I): Promise<R>;
  /** Refuses new items, then waits until every queued and running item has been answered. */
  close(): Promise<void>;
};

type Entry<I, R> = { item: I; settled: PromiseWithResolvers<R> };

export function createGroupCommit<I, R>(options: GroupCommitOptions<I, R>): GroupCommit<I, R> {
  const maxBatch = options.maxBatch ?? 100;
  const maxInFlight = options.maxInFlight ?? 1;
  if (!(maxBatch >= 1 && maxInFlight >= 1)) throw new Error('maxBatch and maxInFlight must be at least 1');
  let queue: Entry<I, R>[] = [];
  let inFlight = 0;
  let scheduled = false;
  let closing = false;
  const running = new Set<Promise<unknown>>();

  const track = (work: Promise<unknown>) => {
    running.add(work);
    const forget = () => running.delete(work);
    work.then(forget, forget);
  };

  /** Keys held by running batches (see `keyOf`). */
  const keysInFlight = new Set<string>();

  const take = (): { batch: Entry<I, R>[]; keys: string[] } => {
    const keyOf = options.keyOf;
    if (!keyOf) return { batch: queue.splice(0, maxBatch), keys: [] };
    const batch: Entry<I, R>[] = [];
    const keys: string[] = [];
    const taken = new Set<string>();
    const rest: Entry<I, R>[] = [];
    for (const entry of queue) {
      const key = batch.length < maxBatch ? keyOf(entry.item) : undefined;
      if (batch.length < maxBatch && (key === undefined || (!taken.has(key) && !keysInFlight.has(key)))) {
        batch.push(entry);
        if (key !== undefined) {
          taken.add(key);
          keys.push(key);
        }
      } else rest.push(entry);
    }
    queue = rest;
    return { batch, keys };
  };

  const run = async (batch: Entry<I, R>[]) => {
    let results: Settled<R>[];
    try {
      results = await options.commit(batch.map((e) => e.item));
      if (results.length !== batch.length) {
        throw new Error(`group commit returned ${results.length} results for ${batch.length} items`);
      }
    } catch (err) {
      for (const entry of batch) entry.settled.reject(err);
      return;
    }
    for (const [i, entry] of batch.entries()) {
      const result = results[i]!;
      if (!result.ok) {
        entry.settled.reject(result.error);
        continue;
      }
      if (result.value instanceof Promise) track(result.value);
      entry.settled.resolve(result.value);
    }
  };

  const flush = () => {
    scheduled = false;
    while (inFlight < maxInFlight && queue.length > 0) {
      const { batch, keys } = take();
      // Everything queued waits for a key a running batch holds; its end flushes again.
      if (batch.length === 0) break;
      inFlight++;
      for (const key of keys) keysInFlight.add(key);
      track(
        run(batch).finally(() => {
          inFlight--;
          for (const key of keys) keysInFlight.delete(key);
          flush();
        }),
      );
    }
    if (inFlight === 0 && queue.length === 0) options.onIdle?.();
  };

  return {
    submit(item) {
      if (closing) {
        return Promise.reject(options.closedError?.() ?? new Error('group commit is closed'));
      }
      const entry: Entry<I, R> = { item, settled: Promise.withResolvers<R>() };
      queue.push(entry);
      // Whoever submits during this turn of the event loop comes along in the same batch; with
      // every slot busy the queue is taken when a batch ends instead.
      if (!scheduled && inFlight < maxInFlight) {
        scheduled = true;
        setImmediate(flush);
      }
      return entry.settled.promise;
    },

    async close() {
      closing = true;
      flush();
      while (running.size > 0 || queue.length > 0) {
        if (running.size === 0) flush();
        await Promise.allSettled([...running]);
      }
    },
  };
}
