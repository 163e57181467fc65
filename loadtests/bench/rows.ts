// The benchmark's rows: ROWS at the end is the whole list, in the order a run measures them, and
// SHOWN says what the table shows of each. A row's run starts its server (`withChild`, `withApi`),
// drives it with `measure` and returns what it measured.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { chargeBalance, createRuntime, dropDatabase, ensureDatabase } from '@flash/core';
import { runIssueCoupon } from '@flash/core/internal/coupon/coupon.store';
import { drainUnsavedOrders } from '@flash/core/internal/order/order.persist';
import { createOrder } from '@flash/core/internal/order/order.service';
import {
  postgresCpuMs,
  ROOT,
  startApi,
  startServer,
  startWorker,
  treeCpuTimeMs,
} from '../../test/processes.ts';
import { apiClient, mapLimit } from '../lib/client.ts';
import { checkCoupons } from '../lib/invariants.ts';
import { fmt, type RequestSpec } from '../lib/load.ts';
import type { SaleReport } from '../lib/sale-report.ts';
import { createCoupon, createProduct } from '../lib/seed.ts';
import { mintBearerPack, mintToken } from '../lib/token.ts';
import { httpFor } from '../node/driver.ts';
import { saleScenario } from '../node/sale.ts';
import * as sale from '../scenarios/sale.js';
import { log, settings, wanted } from './cli.ts';
import {
  type Ctx,
  checkStockVia,
  couponOf,
  measure,
  nodeArgsFor,
  ORDER_USERS,
  orderTokens,
  type Result,
  type RowDef,
  type Server,
  unpersisted,
  untilDrained,
  withApi,
  withChild,
} from './harness.ts';
import { onTopology, type RowRedis, spread, type Topology } from './topology.ts';

const run = promisify(execFile);
/** A coupon no row runs out of, and tokens per coupon.issue row and round: more than a row issues. */
const [Q, TOKENS, LUA_IN_FLIGHT] = [10_000_000, 700_000, 100];

