// What every benchmark row uses: the run's context (a fresh database and Redis prefix, seeded
// coupons, products and users), `measure` (warm-up, then a measured window with the CPU of every
// process per request) and the worker drains rows wait for. autocannon, in this process, drives
// each HTTP row's fresh server; each request is distinct (its own user, token or order).
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
import { apiClient, mapLimit } from '../lib/client.ts';
import { createRunEnv, type RunEnv } from '../lib/env.ts';
import { checkStock, type Sql, sqlPool } from '../lib/invariants.ts';
import { fmt, type LoadStats, type RequestSpec, runLoad } from '../lib/load.ts';
import { chargeUsers, createCoupon, createProduct } from '../lib/seed.ts';
import { mintToken } from '../lib/token.ts';
import { log, settings } from './cli.ts';
import type { BenchRow, CpuPerRequest } from './report.ts';

export const RESULTS_DIR = path.join(ROOT, 'loadtests/results');
/** Users charged at setup (ids 100 on) for the order and payment rows, and products seeded. */
export const [ORDER_USERS, PRODUCT_COUNT] = [2000, 8];

export type Measured = LoadStats & CpuPerRequest & { okWithWarmup: number };
/** What a row's run returns: its figures; a `note` replaces the entry's. */
export type Result = Partial<BenchRow> &
  Pick<BenchRow, 'rps' | 'requests' | 'durationSec'> & { okWithWarmup?: number };

/** A row (ROWS): `rounds` for the targets; `coupon`, one made at setup; `optIn`, only by name. */
export type RowDef = Pick<BenchRow, 'id' | 'label' | 'kind' | 'note'> & {
  unit?: BenchRow['unit'];
  rounds?: boolean;
  coupon?: number;
  optIn?: boolean;
  run(ctx: Ctx, round: number, id: string): Promise<Result>;
};

export type Ctx = {
  run: RunEnv;
  db: Sql & { end(): Promise<void> };
  redis: RedisClient;
  keys: Keys;
  admin: string;
  coupons: Map<string, { couponId: number; quantity: number }>;
  products: { id: number; price: number; stock: number }[];
  /** Successes clients saw per coupon, plus requests cut off in flight. */
  seen: Map<number, { ok: number; inFlight: number }>;
  /** The redis-server(s) whose CPU a row counts (on a cluster, every node: topology.ts). */
  redisPids: (number | undefined)[];
  /** What rows on a Redis of their own found when they checked themselves. */
  violations: string[];
};

export function couponOf(ctx: Ctx, rowId: string): number {
  const coupon = ctx.coupons.get(rowId);
  if (!coupon) throw new Error(`row ${rowId} declares no coupon`);
  return coupon.couponId;
}

/** Node flags for a server under test: --cpu-prof with --profile. */
export function nodeArgsFor(name: string): string[] | undefined {
  if (!settings.profile) return undefined;
  const dir = path.join(RESULTS_DIR, 'profiles', name.replace(/[^a-z0-9.-]/gi, '_'));
  mkdirSync(dir, { recursive: true });
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}

export async function withChild<T extends Child, R>(start: Promise<T>, fn: (child: T) => Promise<R>) {
  const child = await start;
  try {
    return await fn(child);
  } finally {
    await child.stop();
  }
}

/** The API (profiled as `name` with --profile) for the length of `fn`. */
export const withApi = <R>(env: NodeJS.ProcessEnv, name: string, fn: (api: Server) => Promise<R>) =>
  withChild(startApi(env, nodeArgsFor(name)), fn);
export type Server = Child & { url: string };

const okCount = (stats: LoadStats) =>
  Object.entries(stats.statusCounts).reduce((n, [s, c]) => (s.startsWith('2') ? n + c : n), 0);

/** One HTTP row, `request(i)` the i-th request; the successes clients saw count for `couponId`. */
export async function measure(
  ctx: Ctx,
  server: Server,
  request: (i: number) => RequestSpec,
  couponId?: number,
  extra: { amount?: number; warmupAmount?: number; expectStatus?: number; users?: number } = {},
): Promise<Measured> {
  let i = 0;
  const next = () => request(i++);
  const base = { url: server.url, connections: settings.connections, next, expectStatus: extra.expectStatus };
  const warm = await runLoad({ ...base, durationSec: settings.warmupSec, amount: extra.warmupAmount });
  const serverMs = treeCpuTimeMs(server.process.pid);
  const redisMs = ctx.redisPids.map(cpuTimeMs);
  const postgres = postgresCpuMs();
  const loadgen = process.cpuUsage();
  const stats = await runLoad({ ...base, durationSec: settings.durationSec, amount: extra.amount });
  const spent = process.cpuUsage(loadgen);
  const perRequest = (ms: number) => (ms * 1000) / stats.requests;
  const redisNow = ctx.redisPids.map(cpuTimeMs);
  const ok = okCount(warm) + okCount(stats);
  if (extra.users !== undefined && i > extra.users)
    log('WARNING: ran out of distinct users; the rest were repeats');
  if (couponId !== undefined) {
    const seen = ctx.seen.get(couponId) ?? { ok: 0, inFlight: 0 };
    ctx.seen.set(couponId, { ok: seen.ok + ok, inFlight: seen.inFlight + 2 * settings.connections });
  }
  return {
    ...stats,
    serverCpuUs: perRequest(treeCpuTimeMs(server.process.pid) - serverMs),
    redisCpuUs: perRequest(redisNow.reduce((sum, ms, i) => sum + ms - redisMs[i]!, 0)),
    postgresCpuUs: perRequest(postgresCpuSinceMs(postgres)),
    loadgenCpuUs: perRequest((spent.user + spent.system) / 1000),
    okWithWarmup: ok,
  };
}

