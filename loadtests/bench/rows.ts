// The benchmark's rows, in the order they run: ROWS at the end of this file is the whole list.
//
// To add a row: write a function `(ctx, round) => Promise<BenchRow>` that starts its server
// with `withChild`, drives it with `measure` and returns `statsRow(...)`, then add one entry to
// ROWS. `coupon: N` gives the row a coupon of quantity N (`couponOf(ctx, id)`), which the closing
// checks cover; `rounds: true` measures it in every round, for rows a target compares.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runIssueCoupon } from '@flash/core/internal/coupon/coupon.store';
import { type Child, ROOT, startApi, startServer, startWorker, treeCpuTimeMs } from '../../test/processes.ts';
import { apiClient } from '../lib/client.ts';
import { checkCoupons, checkStock } from '../lib/invariants.ts';
import { fmt, type RequestSpec } from '../lib/load.ts';
import type { SaleReport } from '../lib/sale-report.ts';
import { createCoupon, createProduct } from '../lib/seed.ts';
import { mintBearerPack } from '../lib/token.ts';
import { httpFor } from '../node/driver.ts';
import { saleScenario } from '../node/sale.ts';
import * as sale from '../scenarios/sale.js';
import { log, settings, wanted } from './cli.ts';
import {
  type Ctx,
  couponIssueRequests,
  couponOf,
  json,
  measure,
  nodeArgsFor,
  ORDER_USERS,
  orderTokens,
  plainRow,
  type RowDef,
  saveOrders,
  statsRow,
  withChild,
} from './harness.ts';
import { hotPaymentRow, measurePayments, pgbenchRow } from './payment-rows.ts';
import type { BenchRow } from './report.ts';
import { onTopology, type RowRedis, spread, type Topology } from './topology.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Large enough that no row runs out: every request of those rows is an issuance. */
const COUPON_QUANTITY = 10_000_000;
/** Tokens minted per coupon.issue row and round: more than any row issues at the rates seen on 2 cores. */
const COUPON_TOKENS = 700_000;
const LUA_IN_FLIGHT = 100;

/** Worker drain rate: pre-fill one coupon's pending stream through the Lua script, then start the worker. */
async function drainRow(ctx: Ctx): Promise<BenchRow> {
  const couponId = couponOf(ctx, 'worker.drain');
  const keys = ctx.keys.coupon(couponId);
  const started = Date.now();
  let issued = 0;
  for (let first = 1; first <= settings.drainN; first += 2000) {
    const batch = Array.from({ length: Math.min(2000, settings.drainN - first + 1) }, (_, i) =>
      runIssueCoupon(ctx.redis, keys, { userId: first + i, nowMs: Date.now() }),
    );
    for (const result of await Promise.all(batch)) if (result.code === 'OK') issued++;
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
  return withChild(startWorker(ctx.run.env, nodeArgsFor('worker-drain')), async () => {
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
    const endToEnd = issued / ((done - ready) / 1000);
    return plainRow({
      id: 'worker.drain',
      label: 'worker drain (issuances persisted to Postgres)',
      kind: 'worker',
      unit: 'rows/s',
      rps: (issued - firstCount) / Math.max(steadySec, 1e-3),
      requests: issued,
      durationSec: steadySec,
      note: `${issued.toLocaleString('en-US')} pre-filled; ${fmt.rps(endToEnd)} rows/s counting from worker start`,
    });
  });
}

/** The coupon script alone, in a child process (lua-direct.ts), no HTTP. */
async function luaRow(ctx: Ctx): Promise<BenchRow> {
  const couponId = couponOf(ctx, 'lua');
  const argv = [
    ...(nodeArgsFor('lua-direct') ?? []),
    path.join(ROOT, 'loadtests/bench/lua-direct.ts'),
    String(couponId),
    String(LUA_IN_FLIGHT),
    String(settings.warmupSec),
    String(settings.durationSec),
  ];
  const output = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, argv, { env: ctx.run.env, maxBuffer: 1 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`lua-direct failed: ${stderr}`)) : resolve(stdout),
    );
  });
  const r = JSON.parse(output.trim().split('\n').pop()!);
  ctx.seen.set(couponId, { ok: r.issued, inFlight: 0 });
  return plainRow({
    id: 'lua',
    label: `coupon Lua script alone (ioredis, ${LUA_IN_FLIGHT} in flight)`,
    kind: 'ceiling',
    unit: 'calls/s',
    ...{ rps: r.rps, p50: r.p50, p95: r.p95, p99: r.p99, max: r.max, errors: r.errors },
    requests: r.calls,
    durationSec: r.durationSec,
    note: 'no HTTP; one ioredis connection',
  });
}