const json = { 'content-type': 'application/json' };
const post = (path: string, body: string, authorization?: string): RequestSpec => ({
  method: 'POST',
  path,
  headers: authorization ? { ...json, authorization } : json,
  body,
});
const get = (procedure: string, input?: unknown): RequestSpec => ({
  method: 'GET',
  path: `/trpc/${procedure}${input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`}`,
});

/** One coupon's pending stream pre-filled through the Lua script, then persisted by a worker. */
async function drainRow(ctx: Ctx): Promise<Result> {
  const couponId = couponOf(ctx, 'worker.drain');
  const keys = ctx.keys.coupon(couponId);
  let issued = 0;
  for (let first = 1; first <= settings.drainN; first += 2000) {
    const batch = Array.from({ length: Math.min(2000, settings.drainN - first + 1) }, (_, i) =>
      runIssueCoupon(ctx.redis, keys, { userId: first + i, nowMs: Date.now() }),
    );
    for (const result of await Promise.all(batch)) if (result.code === 'OK') issued++;
  }
  ctx.seen.set(couponId, { ok: issued, inFlight: 0 });
  const sql = 'SELECT count(*)::int AS n FROM issued_coupons WHERE coupon_id = $1';
  const left = async () => issued - (await ctx.db.query<{ n: number }>(sql, [couponId])).rows[0]!.n;
  const d = await untilDrained(ctx.run.env, left, 'issuances', nodeArgsFor('worker-drain'));
  const note = `${issued.toLocaleString('en-US')} pre-filled; ${fmt.rps(d.rate)} rows/s counting from worker start`;
  return { rps: d.steady, requests: issued, durationSec: d.steadySec, note };
}

/** The coupon script alone, in a child process (lua-direct.ts): no HTTP. */
async function luaRow(ctx: Ctx): Promise<Result> {
  const couponId = couponOf(ctx, 'lua');
  const args = [couponId, LUA_IN_FLIGHT, settings.warmupSec, settings.durationSec].map(String);
  const script = path.join(import.meta.dirname, 'lua-direct.ts');
  const argv = [...(nodeArgsFor('lua-direct') ?? []), script, ...args];
  const { stdout } = await run(process.execPath, argv, { env: ctx.run.env });
  const { issued, ...measured } = JSON.parse(stdout.trim().split('\n').pop()!);
  ctx.seen.set(couponId, { ok: issued, inFlight: 0 });
  return measured;
}

/** POST /issue to a bench server, a new user each request (a user issues once per coupon). */
function serveIssue(ctx: Ctx, id: string, round: number, args: string[], couponId?: number) {
  const [script, ...rest] = args;
  const next = (i: number) => post('/issue', `{"userId":${round * 10_000_000 + i + 1}}`);
  const options = { env: ctx.run.env, args: rest, nodeArgs: nodeArgsFor(id) };
  const server = startServer(id, `loadtests/bench/${script}`, options);
  return withChild(server, (s) => measure(ctx, s, next, couponId));
}

/** The bare route (bare-server.ts): the Lua script behind Fastify, no tRPC, no auth. */
const bareRow = (limits: boolean) => (ctx: Ctx, round: number, id: string) => {
  const args = ['bare-server.ts', `${couponOf(ctx, id)}`, ...(limits ? ['--limits'] : [])];
  return serveIssue(ctx, id, round, args, couponOf(ctx, id));
};

/** The naive baseline (naive-server.ts); its own tables are then checked against what clients saw. */
async function naiveRow(ctx: Ctx): Promise<Result> {
  const stats = await serveIssue(ctx, 'naive', 0, ['naive-server.ts', `${Q}`]);
  const sql = `SELECT (SELECT count(*) FROM bench_naive_issued)::int AS rows,
                      (SELECT issued_count FROM bench_naive_coupons WHERE id = 1) AS counted`;
  const { rows, counted } = (await ctx.db.query<{ rows: number; counted: number }>(sql)).rows[0]!;
  const ok = stats.okWithWarmup;
  if (rows !== counted || rows < ok || rows > ok + 2 * settings.connections)
    ctx.violations.push(`naive baseline: ${rows} rows, counter ${counted}, clients saw ${ok}`);
  return stats;
}

type IssueRow = { firstUser: number; official?: boolean; expectStatus?: number; topology?: Topology };

/** coupon.issue, a user per request; on a Redis of its own, over coupons it makes and checks there. */
function couponIssueRow({ topology = 'one Redis', ...o }: IssueRow, env: Record<string, string> = {}) {
  return (ctx: Ctx, round: number, id: string) =>
    onTopology(ctx, topology, env, async (t) => {
      const tokens = mintBearerPack(ctx.run.config.jwtSecret, o.firstUser + round * TOKENS, TOKENS);
      const options = { env: t.env, nodeArgs: nodeArgsFor(id) };
      const server = o.official
        ? startServer('official', 'loadtests/bench/official-adapter-server.ts', options)
        : startApi(t.env, nodeArgsFor(id));
      return withChild(server, async (api) => {
        const own = topology === 'one Redis';
        const coupon = { name: `bench ${id}`, totalQuantity: Q };
        const create = async () => ({ id: await createCoupon(apiClient(api.url), ctx.admin, coupon) });
        const coupons = own
          ? [couponOf(ctx, id)]
          : (await spread(t, (c) => ctx.keys.coupon(c.id).issued, create)).map((c) => c.id);
        const bodies = coupons.map((couponId) => JSON.stringify({ couponId }));
        const next = (i: number) =>
          post('/trpc/coupon.issue', bodies[i % bodies.length]!, tokens.bearer(i % tokens.count));
        const extra = { expectStatus: o.expectStatus, users: tokens.count };
        const stats = await measure(t.ctx, api, next, own ? coupons[0] : undefined, extra);
        const found = own ? [] : await checkIssuedOn(ctx, t, coupons, stats.okWithWarmup);
        ctx.violations.push(...found.map((v) => `${id} on ${topology}: ${v}`));
        return stats;
      });
    });
}

/** Coupons on a row's own Redis, once persisted: the coupon checks, and the clients' successes. */
async function checkIssuedOn(ctx: Ctx, t: RowRedis, couponIds: number[], ok: number): Promise<string[]> {
  await untilDrained(t.env, unpersisted(ctx, t.redis, couponIds), 'issuances');
  const coupons = couponIds.map((couponId) => ({ couponId, quantity: Q, label: 'row', drained: true }));
  const found = await checkCoupons(ctx.db, t.redis, ctx.keys, coupons);
  const sql = 'SELECT count(*)::int AS n FROM issued_coupons WHERE coupon_id = ANY($1)';
  const issued = (await ctx.db.query<{ n: number }>(sql, [couponIds])).rows[0]!.n;
  const inFlight = 2 * settings.connections;
  if (issued < ok || issued > ok + inFlight)
    found.push(`clients saw ${ok} issued (+ up to ${inFlight} cut off) but Postgres holds ${issued}`);
  return found;
}

/** One-line orders (the payment rows pay them); on the cluster over products of its own (ADR 0200). */
function orderRow(topology: Topology) {
  return (ctx: Ctx, _round: number, id: string) =>
    onTopology(ctx, topology, {}, (t) =>
      withApi(t.env, id, async (api) => {
        const own = topology === 'one Redis';
        const product = { name: `bench ${id}`, price: 1000, stock: 10_000_000 };
        const create = () => createProduct(apiClient(api.url), ctx.admin, product);
        const products = own ? ctx.products : await spread(t, (p) => ctx.keys.stock(p.id).available, create);
        const tokens = orderTokens(ctx);
        const bodies = products.map((p) => JSON.stringify({ items: [{ productId: p.id, quantity: 1 }] }));
        const next = (i: number) =>
          post('/trpc/order.create', bodies[i % bodies.length]!, `Bearer ${tokens[i % tokens.length]}`);
        const stats = await measure(t.ctx, api, next);
        // payment.pay needs them in Postgres; the save is timed, but not part of the row's req/s.
        const save = await untilDrained(t.env, unpersisted(ctx, t.redis, []), 'orders');
        const found = own ? [] : await checkStockVia(api, ctx.db, products);
        ctx.violations.push(...found.map((v) => `${id} on ${topology}: ${v}`));
        const note = `1 line, ${products.length} products in turn, ${ORDER_USERS} users, answered from Redis; the worker then saved the ${save.done.toLocaleString('en-US')} orders in Postgres at ${fmt.rps(save.steady)} orders/s`;
        return { ...stats, note };
      }),
    );
}

/** Pays each order once: the warm-up the first tenth, the measured window at most the rest. */
function pay(ctx: Ctx, api: Server, orders: { id: string; token: string }[]) {
  const warmupAmount = Math.floor(orders.length / 10);
  const next = (i: number) => {
    const order = orders[i % orders.length]!;
    return post('/trpc/payment.pay', JSON.stringify({ orderId: order.id }), `Bearer ${order.token}`);
  };
  return measure(ctx, api, next, undefined, { warmupAmount, amount: orders.length - warmupAmount });
}

/** Pays order.create's orders, with the worker beside the API (exporting them, as in a sale) or not. */
function paymentRow(withWorker: boolean) {
  return async (ctx: Ctx, _round: number, id: string): Promise<Result> => {
    const tokens = orderTokens(ctx);
    const { rows } = await ctx.db.query<{ id: string; user_id: number }>(
      `SELECT id, user_id::int AS user_id FROM orders
       WHERE status = 'PENDING_PAYMENT' AND user_id BETWEEN 100 AND $1 ORDER BY created_at`,
      [99 + ORDER_USERS],
    );
    // payment.pay leaves half the orders to payment.pay.worker when both run.
    if (!withWorker && wanted({ id: 'payment.pay.worker' })) rows.splice(rows.length >> 1);
    if (rows.length < 10 * settings.connections)
      throw new Error(`${id}: only ${rows.length} orders to pay; run order.create first (for longer)`);
    const orders = rows.map((o) => ({ id: o.id, token: tokens[o.user_id - 100]! }));
    const note = `${orders.length.toLocaleString('en-US')} orders made by the order.create row`;
    return withApi(ctx.run.env, id, async (api) => {
      if (!withWorker) return { ...(await pay(ctx, api, orders)), note };
      return withChild(startWorker(ctx.run.env, nodeArgsFor(`${id}-worker`)), async (worker) => {
        const before = treeCpuTimeMs(worker.process.pid);
        const stats = await pay(ctx, api, orders);
        const workerUs = ((treeCpuTimeMs(worker.process.pid) - before) * 1000) / stats.okWithWarmup;
        const worked = `; worker running: ${Math.round(workerUs)} µs of its CPU per payment`;
        return { ...stats, note: note + worked };
      });
    });
  };
}

const [HOT_USERS, HOT_FIRST_USER, HOT_ORDERS] = [10, 5_000_001, 15_000];

/**
 * payment.pay for orders of only 10 users, each user's payments queuing on their balance row. The
 * per-user rate limit, which would throttle them by design, is off: the row measures the row lock.
 */
async function hotPaymentRow(ctx: Ctx): Promise<Result> {
  const users = Array.from({ length: HOT_USERS }, (_, i) => HOT_FIRST_USER + i);
  const tokens = users.map((u) => mintToken(ctx.run.config.jwtSecret, u));
  // Made through the core functions (a client here would take minutes) and saved in Postgres as
  // the worker would: a payment must not pay for that.
  const rt = await createRuntime(ctx.run.config, { name: 'bench-hot-payments' });
  let orders: { id: string; token: string }[];
  try {
    for (const u of [...users, ...users]) await chargeBalance(rt, u, { amount: 10_000_000 });
    orders = await mapLimit([...Array(HOT_ORDERS).keys()], 32, async (i) => {
      const items = [{ productId: ctx.products[i % ctx.products.length]!.id, quantity: 1 }];
      const order = await createOrder(rt, users[i % HOT_USERS]!, { items });
      return { id: order.orderId, token: tokens[i % HOT_USERS]! };
    });
    await drainUnsavedOrders(rt);
  } finally {
    await rt.close();
  }
  const env = { ...ctx.run.env, RATE_LIMIT_USER_PER_SEC: '0' };
  const stats = await withApi(env, 'payment.pay.hot', (api) => pay(ctx, api, orders));
  const note = `${orders.length.toLocaleString('en-US')} orders of ${HOT_USERS} users: each user's balance row contended; per-user rate limit off`;
  return { ...stats, note };
}

