/**
 * `GET /metrics` in Prometheus' text format: the per-procedure metrics the tRPC middleware
 * records (trpc/metrics.ts), BullMQ queue depth and failed jobs read on each scrape, and the
 * Node process defaults (CPU, memory, event-loop lag, GC).
 *
 * The endpoint is unauthenticated, as Prometheus endpoints usually are: it names procedures,
 * coupons and queues but no user. Expose it on the internal network only.
 */
import { ALL_QUEUES, type Runtime } from '@flash/core';
import type { FastifyPluginAsync } from 'fastify';
import { collectDefaultMetrics, Gauge, type Registry } from 'prom-client';
import { clusterMetrics } from '../cluster.ts';
import { apiMetrics } from '../trpc/metrics.ts';

export type MetricsPluginOptions = { runtime: Runtime };

/** Job states reported per queue; `failed` is what operators alert on. */
const STATES = ['waiting', 'prioritized', 'delayed', 'waiting-children', 'active', 'failed'] as const;
/** States of jobs that wait to run: the queue's depth. */
const WAITING_STATES = new Set<string>(['waiting', 'prioritized', 'delayed', 'waiting-children']);

// Several servers may share one runtime (benchmarks compare variants): its registry gets the
// process and queue metrics once.
const registered = new WeakSet<Registry>();

export const metricsPlugin: FastifyPluginAsync<MetricsPluginOptions> = async (app, { runtime: rt }) => {
  const { registry } = apiMetrics(rt);
  if (!registered.has(registry)) {
    queueGauges(rt, registry);
    registered.add(registry);
  }
  // One of several API processes answers for all of them (cluster.ts says why).
  const render = clusterMetrics(registry) ?? (() => registry.metrics());

  app.get('/metrics', async (_req, reply) => {
    const body = await render();
    return reply.header('content-type', registry.contentType).send(body);
  });
};

/**
 * Registers the process and queue gauges. A scrape collects the three gauges concurrently; they
 * share one reading of the queues. With several API processes each process reads them and the
 * aggregate takes one reading (aggregator `first`), not their sum.
 */
function queueGauges(rt: Runtime, registry: Registry): void {
  const registers = [registry];
  collectDefaultMetrics({ register: registry });

  const queueUp = new Gauge({
    name: 'flash_queue_up',
    help: '1 when the last scrape could read the queues from Redis, 0 when it could not',
    registers,
    aggregator: 'min',
    collect: () => readQueues(),
  });
  const queueDepth = new Gauge({
    name: 'flash_queue_depth',
    help: 'Jobs waiting to run (waiting, prioritized, delayed, waiting-children), per queue',
    labelNames: ['queue'],
    registers,
    aggregator: 'first',
    collect: () => readQueues(),
  });
  const queueJobs = new Gauge({
    name: 'flash_queue_jobs',
    help: 'Jobs per queue and state; state="failed" are jobs that used up their retries and wait for an operator',
    labelNames: ['queue', 'state'],
    registers,
    aggregator: 'first',
    collect: () => readQueues(),
  });

  let reading: Promise<void> | undefined;
  const readQueues = () => {
    reading ??= refresh().finally(() => {
      reading = undefined;
    });
    return reading;
  };
  // Every queue's counts (one small script per queue), read right before a scrape renders.
  const refresh = async () => {
    try {
      const counts = await Promise.all(ALL_QUEUES.map((name) => rt.queues[name].getJobCounts(...STATES)));
      for (const [i, queue] of ALL_QUEUES.entries()) {
        let depth = 0;
        for (const state of STATES) {
          const n = counts[i]![state] ?? 0;
          queueJobs.labels(queue, state).set(n);
          if (WAITING_STATES.has(state)) depth += n;
        }
        queueDepth.labels(queue).set(depth);
      }
      queueUp.set(1);
    } catch {
      // Redis down: no stale counts, but the request metrics are still worth a scrape.
      queueJobs.reset();
      queueDepth.reset();
      queueUp.set(0);
    }
  };
}
