// What every benchmark row uses: the run's context (a fresh database and Redis prefix, seeded
// coupons, products and users), `measure` (warm-up, then a measured window with the CPU of the
// server, Redis, Postgres and the load generator), and the row shape the report shows.
//
// Every HTTP row runs the same way: the server is a child process started fresh for the row,
// autocannon (in this process, so it shares the cores) drives it with BENCH_CONNECTIONS
// connections, and every request is distinct (its own user, token or order) so that it succeeds
// (but in rows that measure a refusal, which say so with `expectStatus`).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { connectRedisClient, createKeys, isCluster, type Keys, type RedisClient } from '@flash/core';
import { countUnsavedOrders } from '@flash/core/internal/order/order.store';
import {
  type Child,
  cpuTimeMs,
  postgresCpuMs,
  postgresCpuSinceMs,
  ROOT,
  startApi,
  startWorker,
  treeCpuTimeMs,
} from '../../test/processes.ts';
import { apiClient } from '../lib/client.ts';
import { createRunEnv, type RunEnv } from '../lib/env.ts';
import { type Sql, sqlPool } from '../lib/invariants.ts';
import { fmt, type LoadStats, type RequestSpec, runLoad } from '../lib/load.ts';
import { chargeUsers, createCoupon, createProduct } from '../lib/seed.ts';
import { type BearerPack, mintToken } from '../lib/token.ts';
import { log, settings } from './cli.ts';
import type { BenchRow } from './report.ts';

export const RESULTS_DIR = path.join(ROOT, 'loadtests/results');

/** Users charged at setup (ids 100 on), for the order and payment rows. */
export const ORDER_USERS = 2000;
const PRODUCT_COUNT = 8;

/** One row of the benchmark: add an entry to ROWS in rows.ts to add a row. */
export type RowDef = {
  /** The row's id in the table, in `--only` and in the targets. */
  id: string;
  /**
   * Measured again in every round (BENCH_ROUNDS) and listed round by round: the rows the
   * targets compare with each other. The table shows the row's best round.
   */
  rounds?: boolean;
  /** Setup creates a coupon of this quantity for the row: `couponOf(ctx, id)`; checked at the end. */
  coupon?: number;
  /** Runs only when named in `--only` (or `--cluster`): the cluster rows. */
  optIn?: boolean;
  /** Runs the row once (`round` counts from 0) and returns what the table shows. */
  run(ctx: Ctx, round: number): Promise<BenchRow>;
};

export type Ctx = {
  run: RunEnv;
  db: Sql & { end(): Promise<void> };
  /** The runner's own connection: a cluster client when the run's config names a cluster. */
  redis: RedisClient;
  keys: Keys;
  admin: string;
  /** The coupons setup created, by row id. */
  coupons: Map<string, { couponId: number; quantity: number }>;
  products: { id: number; price: number; stock: number }[];
  /** Successful answers seen per coupon, plus requests cut off in flight. */
  seen: Map<number, { ok: number; inFlight: number }>;
  /** Successes of the naive baseline, checked against its own tables at the end. */
  naiveOk: number;
  /** redis-server's pid, for its CPU per request (it is shared with anything else on the machine). */
  redisPid: number | undefined;
  /** On a Redis Cluster, every node's redis-server instead: Redis CPU is their sum (topology.ts). */
  redisNodes?: { name: string; pid: number }[];
  /** What rows on a Redis other than the run's found when they checked themselves. */
  violations: string[];
};

export function couponOf(ctx: Ctx, rowId: string): number {
  const coupon = ctx.coupons.get(rowId);
  if (!coupon) throw new Error(`row ${rowId} declares no coupon`);
  return coupon.couponId;
}

export type Measured = LoadStats & {
  serverCpuUs?: number;
  redisCpuUs?: number;
  /** The load generator per request: it shares the machine's cores with the server. */
  loadgenCpuUs?: number;
  /** Every Postgres process of the machine per request. */
  postgresCpuUs?: number;
  /** On a cluster, each node's share of `redisCpuUs`, by node name. */
  redisCpuUsByNode?: Record<string, number>;
  okWithWarmup?: number;
};

export const json = { 'content-type': 'application/json' };

