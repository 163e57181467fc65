// `pnpm bench`: one run, one machine, one table. Measures the hot paths against two ceilings
// (the coupon Lua script alone, and a bare Fastify route running it) and the naive
// `SELECT ... FOR UPDATE` baseline, then checks the invariants and writes
// docs/benchmarks.json and docs/benchmarks.md.
//
// Every HTTP row runs the same way: the server is a child process started fresh for the row,
// the load generator drives it with 100 connections, warm-up then a measured window, and every
// request is distinct (its own user, token or order) so that it succeeds (but in the sold-out
// row, which measures the answer most of a flash crowd gets). The load generator is
// wrk when it is installed (`apt install wrk`, `brew install wrk`): it leaves the server most of
// the cores. Otherwise, or with --generator autocannon, autocannon in this process, which costs
// about as much CPU per request as the server it measures (loadtests/lib/wrk.ts).
//
//   pnpm bench                     full run, writes docs/
//   pnpm bench --only bare,coupon.issue --no-write
//   pnpm bench --profile           also writes --cpu-prof profiles of the servers to loadtests/results/
//   pnpm bench --only bare,coupon.issue --no-limits    both rate limits off (never written to docs/)
//   pnpm bench --generator autocannon                  autocannon even where wrk is installed
// Environment: BENCH_DURATION (s, default 10), BENCH_WARMUP (s, 3), BENCH_CONNECTIONS (100),
// BENCH_DRAIN_N (issuances pre-filled for the drain row, 200000), BENCH_ROUNDS (2: rounds of the
// bare route, coupon.issue and product.top rows; the better is kept), BENCH_NODE_ARGS (extra node
// flags for the servers under test), BENCH_WRK_THREADS (2), BENCH_WRK_MAX_RPS (50000: requests
// wrk gets rendered per second of a phase).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { connectRedis, createKeys, type Keys, type Redis } from '@flash/core';
import { IssueCouponResult, runIssueCoupon } from '@flash/core/coupon/coupon.store';
import {
  type Child,
  cpuTimeMs,
  postgresCpuMs,
  postgresCpuSinceMs,
  ROOT,
  startApi,
  startServer,
  startWorker,
} from '../lib/children.ts';
import { apiClient } from '../lib/client.ts';
import { createRunEnv, type RunEnv } from '../lib/env.ts';
import {
  checkCoupons,
  checkPayments,
  checkStock,
  type Sql,
  sqlPool,
  type Violations,
} from '../lib/invariants.ts';
import { fmt, type LoadOptions, type LoadStats, type RequestSpec, runLoad, SILENCE_MS } from '../lib/load.ts';
import { chargeUsers, createCoupon, createProduct } from '../lib/seed.ts';
import { mintBearerPack, mintToken } from '../lib/token.ts';
import { runWrkLoad, wrkVersion } from '../lib/wrk.ts';
import { summarizeProfiles } from './profile-summary.ts';
import { type BenchReport, type BenchRow, renderMarkdown, TARGETS } from './report.ts';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const num = (value: string | undefined, fallback: number) => (value ? Number(value) : fallback);

const DURATION = num(process.env.BENCH_DURATION, 10);
const WARMUP = num(process.env.BENCH_WARMUP, 3);
const CONNECTIONS = num(process.env.BENCH_CONNECTIONS, 100);
const DRAIN_N = num(process.env.BENCH_DRAIN_N, 200_000);
const LUA_IN_FLIGHT = 100;
/** Rounds of the rows the targets compare (bare route, coupon.issue, product.top); best kept. */
const ROUNDS = num(process.env.BENCH_ROUNDS, 2);
const RATIO_ROWS = ['bare', 'coupon.issue', 'product.top'];
const ONLY = option('only')?.split(',');
const PROFILE = flag('profile');
const NO_LIMITS = flag('no-limits');
const WRITE = !flag('no-write') && !ONLY && !NO_LIMITS;
if (![undefined, 'wrk', 'autocannon'].includes(option('generator'))) {
  throw new Error(`--generator ${option('generator')}: expected wrk or autocannon`);
}
const WRK_VERSION = option('generator') === 'autocannon' ? undefined : wrkVersion();
if (option('generator') === 'wrk' && !WRK_VERSION) {
  throw new Error('--generator wrk: wrk is not installed (apt install wrk, brew install wrk)');
}
const GENERATOR = WRK_VERSION ?? 'autocannon (in the runner process)';
const WRK_THREADS = num(process.env.BENCH_WRK_THREADS, 2);
const WRK_MAX_RPS = num(process.env.BENCH_WRK_MAX_RPS, 50_000);
const RESULTS_DIR = path.join(ROOT, 'loadtests/results');

