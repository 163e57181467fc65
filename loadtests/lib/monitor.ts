// Samples the service once a second while the sale runs: each worker's backlog where it waits
// (count, age of the oldest item), Redis memory and Postgres writes of the run's database; at the
// end, the totals over the run with the CPU of each process.
import { ALL_QUEUES, Cluster, createKeys, createQueues, masters, type RedisClient } from '@flash/core';
import { countUnsavedOrders } from '@flash/core/internal/order/order.store';
import { postgresCpuMs, treeCpuTimeMs } from '../../test/processes.ts';
import type { Sql } from './invariants.ts';

export type Backlog = { count: number; oldestMs: number };

export type Sample = {
  /** ms since the monitor started */
  t: number;
  backlogs: Record<string, Backlog>;
  redisUsedBytes: number;
  pgRowsPerSec: number;
  pgCommitsPerSec: number;
};

type PgCounters = { rows: number; inserted: number; updated: number; deleted: number; commits: number };

export type MonitorTotals = {
  durationMs: number;
  pg: PgCounters;
  cpuMs: Record<string, number>;
  /** INFO commandstats calls over the run (exact only on a Redis of the run's own). */
  redisCalls: Record<string, number>;
  redisPeakUsedBytes: number;
  redisUsedBytesAtEnd: number;
  redisUsedBytesAtStart: number;
};

async function pgCounters(db: Sql): Promise<PgCounters> {
  const { rows } = await db.query(
    `SELECT tup_inserted::float8 AS inserted, tup_updated::float8 AS updated, tup_deleted::float8 AS deleted,
       xact_commit::float8 AS commits FROM pg_stat_database WHERE datname = current_database()`,
  );
  const r = rows[0];
  return { ...r, rows: r.inserted + r.updated + r.deleted };
}

/** INFO `section` of every master (the replicas only replay), each line's numbers added up. */
async function info(redis: RedisClient, section: string, line: RegExp): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const node of masters(redis))
    for (const m of (await node.info(section)).matchAll(line)) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
  return out;
}
const commandCalls = (redis: RedisClient) => info(redis, 'commandstats', /^cmdstat_([^:]+):calls=(\d+)/gm);
const usedMemory = async (redis: RedisClient) =>
  (await info(redis, 'memory', /^(used_memory):(\d+)/gm)).used_memory ?? Number.NaN;

/** `pids`: the processes whose CPU is followed; `postgres` is every Postgres process of the machine. */
export async function startMonitor(options: {
  db: Sql;
  redis: RedisClient;
  prefix: string;
  pids: Record<string, number | undefined>;
}) {
  const { db, redis, prefix, pids } = options;
  // Narrowed first: `duplicate` has a different signature on a Cluster and on one Redis.
  const connection = redis instanceof Cluster ? redis.duplicate() : redis.duplicate();
  const keys = createKeys(prefix);
  const queues = createQueues(connection, (queue) => keys.bullPrefixOf(queue, redis instanceof Cluster));

  const backlogs = async (): Promise<Record<string, Backlog>> => {
    const now = Date.now();
    const coupons = await db.query<{ id: number }>('SELECT id::int AS id FROM coupons');
    let pending = 0;
    let oldest = now;
    for (const { id } of coupons.rows) {
      pending += await redis.xlen(keys.coupon(id).pending);
      const first = (await redis.xrange(keys.coupon(id).pending, '-', '+', 'COUNT', 1))[0];
      if (first) oldest = Math.min(oldest, Number(first[0].split('-')[0]));
    }
    const ageOf = async (where: string, since: string) => {
      const { rows } = await db.query(
        `SELECT count(*)::int AS count, coalesce(extract(epoch FROM now() - min(${since})) * 1000, 0)::float8 AS "oldestMs"
         FROM ${where}`,
      );
      return rows[0] as Backlog;
    };
    const out: Record<string, Backlog> = {
      'coupon-persist': { count: pending, oldestMs: now - oldest },
      'order-persist': { count: await countUnsavedOrders(redis, keys), oldestMs: 0 },
      'order-expiry': await ageOf(
        "orders WHERE status = 'PENDING_PAYMENT' AND expires_at < now()",
        'expires_at',
      ),
      'outbox-export': await ageOf('outbox WHERE published_at IS NULL', 'created_at'),
    };
    for (const name of ALL_QUEUES) {
      const [first] = await queues[name].getWaiting(0, 0);
      out[`queue ${name}`] = {
        count: await queues[name].getWaitingCount(),
        oldestMs: first ? now - first.timestamp : 0,
      };
    }
    return out;
  };

  // Postgres runs a process per connection: its CPU is what each process spent since the last
  // look, added up, so a connection that closed in between takes nothing back.
  let pgSeen = postgresCpuMs();
  let pgCpu = 0;
  const cpuNow = (): Record<string, number> => {
    const cpu = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, treeCpuTimeMs(pid)]));
    const now = postgresCpuMs();
    for (const [pid, ms] of now) pgCpu += ms - (pgSeen.get(pid) ?? 0);
    pgSeen = now;
    return { ...cpu, postgres: pgCpu };
  };

  const started = Date.now();
  const start = {
    pg: await pgCounters(db),
    calls: await commandCalls(redis),
    cpu: cpuNow(),
    used: await usedMemory(redis),
  };
  let prev = { at: started, pg: start.pg };
  let peak = start.used;
  const samples: Sample[] = [];
  const sample = async () => {
    const at = Date.now();
    const [pg, used, lag] = await Promise.all([pgCounters(db), usedMemory(redis), backlogs()]);
    cpuNow(); // keeps the Postgres tally up to date
    const sec = Math.max(0.001, (at - prev.at) / 1000);
    peak = Math.max(peak, used);
    samples.push({
      t: at - started,
      backlogs: lag,
      redisUsedBytes: used,
      pgRowsPerSec: (pg.rows - prev.pg.rows) / sec,
      pgCommitsPerSec: (pg.commits - prev.pg.commits) / sec,
    });
    prev = { at, pg };
  };
  let busy: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    busy = busy.then(sample).catch(() => {});
  }, 1000);
  const since = <T extends Record<string, number>>(now: T, then: T) =>
    Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - (then[k] ?? 0)])) as T;

  return {
    samples,
    async stop(): Promise<MonitorTotals> {
      clearInterval(timer);
      await busy;
      await sample().catch(() => {});
      const [pg, calls, used] = [await pgCounters(db), await commandCalls(redis), await usedMemory(redis)];
      const cpu = cpuNow();
      await queues.close();
      connection.disconnect();
      return {
        durationMs: Date.now() - started,
        pg: since(pg, start.pg),
        cpuMs: since(cpu, start.cpu),
        redisCalls: Object.fromEntries(
          Object.entries(since(calls, start.calls))
            .filter(([, v]) => v > 0)
            .sort((a, b) => b[1] - a[1]),
        ),
        redisPeakUsedBytes: Math.max(peak, used),
        redisUsedBytesAtEnd: used,
        redisUsedBytesAtStart: start.used,
      };
    },
  };
}