/** Node flags for a server under test: BENCH_NODE_ARGS, and --cpu-prof with --profile. */
export function nodeArgsFor(row: string): string[] | undefined {
  if (!settings.profile) return settings.nodeArgs.length ? settings.nodeArgs : undefined;
  const dir = path.join(RESULTS_DIR, 'profiles', row.replace(/[^a-z0-9.-]/gi, '_'));
  mkdirSync(dir, { recursive: true });
  return [...settings.nodeArgs, '--cpu-prof', `--cpu-prof-dir=${dir}`];
}

export async function withChild<T extends Child, R>(
  start: Promise<T>,
  fn: (child: T) => Promise<R>,
): Promise<R> {
  const child = await start;
  try {
    return await fn(child);
  } finally {
    await child.stop();
  }
}

export function okCount(stats: LoadStats): number {
  return Object.entries(stats.statusCounts).reduce((n, [s, c]) => (s.startsWith('2') ? n + c : n), 0);
}

/** A row that is not an HTTP window (a rate of rows, calls or transactions): no latency unless given. */
export function plainRow(
  row: Pick<BenchRow, 'id' | 'label' | 'kind' | 'unit' | 'rps' | 'requests' | 'durationSec'> &
    Partial<BenchRow>,
): BenchRow {
  const none = Number.NaN;
  return { p50: none, p95: none, p99: none, max: none, errors: 0, vsBare: null, vsNaive: null, ...row };
}

/** A table row from a measured HTTP row. */
export function statsRow(
  id: string,
  label: string,
  kind: BenchRow['kind'],
  stats: Measured,
  note?: string,
): BenchRow {
  return {
    id,
    label,
    kind,
    unit: 'req/s',
    rps: stats.rps,
    p50: stats.p50,
    p95: stats.p95,
    p99: stats.p99,
    max: stats.max,
    errors: stats.errors,
    requests: stats.requests,
    durationSec: stats.durationSec,
    statusCounts: stats.statusCounts,
    serverCpuUs: stats.serverCpuUs,
    loadgenCpuUs: stats.loadgenCpuUs,
    postgresCpuUs: stats.postgresCpuUs,
    redisCpuUs: stats.redisCpuUs,
    loadgenGc: stats.loadgenGc,
    silences: stats.silences,
    note,
    vsBare: null,
    vsNaive: null,
  };
}

/**
 * coupon.issue requests cycling over `couponIds`, each with the next user's token, so every
 * request can succeed; `ranOut()` says the load generator asked for more requests than users
 * (the repeats answer COUPON_ALREADY_ISSUED, 409), which the row then logs.
 */
export function couponIssueRequests(tokens: BearerPack, couponIds: number[]) {
  let i = 0;
  const bodies = couponIds.map((couponId) => JSON.stringify({ couponId }));
  return {
    next: (): RequestSpec => {
      const n = i++;
      return {
        method: 'POST',
        path: '/trpc/coupon.issue',
        headers: { ...json, authorization: tokens.bearer(n % tokens.count) },
        body: bodies[n % bodies.length],
      };
    },
    ranOut: () => i > tokens.count,
  };
}

/** Runs one HTTP row and counts what clients saw for its coupon (warm-up included). */
export async function measure(
  ctx: Ctx,
  server: Child & { url: string },
  next: () => RequestSpec,
  couponId?: number,
  extra: { amount?: number; warmupAmount?: number; expectStatus?: number } = {},
): Promise<Measured> {
  const base = {
    url: server.url,
    connections: settings.connections,
    next,
    expectStatus: extra.expectStatus,
  };
  const warm = await runLoad({ ...base, durationSec: settings.warmupSec, amount: extra.warmupAmount });
  const redisPids = ctx.redisNodes?.map((n) => n.pid) ?? [ctx.redisPid];
  const cpu = { server: treeCpuTimeMs(server.process.pid), redis: redisPids.map(cpuTimeMs) };
  const postgres = postgresCpuMs();
  const loadgen = process.cpuUsage();
  const stats: Measured = await runLoad({ ...base, durationSec: settings.durationSec, amount: extra.amount });
  const spent = process.cpuUsage(loadgen);
  stats.loadgenCpuUs = (spent.user + spent.system) / stats.requests;
  stats.postgresCpuUs = (postgresCpuSinceMs(postgres) * 1000) / stats.requests;
  stats.serverCpuUs = ((treeCpuTimeMs(server.process.pid) - cpu.server) * 1000) / stats.requests;
  const redisUs = redisPids.map((pid, i) => ((cpuTimeMs(pid) - cpu.redis[i]!) * 1000) / stats.requests);
  stats.redisCpuUs = redisUs.reduce((a, b) => a + b, 0);
  if (ctx.redisNodes) {
    stats.redisCpuUsByNode = Object.fromEntries(ctx.redisNodes.map((n, i) => [n.name, redisUs[i]!]));
  }
  stats.okWithWarmup = okCount(warm) + okCount(stats);
  if (couponId !== undefined) {
    const seen = ctx.seen.get(couponId) ?? { ok: 0, inFlight: 0 };
    seen.ok += okCount(warm) + okCount(stats);
    seen.inFlight += 2 * settings.connections;
    ctx.seen.set(couponId, seen);
  }
  return stats;
}