const PGBENCH = ['-c', '20', '-j', '2', '-M', 'prepared', '-b', 'tpcb-like', '-n'];

/** pgbench's TPC-B-like transaction on a scratch database: what Postgres commits with nothing in the way. */
async function pgbenchRow(ctx: Ctx): Promise<Result> {
  const url = new URL(ctx.run.config.databaseUrl);
  url.pathname = `/bench_pgbench_${randomBytes(4).toString('hex')}`;
  await ensureDatabase(url.toString());
  const user = decodeURIComponent(url.username || 'postgres');
  const conn = ['-h', url.hostname, '-p', url.port || '5432', '-U', user];
  const env = { ...process.env, PGPASSWORD: decodeURIComponent(url.password) };
  const pgbench = async (...args: string[]) =>
    (await run('pgbench', [...conn, ...args, url.pathname.slice(1)], { env, maxBuffer: 1 << 24 })).stdout;
  const tpcb = (seconds: number) => pgbench(...PGBENCH, '-T', `${seconds}`);
  try {
    await pgbench('-i', '-s', '10', '-q');
    await tpcb(settings.warmupSec);
    // Its backends exit with it, before a closing snapshot could see them: sampled while they run.
    const before = postgresCpuMs();
    const last = new Map(before);
    const sample = () => {
      for (const [pid, ms] of postgresCpuMs()) last.set(pid, ms);
    };
    const timer = setInterval(sample, 250);
    const out = await tpcb(settings.durationSec).finally(() => clearInterval(timer));
    sample();
    let postgresMs = 0;
    for (const [pid, ms] of last) postgresMs += ms - (before.get(pid) ?? 0);
    const field = (re: RegExp) => Number(re.exec(out)?.[1]);
    const [tps, done] = [field(/tps = ([\d.]+)/), field(/actually processed: (\d+)/)];
    if (!Number.isFinite(tps) || !done) throw new Error(`pgbench: no result in\n${out}`);
    return {
      rps: tps,
      errors: field(/number of failed transactions: (\d+)/) || 0,
      requests: done,
      durationSec: settings.durationSec,
      postgresCpuUs: (postgresMs * 1000) / done,
      note: `scale 10, -c 20 -j 2 -M prepared, latency average ${field(/latency average = ([\d.]+) ms/)} ms; the payment rows' ceiling`,
    };
  } finally {
    await dropDatabase(url.toString());
  }
}