/** A fresh database and Redis prefix, a coupon for every row that declares one, products, users. */
export async function setup(rows: RowDef[]): Promise<Ctx> {
  const run = await createRunEnv('bench');
  log(`fresh database and Redis prefix ${run.config.redisKeyPrefix}`);
  const redis = await connectRedisClient(run.config, 'command', 'bench-runner');
  const redisPid = isCluster(run.config)
    ? undefined
    : Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]) || undefined;
  const admin = mintToken(run.config.jwtSecret, 1, { admin: true, ttlSeconds: 6 * 3600 });
  const [db, keys] = [sqlPool(run.config.databaseUrl), createKeys(run.config.redisKeyPrefix)];
  const state = { coupons: new Map(), products: [], seen: new Map(), violations: [] };
  const ctx: Ctx = { run, db, redis, keys, admin, redisPids: [redisPid], ...state };
  await withChild(startApi(run.env), async (api) => {
    const client = apiClient(api.url);
    for (const { id, coupon } of rows) {
      if (coupon === undefined) continue;
      const couponId = await createCoupon(client, admin, { name: `bench ${id}`, totalQuantity: coupon });
      ctx.coupons.set(id, { couponId, quantity: coupon });
    }
    const product = { name: 'bench product', price: 1000, stock: 10_000_000 };
    for (let i = 0; i < PRODUCT_COUNT; i++) ctx.products.push(await createProduct(client, admin, product));
    await chargeUsers(client, orderTokens(ctx), 20_000_000);
  });
  log(`seeded ${ctx.coupons.size} coupons, ${PRODUCT_COUNT} products, ${ORDER_USERS} charged users`);
  return ctx;
}

/** Stock checks (lib/invariants.ts) with what can still be ordered, as the API's product.get says. */
export async function checkStockVia(api: Server, db: Sql, products: { id: number; stock: number }[]) {
  const client = apiClient(api.url);
  const stock = await mapLimit(products, 1, async ({ id, stock }) => {
    const { stock: available } = await client.query('product.get', { productId: id });
    return { id, initialStock: stock, available };
  });
  return checkStock(db, stock);
}

/** Tokens of the users charged at setup, in id order (ids 100 on). */
export const orderTokens = (ctx: Ctx) =>
  Array.from({ length: ORDER_USERS }, (_, i) => mintToken(ctx.run.config.jwtSecret, 100 + i));

/** Orders answered from Redis and not yet saved in Postgres, plus coupon issuances pending. */
export const unpersisted = (ctx: Ctx, redis: RedisClient, couponIds: number[]) => async () => {
  let n = await countUnsavedOrders(redis, ctx.keys);
  for (const id of couponIds) n += await redis.xlen(ctx.keys.coupon(id).pending);
  return n;
};

/**
 * A worker until `left()` reaches 0: how many there were, the rate from its start, and the steady
 * rate from the first item persisted on (its first sweep may start a while after it is ready).
 */
export async function untilDrained(
  env: NodeJS.ProcessEnv,
  left: () => Promise<number>,
  what: string,
  nodeArgs?: string[],
): Promise<{ done: number; rate: number; steady: number; steadySec: number }> {
  const before = await left();
  if (before === 0) return { done: 0, rate: 0, steady: 0, steadySec: 0 };
  log(`the worker persists ${before.toLocaleString('en-US')} ${what}`);
  return withChild(startWorker(env, nodeArgs), async () => {
    const ready = performance.now();
    let first: { at: number; left: number } | undefined;
    for (let n = before; n > 0; n = await left()) {
      if (n < before) first ??= { at: performance.now(), left: n };
      if (performance.now() > ready + 600_000)
        throw new Error(`the worker left ${n} ${what} after 10 minutes`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const end = performance.now();
    const steadySec = Math.max(end - (first?.at ?? ready), 1) / 1000;
    const rate = before / (Math.max(end - ready, 1) / 1000);
    const steady = (first?.left ?? before) / steadySec;
    log(`persisted them: ${fmt.rps(steady)}/s steady, ${fmt.rps(rate)}/s from the worker's start`);
    return { done: before, rate, steady, steadySec };
  });
}