/** The bare route (bare-server.ts): the Lua script behind Fastify, no tRPC, no auth. */
function bareRow(id: string, limits: boolean, label: string, kind: BenchRow['kind'], note: string) {
  let user = 1; // across rounds: each user may issue once
  return (ctx: Ctx): Promise<BenchRow> => {
    const couponId = couponOf(ctx, id);
    const server = startServer(id, 'loadtests/bench/bare-server.ts', {
      env: ctx.run.env,
      args: [String(couponId), ...(limits ? ['--limits'] : [])],
      nodeArgs: nodeArgsFor(id),
    });
    return withChild(server, async (s) => {
      const next = (): RequestSpec => ({
        method: 'POST',
        path: '/issue',
        headers: json,
        body: `{"userId":${user++}}`,
      });
      return statsRow(id, label, kind, await measure(ctx, s, next, couponId), note);
    });
  };
}

async function naiveRow(ctx: Ctx): Promise<BenchRow> {
  const server = startServer('naive', 'loadtests/bench/naive-server.ts', {
    env: ctx.run.env,
    args: [String(COUPON_QUANTITY)],
    nodeArgs: nodeArgsFor('naive'),
  });
  return withChild(server, async (s) => {
    let user = 1;
    const next = (): RequestSpec => ({
      method: 'POST',
      path: '/issue',
      headers: json,
      body: `{"userId":${user++}}`,
    });
    const stats = await measure(ctx, s, next);
    ctx.naiveOk = stats.okWithWarmup ?? 0;
    const label = 'naive: one Postgres transaction, SELECT … FOR UPDATE';
    return statsRow('naive', label, 'baseline', stats, 'pg pool of 20');
  });
}

/**
 * A coupon.issue row: the real API (or tRPC's own adapter), a distinct user and token per
 * request, the users of each round after those of the last (from `firstUser`). On a Redis other
 * than the run's (`topology`, topology.ts) the row makes coupons of its own there, one per master
 * on a cluster, and checks them itself once a worker persisted them.
 */
function couponIssueRow(
  id: string,
  row: {
    firstUser: number;
    /** Served by tRPC's own fastifyTRPCPlugin (official-adapter-server.ts) instead of the API. */
    official?: boolean;
    label: string;
    kind: BenchRow['kind'];
    note: string;
    /** The answer the row measures when it is not a success (see LoadOptions). */
    expectStatus?: number;
    topology?: Topology;
    /** REDIS_WAIT_REPLICAS for the API. */
    waitReplicas?: number;
  },
) {
  const topology = row.topology ?? 'one Redis';
  const env: Record<string, string> =
    row.waitReplicas === undefined ? {} : { REDIS_WAIT_REPLICAS: String(row.waitReplicas) };
  return (ctx: Ctx, round: number): Promise<BenchRow> =>
    onTopology(ctx, topology, env, async (t) => {
      const started = Date.now();
      const tokens = mintBearerPack(
        ctx.run.config.jwtSecret,
        row.firstUser + round * COUPON_TOKENS,
        COUPON_TOKENS,
      );
      log(`minted ${tokens.count.toLocaleString('en-US')} tokens in ${Date.now() - started} ms`);
      const server = row.official
        ? startServer('official', 'loadtests/bench/official-adapter-server.ts', {
            env: t.env,
            nodeArgs: nodeArgsFor(id),
          })
        : startApi(t.env, nodeArgsFor(id));
      return withChild(server, async (api) => {
        const own = topology === 'one Redis';
        const coupons = own
          ? [{ id: couponOf(ctx, id) }]
          : await spread(
              t,
              Math.min(3, t.masters),
              (c) => ctx.keys.coupon(c.id).issued,
              async (n) => ({
                id: await createCoupon(apiClient(api.url), ctx.admin, {
                  name: `bench ${id} ${n}`,
                  totalQuantity: COUPON_QUANTITY,
                }),
              }),
            );
        const requests = couponIssueRequests(
          tokens,
          coupons.map((c) => c.id),
        );
        const stats = await measure(t.ctx, api, requests.next, own ? coupons[0]!.id : undefined, {
          expectStatus: row.expectStatus,
        });
        if (requests.ranOut()) log(`WARNING: ${id} ran out of distinct users; repeats answer 409`);
        if (!own) {
          const found = await checkIssuedOn(
            ctx,
            t,
            coupons.map((c) => c.id),
            stats.okWithWarmup ?? 0,
          );
          ctx.violations.push(...found.map((v) => `${id} on ${topology}: ${v}`));
        }
        return statsRow(id, row.label, row.kind, stats, row.note);
      });
    });
}

