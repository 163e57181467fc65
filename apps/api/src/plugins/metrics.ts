/**
 * `GET /metrics` in Prometheus' text format: the per-procedure metrics the tRPC middleware
 * records (trpc/metrics.ts); read from the stores on each scrape, BullMQ queue depth and failed
 * jobs, the worker's backlogs, coupon progress, Redis memory and CPU, Postgres transactions;
 * and the Node process defaults (CPU, memory, event-loop lag, GC). The dashboard and alert
 * rules built on these names are in ops/ (ops/README.md).
 *
 * The endpoint is unauthenticated, as Prometheus endpoints usually are: it names procedures,
 * coupons and queues but no user. Expose it on the internal network only.
 */
import {
  ALL_QUEUES,
  COUPONS_REPORTED,
  couponProgress,
  databaseTransactions,
  expiredOrders,
  postgresBacklogs,
  type Runtime,
  recentCoupons,
  redisUsage,
} from '@flash/core';
import type { FastifyPluginAsync } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, type Registry } from 'prom-client';
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
 * Registers the process gauges and what a scrape reads from the stores: queue counts, worker
 * backlogs, coupon progress, Redis memory and CPU, Postgres transactions. A scrape collects
 * these metrics concurrently; they share one reading. With several API processes each process
 * reads them and the aggregate takes one reading (aggregator `first`), not their sum.
 */
