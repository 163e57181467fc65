// Samples the service while a load test runs, once a second: how far behind each worker is,
// Redis memory, Postgres rows written per second (of the run's own database), and CPU of the
// API, the worker and Redis. What a worker has not done yet is measured where it waits:
// - coupon-persist: issuances in the coupons' pending streams (oldest entry's age);
// - order-persist: orders answered from Redis and not yet saved (count);
// - order-expiry: unpaid orders past their expiry, not yet expired (oldest one's overdue time);
// - outbox-export: paid orders not yet exported (oldest one's age);
// - every BullMQ queue: jobs waiting (oldest one's age).
import {
  ALL_QUEUES,
  Cluster,
  createKeys,
  createQueues,
  masters,
  type Queues,
  type RedisClient,
} from '@flash/core';
import { countUnsavedOrders } from '@flash/core/internal/order/order.store';
import { postgresCpuMs, treeCpuTimeMs } from '../../test/processes.ts';
import type { Sql } from './invariants.ts';

export type Backlog = { count: number; oldestMs: number };

export type Sample = {
  /** ms since the monitor started */
  t: number;
  backlogs: Record<string, Backlog>;
  redisUsedBytes: number;
  /** Rows inserted, updated and deleted in the run's database since the previous sample, per second. */
  pgRowsPerSec: number;
  pgCommitsPerSec: number;
  /** CPU ms per second of wall time since the previous sample (1000 = one core busy). */
  cpu: Record<string, number>;
};

type PgCounters = { rows: number; inserted: number; updated: number; deleted: number; commits: number };

export type MonitorTotals = {
  durationMs: number;
  pg: PgCounters;
  /** CPU ms each process used over the whole run. */
  cpuMs: Record<string, number>;
  /** INFO commandstats calls by command over the run (exact only with a Redis of the run's own). */
  redisCalls: Record<string, number>;
  redisPeakUsedBytes: number;
  redisUsedBytesAtEnd: number;
  redisUsedBytesAtStart: number;
};

export type Monitor = {
  samples: Sample[];
  stop(): Promise<MonitorTotals>;
};

async function pgCounters(db: Sql): Promise<PgCounters> {
  const { rows } = await db.query<{ inserted: string; updated: string; deleted: string; commits: string }>(
    `SELECT tup_inserted AS inserted, tup_updated AS updated, tup_deleted AS deleted, xact_commit AS commits
     FROM pg_stat_database WHERE datname = current_database()`,
  );
  const r = rows[0]!;
  const n = { inserted: Number(r.inserted), updated: Number(r.updated), deleted: Number(r.deleted) };
  return { ...n, rows: n.inserted + n.updated + n.deleted, commits: Number(r.commits) };
}

function infoField(info: string, field: string): number {
  return Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(info)?.[1] ?? Number.NaN);
}

/** Commands run so far, summed over the masters on a cluster (the replicas only replay them). */
async function commandCalls(redis: RedisClient): Promise<Record<string, number>> {
  const calls: Record<string, number> = {};
  for (const node of masters(redis)) {
    const info = await node.info('commandstats');
    for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      calls[m[1]!] = (calls[m[1]!] ?? 0) + Number(m[2]);
    }
  }
  return calls;
}

/** Memory used by the data, summed over the masters on a cluster. */
async function usedMemory(redis: RedisClient): Promise<number> {
  let used = 0;
  for (const node of masters(redis)) used += infoField(await node.info('memory'), 'used_memory');
  return used;
}

async function backlogs(
  db: Sql,
  redis: RedisClient,
  queues: Queues,
  prefix: string,
): Promise<Record<string, Backlog>> {
  const now = Date.now();
  const keys = createKeys(prefix);
  const out: Record<string, Backlog> = {};
  const coupons = await db.query<{ id: number }>('SELECT id::int AS id FROM coupons');
  let pending = 0;
  let oldest = now;
  for (const { id } of coupons.rows) {
    const k = keys.coupon(id).pending;
    pending += await redis.xlen(k);
    const first = (await redis.xrange(k, '-', '+', 'COUNT', 1))[0];
    if (first) oldest = Math.min(oldest, Number(first[0].split('-')[0]));
  }
  out['coupon-persist'] = { count: pending, oldestMs: now - oldest };
  out['order-persist'] = { count: await countUnsavedOrders(redis, keys), oldestMs: 0 };
  const due = await db.query<{ n: number; overdue: number | null }>(
    `SELECT count(*)::int AS n, (extract(epoch FROM now() - min(expires_at)) * 1000)::float8 AS overdue
     FROM orders WHERE status = 'PENDING_PAYMENT' AND expires_at < now()`,
  );
  out['order-expiry'] = { count: due.rows[0]?.n ?? 0, oldestMs: due.rows[0]?.overdue ?? 0 };
  const outbox = await db.query<{ n: number; age: number | null }>(
    `SELECT count(*)::int AS n, (extract(epoch FROM now() - min(created_at)) * 1000)::float8 AS age
     FROM outbox WHERE published_at IS NULL`,
  );
  out['outbox-export'] = { count: outbox.rows[0]?.n ?? 0, oldestMs: outbox.rows[0]?.age ?? 0 };
  for (const name of ALL_QUEUES) {
    const waiting = await queues[name].getWaiting(0, 0);
    const count = await queues[name].getWaitingCount();
    out[`queue ${name}`] = { count, oldestMs: waiting[0] ? now - waiting[0].timestamp : 0 };
  }
  return out;
}