/**
 * The coupons of a row on a Redis of its own, once a worker persisted them: each within its
 * quantity, Postgres equal to that Redis, and every success the clients saw (over the coupons
 * together: the load generator counts answers by status, not by coupon) issued.
 */
async function checkIssuedOn(ctx: Ctx, t: RowRedis, couponIds: number[], ok: number): Promise<string[]> {
  const pending = async () => {
    let n = 0;
    for (const id of couponIds) n += await t.redis.xlen(ctx.keys.coupon(id).pending);
    return n;
  };
  await withChild(startWorker(t.env), async () => {
    for (const deadline = Date.now() + 600_000; (await pending()) > 0; await sleep(200)) {
      if (Date.now() > deadline)
        throw new Error('the worker did not persist the issuances within 10 minutes');
    }
  });
  const coupons = couponIds.map((couponId) => ({
    couponId,
    quantity: COUPON_QUANTITY,
    label: 'row',
    drained: true,
  }));
  const found = await checkCoupons(ctx.db, t.redis, ctx.keys, coupons);
  const { rows } = await ctx.db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM issued_coupons WHERE coupon_id = ANY($1)',
    [couponIds],
  );
  const issued = rows[0]!.n;
  const inFlight = 2 * settings.connections;
  if (issued < ok || issued > ok + inFlight)
    found.push(`clients saw ${ok} issued (+ up to ${inFlight} cut off) but Postgres holds ${issued}`);
  return found;
}

/**
 * One-line orders over the run's products (the payment rows pay them). On the cluster the row
 * makes 3 products of its own there, each on another master (each product's stock is its own
 * slot, ADR 0200), and checks their stock itself once a worker saved the orders.
 */
function orderRow(id: string, topology: Topology) {
  return (ctx: Ctx): Promise<BenchRow> =>
    onTopology(ctx, topology, {}, (t) =>
      withChild(startApi(t.env, nodeArgsFor(id)), async (api) => {
        const client = apiClient(api.url);
        const own = topology === 'one Redis';
        const products = own
          ? ctx.products
          : await spread<{ id: number; stock: number }>(
              t,
              Math.min(3, t.masters),
              (p) => ctx.keys.stock(p.id).available,
              (n) =>
                createProduct(client, ctx.admin, {
                  name: `bench ${id} ${n}`,
                  price: 1000,
                  stock: 10_000_000,
                }),
            );
        const tokens = orderTokens(ctx);
        const bodies = products.map((p) => JSON.stringify({ items: [{ productId: p.id, quantity: 1 }] }));
        let i = 0;
        const stats = await measure(t.ctx, api, () => {
          const n = i++;
          return {
            method: 'POST',
            path: '/trpc/order.create',
            headers: { ...json, authorization: `Bearer ${tokens[n % tokens.length]}` },
            body: bodies[n % bodies.length],
          };
        });
        // Answered from Redis; the worker saves them in Postgres (timed here, not part of the
        // row's req/s, as the coupon drain is a row of its own), and payment.pay needs them saved.
        const save = await saveOrders(ctx, t.env, t.redis);
        if (!own) {
          const stock = [];
          for (const p of products)
            stock.push({
              id: p.id,
              initialStock: p.stock,
              available: (await client.query('product.get', { productId: p.id })).stock,
            });
          ctx.violations.push(...(await checkStock(ctx.db, stock)).map((v) => `${id} on ${topology}: ${v}`));
        }
        const note = `1 line, ${products.length} products in turn, ${ORDER_USERS} users, answered from Redis; the worker then saved the ${save.saved.toLocaleString('en-US')} orders in Postgres at ${fmt.rps(save.steady)} orders/s`;
        return statsRow(id, `order.create${own ? '' : `, ${topology}`} (/trpc, auth)`, 'ours', stats, note);
      }),
    );
}

