/**
 * Caps how many tasks run at once per key; the rest wait here, in memory, in arrival order.
 *
 * Why balance needs it: every charge of one user queues on that user's row lock in Postgres.
 * Left alone, 1,000 concurrent charges of one user would take every pooled connection, each
 * blocked on the same lock, so other users' requests (and the tail of this user's) would time
 * out waiting for a connection. Waiting here instead costs no connection and has no timeout;
 * a few in flight per key keep Postgres busy (the next statement is already queued on the lock
 * when the previous one commits) without starving the pool.
 */
export function createPerKeyLimiter(perKey: number) {
  type Slot = { active: number; waiting: (() => void)[] };
  const slots = new Map<number | string, Slot>();

  return async function limit<T>(key: number | string, task: () => Promise<T>): Promise<T> {
    let slot = slots.get(key);
    if (!slot) {
      slot = { active: 0, waiting: [] };
      slots.set(key, slot);
    }
    if (slot.active >= perKey) {
      await new Promise<void>((resolve) => slot!.waiting.push(resolve));
    } else {
      slot.active++;
    }
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiter (active stays the same), or give it back.
      const next = slot.waiting.shift();
      if (next) next();
      else if (--slot.active === 0) slots.delete(key);
    }
  };
}