function queueGauges(rt: Runtime, registry: Registry): void {
  const registers = [registry];
  collectDefaultMetrics({ register: registry });
  const collect = () => readStores();
  const gauge = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers, aggregator: 'first', collect });
  // Totals kept outside this process (Redis, Postgres): set to the store's value on each scrape.
  const total = (name: string, help: string) =>
    new Counter({ name, help, registers, aggregator: 'first', collect });

  const queueUp = new Gauge({
    name: 'flash_queue_up',
    help: '1 when the last scrape could read the queues from Redis, 0 when it could not',
    registers,
    aggregator: 'min',
    collect,
  });
  const queueDepth = gauge(
    'flash_queue_depth',
    'Jobs waiting to run (waiting, prioritized, delayed, waiting-children), per queue',
    ['queue'],
  );
  const queueJobs = gauge(
    'flash_queue_jobs',
    'Jobs per queue and state; state="failed" are jobs that used up their retries and wait for an operator',
    ['queue', 'state'],
  );
  const queueOldest = gauge(
    'flash_queue_oldest_waiting_seconds',
    'Age of the oldest job in state waiting, per queue (0 when none waits)',
    ['queue'],
  );
  const backlogItems = gauge(
    'flash_backlog_items',
    'Work the worker has not done yet, where it waits: coupon-persist (issuances not yet in Postgres), order-expiry (unpaid orders past their expiry), outbox-export (paid orders not yet exported)',
    ['backlog'],
  );
  const backlogOldest = gauge(
    'flash_backlog_oldest_seconds',
    "Age of a backlog's oldest item (order-expiry: how long the first due order is overdue); 0 when empty",
    ['backlog'],
  );
  const couponQuantity = gauge(
    'flash_coupon_quantity',
    `Total quantity of each of the ${COUPONS_REPORTED} newest coupons`,
    ['coupon_id'],
  );
  const couponIssued = gauge(
    'flash_coupon_issued',
    `Coupons issued so far (Redis, every API process together), for the ${COUPONS_REPORTED} newest coupons`,
    ['coupon_id'],
  );
  const ordersExpired = total(
    'flash_orders_expired_total',
    'Unpaid orders the worker expired (their stock and coupon released), all worker processes together',
  );
  const redisUp = gauge(
    'flash_redis_up',
    '1 when the last scrape could read Redis INFO, 0 when it could not',
  );
  const redisUsed = gauge('flash_redis_used_memory_bytes', 'Redis used_memory, summed over the masters');
  const redisMax = gauge(
    'flash_redis_maxmemory_bytes',
    'Redis maxmemory, summed over the masters; 0 when no limit is set',
  );
  const redisCpu = total(
    'flash_redis_cpu_seconds_total',
    'Redis CPU time (used_cpu_sys + used_cpu_user) since the servers started, summed over the masters',
  );
  const postgresUp = gauge(
    'flash_postgres_up',
    "1 when the last scrape could read Postgres' statistics, 0 when it could not",
  );
  const commits = total(
    'flash_postgres_commits_total',
    "Transactions committed in the service's database (pg_stat_database.xact_commit)",
  );
  const rollbacks = total(
    'flash_postgres_rollbacks_total',
    "Transactions rolled back in the service's database (pg_stat_database.xact_rollback)",
  );

  const setTotal = (counter: Counter, value: number) => {
    counter.reset();
    counter.inc(Math.max(0, value));
  };

  let reading: Promise<void> | undefined;
  const readStores = () => {
    reading ??= Promise.all([readQueues(), readRedis(), readPostgres()])
      .then(() => {})
      .finally(() => {
        reading = undefined;
      });
    return reading;
  };
  // Every queue's counts (one small script per queue) and its oldest waiting job.
  const readQueues = async () => {
    try {
      const now = Date.now();
      const [counts, oldest] = await Promise.all([
        Promise.all(ALL_QUEUES.map((name) => rt.queues[name].getJobCounts(...STATES))),
        Promise.all(ALL_QUEUES.map((name) => rt.queues[name].getWaiting(0, 0))),
      ]);
      for (const [i, queue] of ALL_QUEUES.entries()) {
        let depth = 0;
        for (const state of STATES) {
          const n = counts[i]![state] ?? 0;
          queueJobs.labels(queue, state).set(n);
          if (WAITING_STATES.has(state)) depth += n;
        }
        queueDepth.labels(queue).set(depth);
        const job = oldest[i]![0];
        queueOldest.labels(queue).set(job ? Math.max(0, (now - job.timestamp) / 1000) : 0);
      }
      queueUp.set(1);
    } catch {
      // Redis down: no stale counts, but the request metrics are still worth a scrape.
      queueJobs.reset();
      queueDepth.reset();
      queueOldest.reset();
      queueUp.set(0);
    }
  };
  const readRedis = async () => {
    try {
      const [usage, expired] = await Promise.all([redisUsage(rt.redis), expiredOrders(rt.redis, rt.keys)]);
      redisUsed.set(usage.usedMemoryBytes);
      redisMax.set(usage.maxMemoryBytes);
      setTotal(redisCpu, usage.cpuSeconds);
      setTotal(ordersExpired, expired);
      redisUp.set(1);
    } catch {
      redisUsed.reset();
      redisMax.reset();
      redisUp.set(0);
    }
  };
  const readPostgres = async () => {
    try {
      const [coupons, backlogs, transactions] = await Promise.all([
        recentCoupons(rt.db),
        postgresBacklogs(rt.db),
        databaseTransactions(rt.db),
      ]);
      setTotal(commits, transactions.commits);
      setTotal(rollbacks, transactions.rollbacks);
      backlogItems.labels('order-expiry').set(backlogs.orderExpiry.items);
      backlogOldest.labels('order-expiry').set(backlogs.orderExpiry.oldestSeconds);
      backlogItems.labels('outbox-export').set(backlogs.outboxExport.items);
      backlogOldest.labels('outbox-export').set(backlogs.outboxExport.oldestSeconds);
      // Only the coupons reported now: an older coupon's series ends instead of freezing.
      couponQuantity.reset();
      couponIssued.reset();
      const progress = await couponProgress(
        rt.redis,
        rt.keys,
        coupons.map((c) => c.id),
        Date.now(),
      );
      let pending = 0;
      let oldest = 0;
      for (const [i, c] of coupons.entries()) {
        couponQuantity.labels(String(c.id)).set(c.totalQuantity);
        couponIssued.labels(String(c.id)).set(progress[i]!.issued);
        pending += progress[i]!.pending.items;
        if (progress[i]!.pending.items > 0) oldest = Math.max(oldest, progress[i]!.pending.oldestSeconds);
      }
      backlogItems.labels('coupon-persist').set(pending);
      backlogOldest.labels('coupon-persist').set(oldest);
      postgresUp.set(1);
    } catch {
      backlogItems.reset();
      backlogOldest.reset();
      postgresUp.set(0);
    }
  };
}