/**
 * Pays the orders the order.create row left (so it runs after it), with the API alone, or with
 * the worker running beside it (`withWorker`: exporting each paid order, as in a sale); the
 * worker's CPU over the row (warm-up included) per payment goes in the note.
 */
function paymentRow(id: string, withWorker: boolean) {
  return async (ctx: Ctx): Promise<BenchRow> => {
    const tokens = orderTokens(ctx);
    const { rows: orders } = await ctx.db.query<{ id: string; user_id: number }>(
      `SELECT id, user_id::int AS user_id FROM orders WHERE status = 'PENDING_PAYMENT' AND user_id BETWEEN 100 AND $1
       ORDER BY created_at`,
      [100 + ORDER_USERS - 1],
    );
    // payment.pay leaves half the orders to payment.pay.worker when both run.
    if (!withWorker && wanted({ id: 'payment.pay.worker' })) orders.splice(orders.length >> 1);
    // The warm-up pays a tenth, at least one per connection.
    if (orders.length < 10 * settings.connections)
      throw new Error(`${id}: only ${orders.length} orders to pay; run order.create first (for longer)`);
    const pay = (api: Child & { url: string }) =>
      measurePayments(
        ctx,
        api,
        orders.map((o) => ({ id: o.id, token: tokens[o.user_id - 100]! })),
      );
    return withChild(startApi(ctx.run.env, nodeArgsFor(id)), async (api) => {
      let note = `${orders.length.toLocaleString('en-US')} orders made by the order.create row`;
      if (!withWorker) return statsRow(id, 'payment.pay (/trpc, auth)', 'ours', await pay(api), note);
      return withChild(startWorker(ctx.run.env, nodeArgsFor(`${id}-worker`)), async (worker) => {
        const before = treeCpuTimeMs(worker.process.pid);
        const stats = await pay(api);
        const paid = stats.okWithWarmup ?? stats.requests;
        const workerUs = ((treeCpuTimeMs(worker.process.pid) - before) * 1000) / paid;
        note += `; worker running: ${Math.round(workerUs)} µs of its CPU per payment`;
        return statsRow(id, 'payment.pay, worker running (/trpc, auth)', 'ours', stats, note);
      });
    });
  };
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

/**
 * `sale`: the whole service as `pnpm start` runs it (API and worker) under the sale rehearsal's
 * journey (loadtests/node/sale.ts) at SALE_SHAPE: answers per second over the journeys, p95/p99
 * of every call, API CPU per answer. Its closing checks count as the run's invariants.
 */
async function saleRow(ctx: Ctx): Promise<BenchRow> {
  const env = { ...ctx.run.env, ...sale.serviceEnv({ ...sale.shape, ...SALE_SHAPE }) };
  return withChild(startApi(env, nodeArgsFor('sale')), (api) =>
    withChild(startWorker(env, nodeArgsFor('sale-worker')), async (worker) => {
      const result = await saleScenario.run({
        run: ctx.run,
        url: api.url,
        http: httpFor(api.url, ctx.run.config.jwtSecret),
        shape: (s) => ({ ...s, ...SALE_SHAPE }),
        durationSec: SALE_SHAPE.durationSec,
        connections: saleScenario.defaultConnections!,
        pids: { api: api.process.pid, worker: worker.process.pid, redis: ctx.redisPid },
        sharedDatabase: true,
        log,
      });
      ctx.violations.push(...result.violations.map((v) => `sale row: ${v}`));
      const r = JSON.parse(readFileSync(result.report!, 'utf8')) as SaleReport;
      const all = result.stats.at(-1)!.stats;
      const note = `${SALE_SHAPE.users} shoppers within ${SALE_SHAPE.durationSec} s, ${r.sockets} sockets; worker ${Math.round(r.perAnswer.workerCpuUs)} µs CPU per answer; report ${path.relative(ROOT, result.report!)}`;
      const stats = {
        ...all,
        serverCpuUs: r.perAnswer.apiCpuUs,
        redisCpuUs: r.perAnswer.redisCpuUs,
        postgresCpuUs: r.perAnswer.postgresCpuUs,
        loadgenCpuUs: (r.loadgen.cpuMs * 1000) / all.requests,
      };
      return {
        ...statsRow('sale', 'sale: the rehearsal’s journey, API + worker', 'ours', stats, note),
        unit: 'answers/s',
      };
    }),
  );
}

async function topRow(ctx: Ctx): Promise<BenchRow> {
  return withChild(startApi(ctx.run.env, nodeArgsFor('product.top')), async (api) => {
    const stats = await measure(ctx, api, () => ({ method: 'GET', path: '/trpc/product.top' }));
    return statsRow('product.top', 'product.top (/trpc, public)', 'ours', stats, 'read storm');
  });
}

/** `coupon.get`: the sale page's poll of what is left (cached coupon, one Redis round trip). */
async function couponGetRow(ctx: Ctx): Promise<BenchRow> {
  const input = encodeURIComponent(JSON.stringify({ couponId: couponOf(ctx, 'coupon.get') }));
  return withChild(startApi(ctx.run.env, nodeArgsFor('coupon.get')), async (api) => {
    const stats = await measure(ctx, api, () => ({ method: 'GET', path: `/trpc/coupon.get?input=${input}` }));
    return statsRow('coupon.get', 'coupon.get (/trpc, public)', 'ours', stats, 'sale page poll');
  });
}

/**
 * The waiting room's two crowd calls, each against a room of its own that guards the row's own
 * coupon (so no other row's calls need a pass). `waitingRoom.join`: a distinct user and token
 * per request, each taking a ticket (one script: limits and ticket); `waitingRoom.get`: the
 * public poll every waiting page makes (one HMGET), as product.top's read storm.
 */
function waitingRoomRow(id: 'waitingRoom.join' | 'waitingRoom.get') {
  return async (ctx: Ctx, round: number): Promise<BenchRow> => {
    const tokens =
      id === 'waitingRoom.join'
        ? mintBearerPack(ctx.run.config.jwtSecret, 150_000_000 + round * COUPON_TOKENS, COUPON_TOKENS)
        : undefined;
    return withChild(startApi(ctx.run.env, nodeArgsFor(id)), async (api) => {
      const { roomId } = await apiClient(api.url).mutate<{ roomId: number }>(
        'admin.waitingRoom.create',
        // Admitting one a second: the crowd the room exists for, where nearly every join waits.
        { name: `bench ${id} ${round}`, couponIds: [couponOf(ctx, id)], admitPerSecond: 1 },
        ctx.admin,
      );
      const body = JSON.stringify({ roomId });
      const getPath = `/trpc/waitingRoom.get?input=${encodeURIComponent(body)}`;
      let i = 0;
      const next = (): RequestSpec =>
        tokens
          ? {
              method: 'POST',
              path: '/trpc/waitingRoom.join',
              headers: { ...json, authorization: tokens.bearer(i++ % tokens.count) },
              body,
            }
          : { method: 'GET', path: getPath };
      const stats = await measure(ctx, api, next);
      if (tokens && i > tokens.count) log(`${id}: ran out of distinct users; repeats answered their ticket`);
      return id === 'waitingRoom.join'
        ? statsRow(
            id,
            'waitingRoom.join (/trpc, auth)',
            'ours',
            stats,
            'a distinct user per request, each a new ticket (waiting)',
          )
        : statsRow(id, 'waitingRoom.get (/trpc, public)', 'ours', stats, 'waiting page poll');
    });
  };
}

/** Every row, in the order a run measures them. */
export const ROWS: RowDef[] = [
  { id: 'worker.drain', coupon: COUPON_QUANTITY, run: drainRow },
  { id: 'lua', coupon: COUPON_QUANTITY, run: luaRow },
  {
    id: 'bare',
    rounds: true,
    coupon: COUPON_QUANTITY,
    run: bareRow(
      'bare',
      false,
      'bare Fastify route + same Lua script',
      'ceiling',
      'no tRPC, no auth, no limits',
    ),
  },
  {
    id: 'bare.limited',
    coupon: COUPON_QUANTITY,
    run: bareRow(
      'bare.limited',
      true,
      'bare route + same Lua script with the caller’s rate limits',
      'reference',
      'the Redis work of coupon.issue, without the API layer',
    ),
  },
  { id: 'naive', run: naiveRow },
  {
    id: 'coupon.issue',
    rounds: true,
    coupon: COUPON_QUANTITY,
    run: couponIssueRow('coupon.issue', {
      firstUser: 10_000_000,
      label: 'coupon.issue (/trpc, auth)',
      kind: 'ours',
      note: 'a distinct user and token per request',
    }),
  },
  {
    id: 'coupon.issue.official',
    rounds: true,
    coupon: COUPON_QUANTITY,
    run: couponIssueRow('coupon.issue.official', {
      firstUser: 50_000_000,
      official: true,
      label: 'coupon.issue via tRPC’s own fastifyTRPCPlugin',
      kind: 'reference',
      note: 'same router and auth, official adapter',
    }),
  },
  // Distinct users, so a 409 here can only be COUPON_SOLD_OUT: the answer the row measures, not
  // an error. The closing checks see that the coupon went to one user only.
  {
    id: 'coupon.issue.soldout',
    coupon: 1,
    run: couponIssueRow('coupon.issue.soldout', {
      firstUser: 90_000_000,
      label: 'coupon.issue after the coupon ran out (/trpc, auth)',
      kind: 'ours',
      note: 'a distinct user and token per request; all but the first answered COUPON_SOLD_OUT (409)',
      expectStatus: 409,
    }),
  },
  {
    id: 'coupon.issue.cluster',
    optIn: true,
    run: couponIssueRow('coupon.issue.cluster', {
      firstUser: 170_000_000,
      label: 'coupon.issue, Redis Cluster (/trpc, auth)',
      kind: 'ours',
      note: '3 masters + 3 replicas on this machine, 3 coupons in turn, one per master',
      topology: 'Redis Cluster',
    }),
  },
  // What REDIS_WAIT_REPLICAS costs: the same call on a private primary with one replica, without
  // and with waiting for it (docs/adr/0201-replica-wait.md).
  ...[0, 1].map((wait) => ({
    id: wait ? 'coupon.issue.wait1' : 'coupon.issue.replica',
    run: couponIssueRow(wait ? 'coupon.issue.wait1' : 'coupon.issue.replica', {
      firstUser: wait ? 130_000_000 : 110_000_000,
      label: `coupon.issue, REDIS_WAIT_REPLICAS=${wait} (/trpc, auth)`,
      kind: 'ours' as const,
      note: wait
        ? 'private primary + 1 replica; answered after WAIT 1 (compare coupon.issue.replica)'
        : 'private primary + 1 replica, answered at once (the baseline of coupon.issue.wait1)',
      topology: 'primary + replica' as const,
      waitReplicas: wait,
    }),
  })),
  { id: 'order.create', run: orderRow('order.create', 'one Redis') },
  { id: 'order.create.cluster', optIn: true, run: orderRow('order.create.cluster', 'Redis Cluster') },
  { id: 'payment.pay', run: paymentRow('payment.pay', false) },
  { id: 'payment.pay.worker', run: paymentRow('payment.pay.worker', true) },
  { id: 'payment.pay.hot', run: hotPaymentRow },
  { id: 'pgbench', run: pgbenchRow },
  { id: 'product.top', rounds: true, run: topRow },
  { id: 'coupon.get', coupon: 100, run: couponGetRow },
  { id: 'waitingRoom.join', rounds: true, coupon: 1, run: waitingRoomRow('waitingRoom.join') },
  { id: 'waitingRoom.get', rounds: true, coupon: 1, run: waitingRoomRow('waitingRoom.get') },
  { id: 'sale', run: saleRow },
];