/**
 * Starts sampling. `pids` names the processes whose CPU is followed (api, worker, redis...);
 * `postgres` is added: every Postgres process of the machine, so shared with other tenants.
 */
export async function startMonitor(options: {
  db: Sql;
  redis: RedisClient;
  prefix: string;
  pids: Record<string, number | undefined>;
  everyMs?: number;
}): Promise<Monitor> {
  const { db, redis, prefix, pids } = options;
  // Narrowed first: `duplicate` has a different signature on a Cluster and on one Redis.
  const queueConnection = redis instanceof Cluster ? redis.duplicate() : redis.duplicate();
  const keys = createKeys(prefix);
  const queues = createQueues(queueConnection, (queue) => keys.bullPrefixOf(queue, redis instanceof Cluster));
  const started = Date.now();
  const pgStart = await pgCounters(db);
  const callsStart = await commandCalls(redis);
  // Postgres runs a process per connection: its CPU is what each process spent since the last
  // look, added up, so a connection that closed in between takes nothing back.
  let pgSeen = postgresCpuMs();
  let pgCpu = 0;
  const cpuNow = () => {
    const cpu: Record<string, number> = {};
    for (const [name, pid] of Object.entries(pids)) cpu[name] = treeCpuTimeMs(pid);
    const now = postgresCpuMs();
    for (const [pid, ms] of now) pgCpu += ms - (pgSeen.get(pid) ?? 0);
    pgSeen = now;
    cpu.postgres = pgCpu;
    return cpu;
  };
  const cpuStart = cpuNow();
  const usedStart = await usedMemory(redis);
  let prev = { at: started, pg: pgStart, cpu: cpuStart };
  let peak = usedStart;
  const samples: Sample[] = [];
  let stopped = false;
  let busy: Promise<void> = Promise.resolve();

  const sample = async () => {
    const at = Date.now();
    const [pg, used, lag] = await Promise.all([
      pgCounters(db),
      usedMemory(redis),
      backlogs(db, redis, queues, prefix),
    ]);
    const cpu = cpuNow();
    const sec = Math.max(0.001, (at - prev.at) / 1000);
    peak = Math.max(peak, used);
    samples.push({
      t: at - started,
      backlogs: lag,
      redisUsedBytes: used,
      pgRowsPerSec: (pg.rows - prev.pg.rows) / sec,
      pgCommitsPerSec: (pg.commits - prev.pg.commits) / sec,
      cpu: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, (v - (prev.cpu[k] ?? v)) / sec])),
    });
    prev = { at, pg, cpu };
  };
  const timer = setInterval(() => {
    if (stopped) return;
    busy = busy.then(sample).catch(() => {});
  }, options.everyMs ?? 1000);

  return {
    samples,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await busy;
      await sample().catch(() => {});
      const pg = await pgCounters(db);
      const calls = await commandCalls(redis);
      const cpu = cpuNow();
      const used = await usedMemory(redis);
      await queues.close();
      queueConnection.disconnect();
      return {
        durationMs: Date.now() - started,
        pg: {
          rows: pg.rows - pgStart.rows,
          inserted: pg.inserted - pgStart.inserted,
          updated: pg.updated - pgStart.updated,
          deleted: pg.deleted - pgStart.deleted,
          commits: pg.commits - pgStart.commits,
        },
        cpuMs: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, v - (cpuStart[k] ?? 0)])),
        redisCalls: Object.fromEntries(
          Object.entries(calls)
            .map(([k, v]) => [k, v - (callsStart[k] ?? 0)] as const)
            .filter(([, v]) => v > 0)
            .sort((a, b) => b[1] - a[1]),
        ),
        redisPeakUsedBytes: Math.max(peak, used),
        redisUsedBytesAtEnd: used,
        redisUsedBytesAtStart: usedStart,
      };
    },
  };
}