/** The rehearsal's mix at a bench's scale: every step of the journey, keyed and keyless. */
const SALE_SHAPE = {
  users: 4000,
  durationSec: 5,
  coupons: 400,
  stock: 1500,
  thinkMinMs: 200,
  thinkMaxMs: 1000,
  holdSeconds: 5,
};

/** The API and the worker under the rehearsal's journey (node/sale.ts); its checks count as the run's. */
async function saleRow(ctx: Ctx): Promise<Result> {
  const env = { ...ctx.run.env, ...sale.serviceEnv({ ...sale.shape, ...SALE_SHAPE }) };
  return withApi(env, 'sale', (api) =>
    withChild(startWorker(env, nodeArgsFor('sale-worker')), async (worker) => {
      const result = await saleScenario.run({
        run: ctx.run,
        url: api.url,
        http: httpFor(api.url, ctx.run.config.jwtSecret),
        shape: (s) => ({ ...s, ...SALE_SHAPE }),
        durationSec: SALE_SHAPE.durationSec,
        connections: saleScenario.defaultConnections!,
        pids: { api: api.process.pid, worker: worker.process.pid, redis: ctx.redisPids[0] },
        sharedDatabase: true,
        log,
      });
      ctx.violations.push(...result.violations.map((v) => `sale row: ${v}`));
      const r = JSON.parse(readFileSync(result.report!, 'utf8')) as SaleReport;
      const all = result.stats.at(-1)!.stats;
      return {
        ...all,
        serverCpuUs: r.perAnswer.apiCpuUs,
        redisCpuUs: r.perAnswer.redisCpuUs,
        postgresCpuUs: r.perAnswer.postgresCpuUs,
        loadgenCpuUs: (r.loadgen.cpuMs * 1000) / all.requests,
        note: `${SALE_SHAPE.users} shoppers within ${SALE_SHAPE.durationSec} s, ${r.sockets} sockets; worker ${Math.round(r.perAnswer.workerCpuUs)} µs CPU per answer; report ${path.relative(ROOT, result.report!)}`,
      };
    }),
  );
}

