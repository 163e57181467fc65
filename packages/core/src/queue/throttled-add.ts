/**
 * Job adds that many calls ask for and one job serves ("drain this coupon", "export the
 * outbox"): at most one add per key and owner (a runtime's `JobTriggers`) in each interval, and a call
 * inside the interval schedules one trailing add, so the last call of a burst is always
 * followed by a job. BullMQ's deduplication would also collapse the extra jobs, but only after
 * each call had paid for a script run in Redis; a flash crowd of thousands of calls per second
 * adds a handful of jobs this way. The add is never awaited and its failure is dropped: a lost
 * add (process killed, Redis blip, a queue closed for shutdown, which throws synchronously)
 * only delays the work until the worker's periodic sweep.
 */
type Trigger = { lastAt: number; timer?: NodeJS.Timeout };

/** The last add and the trailing add of each key: one per runtime, built in its root (runtime.ts). */
export type JobTriggers = Map<string, Trigger>;

export function createJobTriggers(): JobTriggers {
  return new Map();
}

export function throttledAdd(
  triggers: JobTriggers,
  key: string,
  intervalMs: number,
  add: () => Promise<unknown>,
): void {
  const trigger = triggers.get(key);
  const now = Date.now();
  if (!trigger || now - trigger.lastAt >= intervalMs) {
    if (trigger) trigger.lastAt = now;
    else triggers.set(key, { lastAt: now });
    fire(add);
    return;
  }
  if (trigger.timer) return;
  trigger.timer = setTimeout(
    () => {
      trigger.timer = undefined;
      trigger.lastAt = Date.now();
      fire(add);
    },
    trigger.lastAt + intervalMs - now,
  );
  // Never keeps a process alive for a job the sweep would do anyway.
  trigger.timer.unref();
}

function fire(add: () => Promise<unknown>): void {
  try {
    add().catch(() => {});
  } catch {
    // Thrown before any promise (a closed queue): dropped like a rejection.
  }
}