/** A fresh database and Redis prefix, a coupon for every row that declares one, products, users. */
export async function setup(rows: RowDef[]): Promise<Ctx> {
  const run = await createRunEnv(
    'bench',
    settings.noLimits ? { RATE_LIMIT_USER_PER_SEC: '0', RATE_LIMIT_IP_PER_SEC: '0' } : {},
  );
  log(`fresh database and Redis prefix ${run.config.redisKeyPrefix}`);
  const redis = await connectRedisClient(run.config, 'command', 'bench-runner');
  const admin = mintToken(run.config.jwtSecret, 1, { admin: true, ttlSeconds: 6 * 3600 });
  const ctx: Ctx = {
    run,
    db: sqlPool(run.config.databaseUrl),
    redis,
    keys: createKeys(run.config.redisKeyPrefix),
    admin,
    coupons: new Map(),
    products: [],
    seen: new Map(),
    naiveOk: 0,
    violations: [],
    redisPid: isCluster(run.config)
      ? undefined
      : Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]) || undefined,
  };
  await withChild(startApi(run.env), async (api) => {
    const client = apiClient(api.url);
    for (const row of rows) {
      if (row.coupon === undefined) continue;
      const couponId = await createCoupon(client, admin, {
        name: `bench ${row.id}`,
        totalQuantity: row.coupon,
      });
      ctx.coupons.set(row.id, { couponId, quantity: row.coupon });
    }
    for (let i = 0; i < PRODUCT_COUNT; i++) {
      ctx.products.push(
        await createProduct(client, admin, {
          name: `bench product ${i + 1}`,
          price: 1000,
          stock: 10_000_000,
        }),
      );
    }
    await chargeUsers(client, orderTokens(ctx), 20_000_000);
  });
  log(`seeded ${ctx.coupons.size} coupons, ${PRODUCT_COUNT} products, ${ORDER_USERS} charged users`);
  return ctx;
}

/** Tokens of the users charged at setup, in id order (ids 100 on). */
export const orderTokens = (ctx: Ctx) =>
  Array.from({ length: ORDER_USERS }, (_, i) => mintToken(ctx.run.config.jwtSecret, 100 + i));

/**
 * Starts the worker and waits until every order answered from Redis is saved in Postgres.
 * Returns how many there were, the rate from worker start, and the steady rate (from the first
 * save on, as the drain row counts it: the worker's start-up is not the save's cost). In a full
 * run the same worker is also persisting the issuances the coupon rows left pending.
 */
export async function saveOrders(
  ctx: Ctx,
  env = ctx.run.env,
  redis = ctx.redis,
): Promise<{ saved: number; rate: number; steady: number }> {
  const unsaved = () => countUnsavedOrders(redis, ctx.keys);
  const before = await unsaved();
  if (before === 0) return { saved: 0, rate: 0, steady: 0 };
  log(`saving the ${before.toLocaleString('en-US')} orders answered from Redis`);
  const started = Date.now();
  let first: { at: number; left: number } | undefined;
  await withChild(startWorker(env), async () => {
    const deadline = Date.now() + 600_000;
    for (let left = before; left > 0; left = await unsaved()) {
      if (left < before && !first) first = { at: Date.now(), left };
      if (Date.now() > deadline) throw new Error('the worker did not save every order within 10 minutes');
      await new Promise((r) => setTimeout(r, 20));
    }
  });
  const now = Date.now();
  const rate = before / ((now - started) / 1000);
  const steady = first && now > first.at ? first.left / ((now - first.at) / 1000) : rate;
  log(
    `saved ${before.toLocaleString('en-US')} orders: ${fmt.rps(steady)} orders/s steady, ${fmt.rps(rate)} orders/s from worker start`,
  );
  return { saved: before, rate, steady };
}
