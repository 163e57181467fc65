import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createJobTriggers, throttledAdd } from '../src/queue/throttled-add.ts';

describe('throttledAdd', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('adds at once, then at most once per interval, with one trailing add for a burst', () => {
    const owner = createJobTriggers();
    const add = vi.fn(async () => {});
    throttledAdd(owner, 'k', 100, add);
    expect(add).toHaveBeenCalledTimes(1);
    // A burst inside the interval: nothing now, one add when the interval is over.
    for (let i = 0; i < 1000; i++) throttledAdd(owner, 'k', 100, add);
    expect(add).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(99);
    expect(add).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    expect(add).toHaveBeenCalledTimes(2);
    // Nothing asked since the trailing add: nothing more comes.
    vi.advanceTimersByTime(1000);
    expect(add).toHaveBeenCalledTimes(2);
    // Long after: at once again.
    throttledAdd(owner, 'k', 100, add);
    expect(add).toHaveBeenCalledTimes(3);
  });

  it('throttles each key and each owner on its own', () => {
    const add = vi.fn(async () => {});
    const a = createJobTriggers();
    const b = createJobTriggers();
    throttledAdd(a, 'k', 100, add);
    throttledAdd(a, 'other', 100, add);
    throttledAdd(b, 'k', 100, add);
    expect(add).toHaveBeenCalledTimes(3);
    throttledAdd(a, 'k', 100, add);
    expect(add).toHaveBeenCalledTimes(3);
    vi.advanceTimersByTime(100);
    expect(add).toHaveBeenCalledTimes(4);
  });

  it('drops a failed add, thrown or rejected, like a lost one (the sweep does the work)', async () => {
    const owner = createJobTriggers();
    expect(() =>
      throttledAdd(owner, 'closed', 100, () => {
        throw new Error('Connection is closed');
      }),
    ).not.toThrow();
    vi.useRealTimers();
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      // A plain function: a vi.fn would itself handle the promise it returns (settledResults).
      let calls = 0;
      throttledAdd(owner, 'down', 100, () => {
        calls++;
        return Promise.reject(new Error('Redis down'));
      });
      expect(calls).toBe(1);
      // Node reports an unhandled rejection once the microtasks of the turn have run.
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });
});