const ORDER_USERS = 2000;
const PRODUCT_COUNT = 8;
const COUPON_QUANTITY = 10_000_000;
/** The sold-out row's coupon: its first call issues it, every other call is refused. */
const SOLD_OUT_QUANTITY = 1;
const couponQuantity = (name: keyof Ctx['coupons']) =>
  name === 'soldOut' ? SOLD_OUT_QUANTITY : COUPON_QUANTITY;
/** Tokens minted per coupon.issue row: more than any row issues at the rates seen on 2 cores. */
const COUPON_TOKENS = 700_000;

const wanted = (id: string) => !ONLY || ONLY.includes(id);
const log = (line: string) => console.log(`[bench] ${line}`);

type Ctx = {
  run: RunEnv;
  db: Sql & { end(): Promise<void> };
  redis: Redis;
  keys: Keys;
  admin: string;
  coupons: Record<'drain' | 'lua' | 'bare' | 'trpc' | 'official' | 'soldOut', number>;
  products: { id: number; price: number; stock: number }[];
  /** Successful answers seen per coupon, plus requests cut off in flight. */
  seen: Map<number, { ok: number; inFlight: number }>;
  naiveOk: number;
  /** redis-server's pid, for its CPU per request (it is shared with anything else on the machine). */
  redisPid: number | undefined;
  rows: BenchRow[];
  profiles: Record<string, string[]>;
};

/** BENCH_NODE_ARGS: extra flags for every server under test (e.g. V8's GC flags, which NODE_OPTIONS refuses). */
const EXTRA_NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);

function nodeArgsFor(row: string): string[] | undefined {
  if (!PROFILE) return EXTRA_NODE_ARGS.length ? EXTRA_NODE_ARGS : undefined;
  const dir = path.join(RESULTS_DIR, 'profiles', row.replace(/[^a-z0-9.-]/gi, '_'));
  mkdirSync(dir, { recursive: true });
  return [...EXTRA_NODE_ARGS, '--cpu-prof', `--cpu-prof-dir=${dir}`];
}

async function withChild<T extends Child, R>(start: Promise<T>, fn: (child: T) => Promise<R>): Promise<R> {
  const child = await start;
  try {
    return await fn(child);
  } finally {
    await child.stop();
  }
}

function okCount(stats: LoadStats): number {
  return Object.entries(stats.statusCounts).reduce((n, [s, c]) => (s.startsWith('2') ? n + c : n), 0);
}

function addRow(ctx: Ctx, row: Omit<BenchRow, 'vsBare' | 'vsNaive'>): void {
  ctx.rows.push({ ...row, vsBare: null, vsNaive: null });
  log(
    `${row.label}: ${fmt.rps(row.rps)} ${row.unit}, p50 ${fmt.ms(row.p50)} ms, p99 ${fmt.ms(row.p99)} ms, errors ${row.errors}, server CPU ${Math.round(row.serverCpuUs ?? Number.NaN)} µs/req, Redis CPU ${Math.round(row.redisCpuUs ?? Number.NaN)} µs/req, load generator CPU ${Math.round(row.loadgenCpuUs ?? Number.NaN)} µs/req, Postgres CPU ${Math.round(row.postgresCpuUs ?? Number.NaN)} µs/req${row.loadgenGc ? `, load generator GC ${row.loadgenGc.pauses} pauses, ${fmt.ms(row.loadgenGc.totalMs)} ms in all, longest ${fmt.ms(row.loadgenGc.longestMs)} ms` : ''}${row.silences ? `, ${row.silences.count} spells of ≥ ${SILENCE_MS} ms with no answer, longest ${fmt.ms(row.silences.longestMs)} ms` : ''}`,
  );
}