/** A read storm: the same request (made once per row by `request`) over and over. */
const readRow =
  (request: (ctx: Ctx, api: Server, id: string) => RequestSpec | Promise<RequestSpec>) =>
  (ctx: Ctx, _round: number, id: string) =>
    withApi(ctx.run.env, id, async (api) => {
      const spec = await request(ctx, api, id);
      return measure(ctx, api, () => spec);
    });

const topRow = readRow(() => get('product.top'));
const couponGetRow = readRow((ctx, _, id) => get(id, { couponId: couponOf(ctx, id) }));
const roomGetRow = readRow(async (ctx, api, id) => get(id, await openRoom(ctx, api, id)));

/** A room guarding the row's own coupon, admitting one a second: nearly every join waits. */
async function openRoom(ctx: Ctx, api: Server, id: string) {
  const room = { name: `bench ${id}`, couponIds: [couponOf(ctx, id)], admitPerSecond: 1 };
  const { roomId } = await apiClient(api.url).mutate('admin.waitingRoom.create', room, ctx.admin);
  return { roomId: roomId as number };
}

/** waitingRoom.join: a distinct user and token per request, each taking a ticket. */
async function joinRow(ctx: Ctx, round: number, id: string): Promise<Result> {
  const tokens = mintBearerPack(ctx.run.config.jwtSecret, 150_000_000 + round * TOKENS, TOKENS);
  return withApi(ctx.run.env, id, async (api) => {
    const body = JSON.stringify(await openRoom(ctx, api, id));
    const next = (i: number) => post('/trpc/waitingRoom.join', body, tokens.bearer(i % tokens.count));
    return measure(ctx, api, next, undefined, { users: tokens.count });
  });
}

