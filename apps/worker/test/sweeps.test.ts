import { QueueName } from '@flash/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';
import type { QueueWorker } from '../src/job.ts';
import { type RunningWorkers, startWorkers } from '../src/workers.ts';

describe('repeatable sweeps', () => {
  let t: TestRuntime;
  let workers: RunningWorkers;
  let runs = 0;
  let realWork = 0;
  // A sweep every 100 ms that finds nothing, beside real jobs on the same queue.
  const sweeping: QueueWorker = {
    queue: QueueName.Maintenance,
    concurrency: 1,
    schedules: [{ id: 'test-sweep', name: 'sweep', everyMs: 100 }],
    async handle(_rt, job) {
      if (job.name === 'sweep') return { found: runs++ * 0 };
      realWork++;
      return { done: true };
    },
  };

  beforeAll(async () => {
    t = await createTestRuntime();
    workers = await startWorkers(t.rt, [sweeping]);
  });
  afterAll(async () => {
    await workers.close();
    await t.cleanup();
  });

  it('leave no completed jobs behind, so the queue dashboard shows the real work', async () => {
    const queue = t.rt.queues[QueueName.Maintenance];
    await queue.add('real', {});
    await expect.poll(() => runs, { interval: 100 }).toBeGreaterThanOrEqual(5);
    await expect.poll(() => realWork).toBe(1);
    const completed = await queue.getCompleted();
    expect(completed.map((j) => j.name)).toEqual(['real']);
  });
});