function statsRow(
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

/** Runs one HTTP row and counts what clients saw for its coupon (warm-up included). */
async function measure(
  ctx: Ctx,
  server: Child & { url: string },
  next: () => RequestSpec,
  couponId?: number,
  extra: { amount?: number; warmupAmount?: number; expectStatus?: number } = {},
): Promise<Measured> {
  const base = { url: server.url, connections: CONNECTIONS, next, expectStatus: extra.expectStatus };
  const load = WRK_VERSION
    ? (o: LoadOptions) => runWrkLoad({ ...o, threads: WRK_THREADS, maxRps: WRK_MAX_RPS })
    : runLoad;
  const warm = await load({ ...base, durationSec: WARMUP, amount: extra.warmupAmount });
  const cpu = { server: cpuTimeMs(server.process.pid), redis: cpuTimeMs(ctx.redisPid) };
  const postgres = postgresCpuMs();
  const loadgen = process.cpuUsage();
  const stats: Measured = await load({ ...base, durationSec: DURATION, amount: extra.amount });
  const spent = process.cpuUsage(loadgen);
  // wrk's own CPU in its window (without loading the requests); autocannon's is this process'.
  const loadgenCpuMs = stats.loadgenCpuMs ?? (spent.user + spent.system) / 1000;
  stats.loadgenCpuUs = (loadgenCpuMs * 1000) / stats.requests;
  const repeats = (warm.repeats ?? 0) + (stats.repeats ?? 0);
  if (repeats > 0) {
    log(
      `WARNING: wrk ran out of distinct requests and sent them again (${repeats} times); raise BENCH_WRK_MAX_RPS`,
    );
  }
  stats.postgresCpuUs = (postgresCpuSinceMs(postgres) * 1000) / stats.requests;
  stats.serverCpuUs = ((cpuTimeMs(server.process.pid) - cpu.server) * 1000) / stats.requests;
  stats.redisCpuUs = ((cpuTimeMs(ctx.redisPid) - cpu.redis) * 1000) / stats.requests;
  stats.okWithWarmup = okCount(warm) + okCount(stats);
  if (couponId !== undefined) {
    const seen = ctx.seen.get(couponId) ?? { ok: 0, inFlight: 0 };
    seen.ok += okCount(warm) + okCount(stats);
    seen.inFlight += 2 * CONNECTIONS;
    ctx.seen.set(couponId, seen);
  }
  return stats;
}

const json = { 'content-type': 'application/json' };

type Measured = LoadStats & {
  serverCpuUs?: number;
  redisCpuUs?: number;
  /** This process (autocannon) per request: it shares the machine's cores with the server. */
  loadgenCpuUs?: number;
  /** Every Postgres process of the machine per request. */
  postgresCpuUs?: number;
  okWithWarmup?: number;
};

// ---------------------------------------------------------------- setup

async function setup(): Promise<Ctx> {
  // --no-limits: both rate limits off, to tell their cost from the API layer's (not for the docs).
  const run = await createRunEnv(
    'bench',
    NO_LIMITS ? { RATE_LIMIT_USER_PER_SEC: '0', RATE_LIMIT_IP_PER_SEC: '0' } : {},
  );
  log(`fresh database and Redis prefix ${run.config.redisKeyPrefix}`);
  log(
    WRK_VERSION
      ? `load generator: ${WRK_VERSION}, ${WRK_THREADS} threads`
      : `load generator: ${GENERATOR}${option('generator') ? '' : ' (wrk is not installed: apt install wrk, brew install wrk)'}`,
  );
  const db = sqlPool(run.config.databaseUrl);
  const redis = await connectRedis(run.config.redisUrl, 'command', 'bench-runner');
  const keys = createKeys(run.config.redisKeyPrefix);
  const admin = mintToken(run.config.jwtSecret, 1, { admin: true, ttlSeconds: 6 * 3600 });
  const ctx: Ctx = {
    run,
    db,
    redis,
    keys,
    admin,
    coupons: { drain: 0, lua: 0, bare: 0, trpc: 0, official: 0, soldOut: 0 },
    products: [],
    seen: new Map(),
    naiveOk: 0,
    redisPid: Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]) || undefined,
    rows: [],
    profiles: {},
  };
  await withChild(startApi(run.env), async (api) => {
    const client = apiClient(api.url);
    for (const name of Object.keys(ctx.coupons) as (keyof Ctx['coupons'])[]) {
      ctx.coupons[name] = await createCoupon(client, admin, {
        name: `bench ${name}`,
        totalQuantity: couponQuantity(name),
      });
    }
    for (let i = 0; i < PRODUCT_COUNT; i++) {
      const p = await createProduct(client, admin, {
        name: `bench product ${i + 1}`,
        price: 1000,
        stock: 10_000_000,
      });
      ctx.products.push(p);
    }
    const users = Array.from({ length: ORDER_USERS }, (_, i) => mintToken(run.config.jwtSecret, 100 + i));
    await chargeUsers(client, users, 20_000_000);
  });
  log(
    `seeded ${Object.keys(ctx.coupons).length} coupons, ${PRODUCT_COUNT} products, ${ORDER_USERS} charged users`,
  );
  return ctx;
}