/** What the table shows of each row: its kind, label and a note (a run may give its own). */
const SHOWN: Record<string, [kind: RowDef['kind'], label: string, note?: string]> = {
  'worker.drain': ['worker', 'worker drain (issuances persisted to Postgres)'],
  lua: [
    'ceiling',
    `coupon Lua script alone (ioredis, ${LUA_IN_FLIGHT} in flight)`,
    'no HTTP; one connection',
  ],
  bare: ['ceiling', 'bare Fastify route + same Lua script', 'no tRPC, no auth, no limits'],
  'bare.limited': [
    'reference',
    'bare route + same Lua script with the caller’s rate limits',
    'the Redis work of coupon.issue, without the API layer',
  ],
  naive: ['baseline', 'naive: one Postgres transaction, SELECT … FOR UPDATE', 'pg pool of 20'],
  'coupon.issue': ['ours', 'coupon.issue (/trpc, auth)', 'a distinct user and token per request'],
  'coupon.issue.official': [
    'reference',
    'coupon.issue via tRPC’s own fastifyTRPCPlugin',
    'same router and auth, official adapter',
  ],
  'coupon.issue.soldout': [
    'ours',
    'coupon.issue after the coupon ran out (/trpc, auth)',
    'a distinct user and token per request; all but the first answered COUPON_SOLD_OUT (409)',
  ],
  'coupon.issue.cluster': [
    'ours',
    'coupon.issue, Redis Cluster (/trpc, auth)',
    '3 masters + 3 replicas on this machine, 3 coupons in turn, one per master',
  ],
  'coupon.issue.replica': [
    'ours',
    'coupon.issue, REDIS_WAIT_REPLICAS=0 (/trpc, auth)',
    'private primary + 1 replica, answered at once (the baseline of coupon.issue.wait1)',
  ],
  'coupon.issue.wait1': [
    'ours',
    'coupon.issue, REDIS_WAIT_REPLICAS=1 (/trpc, auth)',
    'private primary + 1 replica; answered after WAIT 1 (compare coupon.issue.replica)',
  ],
  'order.create': ['ours', 'order.create (/trpc, auth)'],
  'order.create.cluster': ['ours', 'order.create, Redis Cluster (/trpc, auth)'],
  'payment.pay': ['ours', 'payment.pay (/trpc, auth)'],
  'payment.pay.worker': ['ours', 'payment.pay, worker running (/trpc, auth)'],
  'payment.pay.hot': ['ours', 'payment.pay, 10 users (/trpc, auth)'],
  pgbench: ['ceiling', 'pgbench TPC-B-like (Postgres alone)'],
  'product.top': ['ours', 'product.top (/trpc, public)', 'read storm'],
  'coupon.get': ['ours', 'coupon.get (/trpc, public)', 'sale page poll'],
  'waitingRoom.join': [
    'ours',
    'waitingRoom.join (/trpc, auth)',
    'a distinct user per request, each a new ticket (waiting)',
  ],
  'waitingRoom.get': ['ours', 'waitingRoom.get (/trpc, public)', 'waiting page poll'],
  sale: ['ours', 'sale: the rehearsal’s journey, API + worker'],
};

type Options = Pick<RowDef, 'unit' | 'rounds' | 'coupon' | 'optIn'>;
const row = (id: string, run: RowDef['run'], options: Options = {}): RowDef => {
  const [kind, label, note] = SHOWN[id]!;
  return { id, kind, label, note, run, ...options };
};
const [replica, cluster] = ['primary + replica', 'Redis Cluster'] as const;
const issueOptions = { rounds: true, coupon: Q };
const wait = (n: number) => ({ REDIS_WAIT_REPLICAS: `${n}` });

/** Every row, in the order a run measures them. */
export const ROWS: RowDef[] = [
  row('worker.drain', drainRow, { unit: 'rows/s', coupon: Q }),
  row('lua', luaRow, { unit: 'calls/s', coupon: Q }),
  row('bare', bareRow(false), { rounds: true, coupon: Q }),
  row('bare.limited', bareRow(true), { coupon: Q }),
  row('naive', naiveRow),
  row('coupon.issue', couponIssueRow({ firstUser: 10_000_000 }), issueOptions),
  row('coupon.issue.official', couponIssueRow({ firstUser: 50_000_000, official: true }), issueOptions),
  // Distinct users, so a 409 here can only be COUPON_SOLD_OUT: the answer the row measures, not
  // an error. The closing checks see that the coupon went to one user only.
  row('coupon.issue.soldout', couponIssueRow({ firstUser: 90_000_000, expectStatus: 409 }), { coupon: 1 }),
  row('coupon.issue.cluster', couponIssueRow({ firstUser: 170_000_000, topology: cluster }), { optIn: true }),
  // What REDIS_WAIT_REPLICAS costs: the same call on a private primary with one replica, without
  // and with waiting for it (docs/adr/0201-replica-wait.md).
  row('coupon.issue.replica', couponIssueRow({ firstUser: 110_000_000, topology: replica }, wait(0))),
  row('coupon.issue.wait1', couponIssueRow({ firstUser: 130_000_000, topology: replica }, wait(1))),
  row('order.create', orderRow('one Redis')),
  row('order.create.cluster', orderRow(cluster), { optIn: true }),
  row('payment.pay', paymentRow(false)),
  row('payment.pay.worker', paymentRow(true)),
  row('payment.pay.hot', hotPaymentRow),
  row('pgbench', pgbenchRow, { unit: 'tx/s' }),
  row('product.top', topRow, { rounds: true }),
  row('coupon.get', couponGetRow, { coupon: 100 }),
  row('waitingRoom.join', joinRow, { rounds: true, coupon: 1 }),
  row('waitingRoom.get', roomGetRow, { rounds: true, coupon: 1 }),
  row('sale', saleRow, { unit: 'answers/s' }),
];
