import { DEFAULT_JOB_OPTIONS, QueueName } from '@flash/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, type TestServer } from '../../../test/support.ts';
import type { QueueWorker } from '../src/job.ts';
import { type RunningWorkers, startWorkers } from '../src/workers.ts';

// A job that keeps failing is retried with growing delays, then parked in BullMQ's failed set
// (never dropped), where /metrics and the admin dashboard show it and an operator retries it.
describe('fault: a job that always fails', () => {
  let s: TestServer;
  let running: RunningWorkers | undefined;
  beforeAll(async () => {
    s = await createTestServer();
  });
  afterAll(async () => {
    await running?.close();
    await s.cleanup();
  });

  it('production defaults retry with exponential backoff and keep failed jobs', () => {
    expect(DEFAULT_JOB_OPTIONS.attempts).toBeGreaterThan(1);
    expect(DEFAULT_JOB_OPTIONS.backoff.type).toBe('exponential');
    expect(DEFAULT_JOB_OPTIONS.removeOnFail).toBe(false);
  });

  it('is retried with backoff, kept as failed, visible to operators, and retryable once fixed', async () => {
    let cause: string | undefined = 'data platform answered HTTP 503';
    const attemptsAt: number[] = [];
    // A test-defined worker on this file's own (prefixed) maintenance queue, run by the same
    // startWorkers the worker process uses.
    const flaky: QueueWorker = {
      queue: QueueName.Maintenance,
      concurrency: 1,
      async handle(_rt, job) {
        attemptsAt.push(Date.now());
        if (job.name !== 'export-report') throw new Error(`unexpected job ${job.name}`);
        if (cause) throw new Error(cause);
        return { exported: true };
      },
    };
    running = await startWorkers(s.rt, [flaky]);

    const queue = s.rt.queues[QueueName.Maintenance];
    // The queue's defaults (8 attempts from 500 ms) with a shorter schedule, so the test is quick.
    const baseDelay = 100;
    const job = await queue.add(
      'export-report',
      { day: '2026-11-26' },
      {
        attempts: 4,
        backoff: { type: 'exponential', delay: baseDelay },
      },
    );
    await expect.poll(() => job.getState(), { timeout: 15_000 }).toBe('failed');

    // Four attempts; the waits before the retries are at least 100, 200 and 400 ms (doubling).
    expect(attemptsAt).toHaveLength(4);
    const gaps = attemptsAt.slice(1).map((t, i) => t - attemptsAt[i]!);
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(baseDelay * 2 ** i - 5);
    });
    const failed = await queue.getJob(job.id!);
    expect(failed!.attemptsMade).toBe(4);
    expect(failed!.failedReason).toBe('data platform answered HTTP 503');
    expect(failed!.stacktrace?.length).toBeGreaterThan(0);
    expect((await queue.getFailed()).map((j) => j.id)).toEqual([job.id]);

    // Visible: Prometheus sees one failed job on the queue, the dashboard lists it with its reason.
    const metrics = (await s.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toContain('flash_queue_jobs{queue="maintenance",state="failed"} 1');
    const admin = { authorization: `Bearer ${await s.token(1, { admin: true })}` };
    const board = await s.app.inject({
      method: 'GET',
      url: '/admin/queues/api/queues?activeQueue=maintenance&status=failed',
      headers: admin,
    });
    expect(board.statusCode).toBe(200);
    const listed = board.json().queues.find((q: { name: string }) => q.name === 'maintenance');
    expect(listed.counts.failed).toBe(1);
    expect(listed.jobs).toMatchObject([
      { id: job.id, name: 'export-report', failedReason: 'data platform answered HTTP 503', attempts: 4 },
    ]);

    // Still there a while later: failed jobs are not removed.
    await new Promise((r) => setTimeout(r, 300));
    expect(await job.getState()).toBe('failed');

    // The cause is fixed; the operator retries it from the dashboard and it completes.
    cause = undefined;
    const retry = await s.app.inject({
      method: 'PUT',
      url: `/admin/queues/api/queues/maintenance/${job.id}/retry`,
      headers: admin,
    });
    expect(retry.statusCode).toBe(204);
    await expect.poll(() => job.getState(), { timeout: 10_000 }).toBe('completed');
    expect(attemptsAt).toHaveLength(5);
    expect((await queue.getJob(job.id!))!.returnvalue).toEqual({ exported: true });
    expect((await s.app.inject({ method: 'GET', url: '/metrics' })).body).toContain(
      'flash_queue_jobs{queue="maintenance",state="failed"} 0',
    );

    // And the same through BullMQ's own API (job.retry), for a second failure.
    cause = 'again';
    const second = await queue.add('export-report', {}, { attempts: 1 });
    await expect.poll(() => second.getState(), { timeout: 10_000 }).toBe('failed');
    cause = undefined;
    await (await queue.getJob(second.id!))!.retry();
    await expect.poll(() => second.getState(), { timeout: 10_000 }).toBe('completed');
  });
});