// ---------------------------------------------------------------- rows

/** Worker drain rate: pre-fill one coupon's pending stream through the Lua script, then start the worker. */
async function drainRow(ctx: Ctx): Promise<void> {
  const couponId = ctx.coupons.drain;
  const keys = ctx.keys.coupon(couponId);
  const started = Date.now();
  let issued = 0;
  for (let first = 1; first <= DRAIN_N; first += 2000) {
    const batch = Array.from({ length: Math.min(2000, DRAIN_N - first + 1) }, (_, i) =>
      runIssueCoupon(ctx.redis, keys, { userId: first + i, nowMs: Date.now() }),
    );
    for (const result of await Promise.all(batch)) if (result === IssueCouponResult.ISSUED) issued++;
  }
  ctx.seen.set(couponId, { ok: issued, inFlight: 0 });
  log(`pre-filled ${issued} pending issuances in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const count = async () =>
    (
      await ctx.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM issued_coupons WHERE coupon_id = $1',
        [couponId],
      )
    ).rows[0]!.n;
  await withChild(startWorker(ctx.run.env, nodeArgsFor('worker-drain')), async () => {
    const ready = performance.now();
    let firstAt: number | undefined;
    let firstCount = 0;
    let n = 0;
    const deadline = ready + 300_000;
    while (n < issued && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      n = await count();
      if (firstAt === undefined && n > 0) {
        firstAt = performance.now();
        firstCount = n;
      }
    }
    const done = performance.now();
    if (n < issued) throw new Error(`worker persisted only ${n} of ${issued} issuances in 300 s`);
    // Steady rate: from the first rows in Postgres to the last (the first sweep can start up to
    // a second after the worker is ready); end-to-end includes that wait.
    const steadySec = (done - (firstAt ?? ready)) / 1000;
    const rate = (issued - firstCount) / Math.max(steadySec, 1e-3);
    const endToEnd = issued / ((done - ready) / 1000);
    ctx.rows.push({
      id: 'worker.drain',
      label: 'worker drain (issuances persisted to Postgres)',
      kind: 'worker',
      unit: 'rows/s',
      rps: rate,
      p50: Number.NaN,
      p95: Number.NaN,
      p99: Number.NaN,
      max: Number.NaN,
      errors: 0,
      requests: issued,
      durationSec: steadySec,
      note: `${issued.toLocaleString('en-US')} pre-filled; ${fmt.rps(endToEnd)} rows/s counting from worker start`,
      vsBare: null,
      vsNaive: null,
    });
    log(`worker drain: ${fmt.rps(rate)} rows/s steady, ${fmt.rps(endToEnd)} rows/s from worker start`);
  });
}

async function luaRow(ctx: Ctx): Promise<void> {
  const couponId = ctx.coupons.lua;
  const child = await import('node:child_process');
  const argv = [
    ...(nodeArgsFor('lua-direct') ?? []),
    path.join(ROOT, 'loadtests/bench/lua-direct.ts'),
    String(couponId),
    String(LUA_IN_FLIGHT),
    String(WARMUP),
    String(DURATION),
  ];
  const output = await new Promise<string>((resolve, reject) => {
    child.execFile(process.execPath, argv, { env: ctx.run.env, maxBuffer: 1 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`lua-direct failed: ${stderr}`)) : resolve(stdout),
    );
  });
  const r = JSON.parse(output.trim().split('\n').pop()!);
  ctx.seen.set(couponId, { ok: r.issued, inFlight: 0 });
  addRow(ctx, {
    id: 'lua',
    label: 'coupon Lua script alone (ioredis, 100 in flight)',
    kind: 'ceiling',
    unit: 'calls/s',
    rps: r.rps,
    p50: r.p50,
    p95: r.p95,
    p99: r.p99,
    max: r.max,
    errors: r.errors,
    requests: r.calls,
    durationSec: r.durationSec,
    note: 'no HTTP; one ioredis connection',
  });
}

/** Users of the bare route's coupon, across rounds (each may issue once). */
let bareUser = 1;
type IssueRow = {
  coupon: keyof Ctx['coupons'];
  /** Served by tRPC's own adapter instead of the API. */
  official: boolean;
  firstUser: number;
  label: string;
  kind: BenchRow['kind'];
  note: string;
  /** The answer the row measures when it is not a success (see LoadOptions). */
  expectStatus?: number;
};

/**
 * The coupon.issue rows: which coupon and server each drives, the first user id of its tokens
 * (each round takes the next COUPON_TOKENS ids), and how the table shows it.
 */
const ISSUE_ROWS = {
  'coupon.issue': {
    coupon: 'trpc',
    official: false,
    firstUser: 10_000_000,
    label: 'coupon.issue (/trpc, auth)',
    kind: 'ours',
    note: 'a distinct user and token per request',
  },
  'coupon.issue.official': {
    coupon: 'official',
    official: true,
    firstUser: 50_000_000,
    label: 'coupon.issue via tRPC’s own fastifyTRPCPlugin',
    kind: 'reference',
    note: 'same router and auth, official adapter',
  },
  // Distinct users, so a 409 here can only be COUPON_SOLD_OUT: the answer the row measures, not
  // an error. The invariants check that the coupon went to one user only.
  'coupon.issue.soldout': {
    coupon: 'soldOut',
    official: false,
    firstUser: 90_000_000,
    label: 'coupon.issue after the coupon ran out (/trpc, auth)',
    kind: 'ours',
    note: 'a distinct user and token per request; all but the first answered COUPON_SOLD_OUT (409)',
    expectStatus: 409,
  },
} satisfies Record<string, IssueRow>;
type IssueRowId = keyof typeof ISSUE_ROWS;
/** Rounds of each coupon.issue row so far. */
const issueRounds: Record<IssueRowId, number> = {
  'coupon.issue': 0,
  'coupon.issue.official': 0,
  'coupon.issue.soldout': 0,
};

async function bareRow(ctx: Ctx, withLimits = false): Promise<void> {
  const couponId = ctx.coupons.bare;
  const id = withLimits ? 'bare.limited' : 'bare';
  await withChild(
    startServer(id, 'loadtests/bench/bare-server.ts', {
      env: ctx.run.env,
      args: [String(couponId), ...(withLimits ? ['--limits'] : [])],
      nodeArgs: nodeArgsFor(id),
    }),
    async (server) => {
      const stats = await measure(
        ctx,
        server,
        () => ({ method: 'POST', path: '/issue', headers: json, body: `{"userId":${bareUser++}}` }),
        couponId,
      );
      addRow(
        ctx,
        withLimits
          ? statsRow(
              id,
              'bare route + same Lua script with the caller’s rate limits',
              'reference',
              stats,
              'the Redis work of coupon.issue, without the API layer',
            )
          : statsRow(
              id,
              'bare Fastify route + same Lua script',
              'ceiling',
              stats,
              'no tRPC, no auth, no limits',
            ),
      );
    },
  );
}

async function naiveRow(ctx: Ctx): Promise<void> {
  await withChild(
    startServer('naive', 'loadtests/bench/naive-server.ts', {
      env: ctx.run.env,
      args: [String(COUPON_QUANTITY)],
      nodeArgs: nodeArgsFor('naive'),
    }),
    async (server) => {
      let user = 1;
      const next = (): RequestSpec => ({
        method: 'POST',
        path: '/issue',
        headers: json,
        body: `{"userId":${user++}}`,
      });
      const stats = await measure(ctx, server, next);
      ctx.naiveOk = stats.okWithWarmup ?? 0;
      addRow(
        ctx,
        statsRow(
          'naive',
          'naive: one Postgres transaction, SELECT … FOR UPDATE',
          'baseline',
          stats,
          'pg pool of 20',
        ),
      );
    },
  );
}

function couponIssueRow(id: IssueRowId, ctx: Ctx): () => Promise<void> {
  const row: IssueRow = ISSUE_ROWS[id];
  return async () => {
    const couponId = ctx.coupons[row.coupon];
    const started = Date.now();
    const firstUser = row.firstUser + issueRounds[id]++ * COUPON_TOKENS;
    const tokens = mintBearerPack(ctx.run.config.jwtSecret, firstUser, COUPON_TOKENS);
    log(`minted ${tokens.count.toLocaleString('en-US')} tokens in ${Date.now() - started} ms`);
    const server = row.official
      ? startServer('official', 'loadtests/bench/official-adapter-server.ts', {
          env: ctx.run.env,
          nodeArgs: nodeArgsFor(id),
        })
      : startApi(ctx.run.env, nodeArgsFor(id));
    await withChild(server, async (api) => {
      let i = 0;
      const body = JSON.stringify({ couponId });
      const stats = await measure(
        ctx,
        api,
        () => ({
          method: 'POST',
          path: '/trpc/coupon.issue',
          headers: { ...json, authorization: tokens.bearer(i++ % tokens.count) },
          body,
        }),
        couponId,
        { expectStatus: row.expectStatus },
      );
      if (i > tokens.count) log(`WARNING: ${id} ran out of distinct users; repeats answer 409`);
      addRow(ctx, statsRow(id, row.label, row.kind, stats, row.note));
    });
  };
}

const orderTokens = (ctx: Ctx) =>
  Array.from({ length: ORDER_USERS }, (_, i) => mintToken(ctx.run.config.jwtSecret, 100 + i));

async function orderRow(ctx: Ctx): Promise<void> {
  const tokens = orderTokens(ctx);
  const stats = await withChild(startApi(ctx.run.env, nodeArgsFor('order.create')), (api) => {
    let i = 0;
    const bodies = ctx.products.map((p) => JSON.stringify({ items: [{ productId: p.id, quantity: 1 }] }));
    return measure(ctx, api, () => {
      const n = i++;
      return {
        method: 'POST',
        path: '/trpc/order.create',
        headers: { ...json, authorization: `Bearer ${tokens[n % tokens.length]}` },
        body: bodies[n % bodies.length],
      };
    });
  });
  // Answered from Redis; the worker saves them in Postgres (timed here, not part of the row's
  // req/s, as the coupon drain is a row of its own), and payment.pay needs them saved.
  const save = await saveOrders(ctx);
  addRow(
    ctx,
    statsRow(
      'order.create',
      'order.create (/trpc, auth)',
      'ours',
      stats,
      `1 line, ${ORDER_USERS} users, answered from Redis; the worker then saved the ` +
        `${save.saved.toLocaleString('en-US')} orders in Postgres at ${fmt.rps(save.steady)} orders/s`,
    ),
  );
}

/**
 * Starts the worker and waits until every order answered from Redis is saved in Postgres.
 * Returns how many there were, the rate from worker start, and the steady rate (from the first
 * save on, as the drain row counts it: the worker's start-up is not the save's cost). In a full
 * run the same worker is also persisting the issuances the coupon rows left pending.
 */
async function saveOrders(ctx: Ctx): Promise<{ saved: number; rate: number; steady: number }> {
  const unsaved = () => ctx.redis.hlen(ctx.keys.inventory.unsaved);
  const before = await unsaved();
  if (before === 0) return { saved: 0, rate: 0, steady: 0 };
  log(`saving the ${before.toLocaleString('en-US')} orders answered from Redis`);
  const started = Date.now();
  let first: { at: number; left: number } | undefined;
  await withChild(startWorker(ctx.run.env), async () => {
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

async function paymentRow(ctx: Ctx): Promise<void> {
  const tokens = orderTokens(ctx);
  const { rows: orders } = await ctx.db.query<{ id: string; user_id: number }>(
    `SELECT id, user_id::int AS user_id FROM orders WHERE status = 'PENDING_PAYMENT' ORDER BY created_at`,
  );
  if (orders.length < 1000) throw new Error(`only ${orders.length} orders to pay; run order.create first`);
  await withChild(startApi(ctx.run.env, nodeArgsFor('payment.pay')), async (api) => {
    let i = 0;
    const next = (): RequestSpec => {
      const order = orders[i++ % orders.length]!;
      return {
        method: 'POST',
        path: '/trpc/payment.pay',
        headers: { ...json, authorization: `Bearer ${tokens[order.user_id - 100]}` },
        body: JSON.stringify({ orderId: order.id }),
      };
    };
    // Each order can be paid once: the warm-up pays the first tenth, the measurement at most the rest.
    const warmupAmount = Math.floor(orders.length / 10);
    const stats = await measure(ctx, api, next, undefined, {
      warmupAmount,
      amount: orders.length - warmupAmount,
    });
    addRow(
      ctx,
      statsRow(
        'payment.pay',
        'payment.pay (/trpc, auth)',
        'ours',
        stats,
        `${orders.length.toLocaleString('en-US')} orders made by the order.create row`,
      ),
    );
  });
}

async function topRow(ctx: Ctx): Promise<void> {
  await withChild(startApi(ctx.run.env, nodeArgsFor('product.top')), async (api) => {
    const stats = await measure(ctx, api, () => ({ method: 'GET', path: '/trpc/product.top' }));
    addRow(ctx, statsRow('product.top', 'product.top (/trpc, public)', 'ours', stats, 'read storm'));
  });
}

/** Persists everything the rows issued (not timed as the drain row), so Postgres can be checked. */
async function catchUp(ctx: Ctx): Promise<void> {
  const ids = Object.values(ctx.coupons);
  const pending = async () => {
    let n = 0;
    for (const id of ids) n += await ctx.redis.xlen(ctx.keys.coupon(id).pending);
    return n;
  };
  await saveOrders(ctx);
  const before = await pending();
  if (before === 0) return;
  log(`persisting the ${before.toLocaleString('en-US')} issuances the rows left pending`);
  await withChild(startWorker(ctx.run.env), async () => {
    const deadline = Date.now() + 600_000;
    while ((await pending()) > 0) {
      if (Date.now() > deadline)
        throw new Error('the worker did not persist every issuance within 10 minutes');
      await new Promise((r) => setTimeout(r, 200));
    }
  });
}

async function checkInvariants(ctx: Ctx): Promise<Violations> {
  const labels: Record<string, string> = {
    drain: 'drain row',
    lua: 'Lua row',
    bare: 'bare route row',
    trpc: 'coupon.issue row',
    official: 'official adapter row',
    soldOut: 'sold-out row',
  };
  const violations = await checkCoupons(
    ctx.db,
    ctx.redis,
    ctx.keys,
    (Object.entries(ctx.coupons) as [keyof Ctx['coupons'], number][]).map(([name, couponId]) => ({
      couponId,
      quantity: couponQuantity(name),
      label: labels[name]!,
      seen: ctx.seen.get(couponId),
      drained: true,
    })),
  );
  const naive = await ctx.db
    .query<{ rows: number; counted: number }>(
      `SELECT (SELECT count(*) FROM bench_naive_issued)::int AS rows,
              (SELECT issued_count FROM bench_naive_coupons WHERE id = 1) AS counted`,
    )
    .catch(() => undefined);
  if (naive?.rows[0]) {
    const { rows, counted } = naive.rows[0];
    if (rows !== counted || rows < ctx.naiveOk || rows > ctx.naiveOk + 2 * CONNECTIONS) {
      violations.push(`naive baseline: ${rows} rows, counter ${counted}, clients saw ${ctx.naiveOk}`);
    }
  }
  const available = await withApiAvailable(ctx);
  violations.push(
    ...(await checkStock(
      ctx.db,
      ctx.products.map((p) => ({ id: p.id, initialStock: p.stock, available: available.get(p.id) ?? -1 })),
    )),
  );
  violations.push(...(await checkPayments(ctx.db)));
  return violations;
}

/** `product.get` through the API: what can still be ordered. */
async function withApiAvailable(ctx: Ctx): Promise<Map<number, number>> {
  const result = new Map<number, number>();
  await withChild(startApi(ctx.run.env), async (api) => {
    const client = apiClient(api.url);
    for (const p of ctx.products) {
      const product = await client.query<{ stock: number }>('product.get', { productId: p.id });
      result.set(p.id, product.stock);
    }
  });
  return result;
}

// ---------------------------------------------------------------- main

function withRatios(rows: BenchRow[]): BenchRow[] {
  const bare = rows.find((r) => r.id === 'bare');
  const naive = rows.find((r) => r.id === 'naive');
  return rows.map((r) => ({
    ...r,
    vsBare: bare && r.unit !== 'rows/s' ? r.rps / bare.rps : null,
    vsNaive: naive && r.unit !== 'rows/s' ? r.rps / naive.rps : null,
  }));
}

/** Writes docs/benchmarks.md in the project's format (Biome pads the tables), so lint stays clean. */
function writeMarkdown(markdown: string): void {
  const file = path.join(ROOT, 'docs/benchmarks.md');
  writeFileSync(file, markdown);
  spawnSync(path.join(ROOT, 'node_modules/.bin/biome'), ['format', '--write', file], { stdio: 'ignore' });
}

/** `--render`: docs/benchmarks.md again from docs/benchmarks.json (after editing notes.md). */
function render(): void {
  const file = path.join(ROOT, 'docs/benchmarks.json');
  const report = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
  // Judged again from the rows, so a change in how a target is shown reaches the docs too.
  report.targets = TARGETS.map((t) => t(report)).filter((t) => t !== undefined);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  writeMarkdown(renderMarkdown(report));
  log('rendered docs/benchmarks.md from docs/benchmarks.json');
}

async function main(): Promise<void> {
  if (flag('render')) return render();
  const started = Date.now();
  const loadAtStart = (await import('node:os')).loadavg()[0]!;
  if (PROFILE) rmSync(path.join(RESULTS_DIR, 'profiles'), { recursive: true, force: true });
  const ctx = await setup();
  let violations: Violations = [];
  // Each round's req/s of the ratio rows, so the report can show the ratios round by round.
  const rounds: Record<string, number>[] = [];
  const recordRound = (round: number, id: string, rps: number) => {
    rounds[round] = { ...rounds[round], [id]: rps };
  };
  try {
    const rows: [string, () => Promise<void>][] = [
      ['worker.drain', () => drainRow(ctx)],
      ['lua', () => luaRow(ctx)],
      ['bare', () => bareRow(ctx)],
      ['bare.limited', () => bareRow(ctx, true)],
      ['naive', () => naiveRow(ctx)],
      ['coupon.issue', couponIssueRow('coupon.issue', ctx)],
      ['coupon.issue.official', couponIssueRow('coupon.issue.official', ctx)],
      ['coupon.issue.soldout', couponIssueRow('coupon.issue.soldout', ctx)],
      ['order.create', () => orderRow(ctx)],
      ['payment.pay', () => paymentRow(ctx)],
      ['product.top', () => topRow(ctx)],
    ];
    for (const [id, run] of rows) {
      if (!wanted(id)) continue;
      log(`--- ${id}`);
      await run();
      if (RATIO_ROWS.includes(id)) {
        const measured = ctx.rows.findLast((r) => r.id === id);
        if (measured) recordRound(0, id, measured.rps);
      }
    }
    // The rows the targets compare are measured again at the end and the better round kept:
    // other work on a shared machine can only slow a round down, never speed it up.
    for (let round = 1; round < ROUNDS; round++) {
      for (const [id, run] of rows) {
        if (!wanted(id) || !RATIO_ROWS.includes(id)) continue;
        log(`--- ${id} (round ${round + 1})`);
        const before = ctx.rows.findIndex((r) => r.id === id);
        await run();
        const again = ctx.rows.pop()!;
        recordRound(round, id, again.rps);
        if (before >= 0 && again.rps > ctx.rows[before]!.rps) ctx.rows[before] = again;
        else if (before < 0) ctx.rows.push(again);
      }
    }
    await catchUp(ctx);
    violations = await checkInvariants(ctx);
  } finally {
    await ctx.redis.quit();
    await ctx.db.end();
    if (!flag('keep')) await ctx.run.cleanup();
  }

  const report: BenchReport = {
    generatedAt: new Date().toISOString(),
    machine: {
      ...(await machineInfo()),
      loadAverage: { start: loadAtStart, end: (await import('node:os')).loadavg()[0]! },
    },
    settings: {
      connections: CONNECTIONS,
      durationSec: DURATION,
      warmupSec: WARMUP,
      drainN: DRAIN_N,
      rounds: ROUNDS,
      generator: WRK_VERSION ? `${WRK_VERSION}, ${WRK_THREADS} threads` : GENERATOR,
    },
    rows: withRatios(ctx.rows),
    rounds,
    targets: [],
    violations,
    totalSec: (Date.now() - started) / 1000,
  };
  report.targets = TARGETS.map((t) => t(report)).filter((t) => t !== undefined);
  const markdown = renderMarkdown(report);
  console.log(`\n${markdown}`);
  if (PROFILE) console.log(summarizeProfiles(path.join(RESULTS_DIR, 'profiles')));
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(path.join(RESULTS_DIR, 'bench-latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  if (WRITE) {
    writeFileSync(path.join(ROOT, 'docs/benchmarks.json'), `${JSON.stringify(report, null, 2)}\n`);
    writeMarkdown(markdown);
    log('wrote docs/benchmarks.json and docs/benchmarks.md');
  }
  if (violations.length > 0) {
    console.error(`[bench] ${violations.length} invariant violations`);
    process.exit(1);
  }
}

async function machineInfo() {
  const os = await import('node:os');
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
