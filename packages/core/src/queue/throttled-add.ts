/**
 * Job adds that many calls ask for and one job serves ("drain this coupon", "export the
 * outbox"): at most one add per key and owner (a runtime's queues) in each interval, and a call
 * inside the interval schedules one trailing add, so the last call of a burst is always
 * followed by a job. BullMQ's deduplication would also collapse the extra jobs, but only after
 * each call had paid for a script run in Redis; a flash crowd of thousands of calls per second
 * adds a handful of jobs this way. A lost add (process killed, Redis blip) only delays the work
 * until the worker's periodic sweep.
 */
type Trigger = { lastAt: number; timer?: NodeJS.Timeout };

const triggersByOwner = new WeakMap<object, Map<string, Trigger>>();

export function throttledAdd(owner: object, key: string, intervalMs: number, add: () => void): void {
  let triggers = triggersByOwner.get(owner);
  if (!triggers) {
    triggers = new Map();
    triggersByOwner.set(owner, triggers);
  }
  const trigger = triggers.get(key);
  const now = Date.now();
  if (!trigger || now - trigger.lastAt >= intervalMs) {
    if (trigger) trigger.lastAt = now;
    else triggers.set(key, { lastAt: now });
    add();
    return;
  }
  if (trigger.timer) return;
  trigger.timer = setTimeout(
    () => {
      trigger.timer = undefined;
      trigger.lastAt = Date.now();
      add();
    },
    trigger.lastAt + intervalMs - now,
  );
  // Never keeps a process alive for a job the sweep would do anyway.
  trigger.timer.unref();
}
