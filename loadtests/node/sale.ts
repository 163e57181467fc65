// The sale rehearsal in Node, plain or behind a waiting room: one async journey per shopper
// (scenarios/sale.js `shop`, behind a room after waiting-room.js `waitForPass`) that waits its
// planned arrival; the calls share a keep-alive pool of `--connections` sockets. A monitor samples
// the service until the last abandoned order expired; the report (lib/sale-report.ts) goes to
// loadtests/results/sale[-waiting-room]-<run>.html and .json.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { connectRedisClient, createKeys } from '@flash/core';
import { countUnsavedOrders } from '@flash/core/internal/order/order.store';
import { ROOT } from '../../test/processes.ts';
import { judgeFairness, type Look, type Records, records } from '../lib/fairness.ts';
import { sqlPool } from '../lib/invariants.ts';
import { type LoadStats, percentile, summarize } from '../lib/load.ts';
import { startMonitor } from '../lib/monitor.ts';
import type { Attribution } from '../lib/profile.ts';
import { writeSaleReport } from '../lib/sale-report.ts';
import * as sale from '../scenarios/sale.js';
import * as wr from '../scenarios/waiting-room.js';
import { httpFor, type Scenario, type ScenarioContext, type Threshold } from './driver.ts';

export const saleScenario: Scenario = { defaultConnections: 1000, run: (ctx) => runSale(ctx, false) };
export const saleWaitingRoomScenario: Scenario = {
  defaultConnections: 1000,
  run: (ctx) => runSale(ctx, true),
};

/** Every number of a run; lib/sale-report.ts renders it, the runner adds the store checks and the profile. */
export type SaleReport = Awaited<ReturnType<typeof measure>>;
/** The journey's calls together (behind a room: the admitted shoppers'), as a row of the steps. */
const FUNNEL = 'funnel calls';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

async function runSale(ctx: ScenarioContext, withRoom: boolean) {
  const report = await measure(ctx, withRoom);
  const dir = path.join(ROOT, 'loadtests/results');
  mkdirSync(dir, { recursive: true });
  const file = writeSaleReport(
    path.join(dir, `${withRoom ? 'sale-waiting-room' : 'sale'}-${ctx.run.id}`),
    report,
  );
  return {
    stats: Object.entries(report.steps).map(([name, stats]) => ({ name, stats })),
    thresholds: report.verdict.thresholds,
    violations: report.verdict.violations,
    notes: [`report: ${path.relative(ROOT, file)}`],
    report: file.replace(/\.html$/, '.json'),
  };
}

async function measure(ctx: ScenarioContext, withRoom: boolean) {
  // The room's settings are read only behind a room.
  const s = ctx.shape({ ...(withRoom ? wr.shape : sale.shape), durationSec: ctx.durationSec }) as wr.Shape;
  const couponId: number = (await ctx.http.ok(sale.createCoupon(s))).couponId;
  const productIds: number[] = [];
  for (const call of sale.createProducts(s)) productIds.push((await ctx.http.ok(call)).id);
  const roomId: number | undefined = withRoom
    ? (await ctx.http.ok(wr.createRoom(s, couponId, productIds))).roomId
    : undefined;
  ctx.log(
    `${s.users} shoppers within ${s.durationSec} s${roomId ? ` through room ${roomId} admitting ${s.admitPerSecond}/s` : ''} for ${s.coupons} coupons and ${s.products} × ${s.stock} units; orders held ${s.holdSeconds} s; ${ctx.connections} sockets`,
  );
  const steps: string[] = withRoom ? [...wr.WAIT_STEPS, ...sale.STEPS] : [...sale.STEPS];
  const latencies = Object.fromEntries([...steps, FUNNEL].map((k) => [k, [] as number[]]));
  const outcomes = Object.fromEntries([...steps, FUNNEL].map((k) => [k, {} as Record<string, number>]));
  const perSecond: ({ ok: number; refused: number; unexpected: number } & Record<string, number>)[] = [];
  const soldOutAtMs: Record<string, number> = {};
  const tally = sale.newTally(s);
  const pool = httpFor(ctx.url, ctx.run.config.jwtSecret, ctx.connections);
  let shed = 0;
  let started = 0;
  let lastOrderAt = 0;
  let joined = 0;

  // Behind a room: what each shopper was told when, for fairness and the waits.
  const rec = records(s.users + 1);
  const looks: Look[] = [];
  const positionsUp: string[] = [];
  let memory:
    | { bytes: number; tickets: number; waiting: number; atMs: number; bytesPerShopper: number }
    | undefined;
  const db = sqlPool(ctx.run.config.databaseUrl);
  const redis = await connectRedisClient(ctx.run.config, 'command', 'loadtest-monitor');
  const keys = createKeys(ctx.run.config.redisKeyPrefix);
  /** The room's Redis memory once the last shopper joined. */
  const memoryProbe = async () => {
    try {
      const bytes = Number(
        await redis.call('MEMORY', 'USAGE', keys.waitingRoom(roomId!).room, 'SAMPLES', '0'),
      );
      const room = JSON.parse((await pool.send(wr.roomCall(roomId!))).body).result.data;
      const atMs = performance.now() - started;
      memory = {
        bytes,
        tickets: room.joined,
        waiting: room.joined - room.admittedThrough,
        atMs,
        bytesPerShopper: bytes / room.joined,
      };
    } catch (err) {
      ctx.log(`Redis memory of the room not read: ${err}`);
    }
  };

  const io: sale.Io = {
    async send(_step, call) {
      const sentAt = performance.now();
      const a = await pool.send(call);
      return { ...a, sentAt, receivedAt: performance.now() };
    },
    count(step, call, a, outcome) {
      const at = a.receivedAt! - started;
      const funnel = (sale.STEPS as readonly string[]).includes(step);
      for (const k of funnel ? [step, FUNNEL] : [step]) {
        latencies[k]!.push(a.receivedAt! - a.sentAt!);
        outcomes[k]![outcome] = (outcomes[k]![outcome] ?? 0) + 1;
      }
      const sec = Math.floor(at / 1000);
      for (let i = perSecond.length; i <= sec; i++) perSecond.push({ ok: 0, refused: 0, unexpected: 0 });
      const b = perSecond[sec]!;
      const kind = sale.kindOf(outcome);
      if (kind === 'ok') {
        b.ok++;
        if (funnel) b[step] = (b[step] ?? 0) + 1;
        if (step === 'order') lastOrderAt = a.receivedAt!;
        if (step === 'join' && ++joined === s.users) void memoryProbe();
      } else if (kind === 'refused') {
        b.refused++;
        const product = outcome === 'OUT_OF_STOCK' ? JSON.parse(call.body!).items[0].productId : undefined;
        soldOutAtMs[product ? `${outcome} product ${product}` : outcome] ??= at;
      } else {
        b.unexpected++;
        if (kind === 'shed') shed++;
        else tally.unexpected.push(`${step} for user ${call.user}: HTTP ${a.status} ${a.body.slice(0, 200)}`);
      }
    },
    sleep,
  };

  /** Waits in the room, keeping what the shopper was told; its pass, if it got one. */
  const wait = async (i: number, p: sale.Plan) => {
    const w = await wr.waitForPass(io, s, p, roomId!, tally);
    rec.ticket[i] = w.ticket;
    rec.joinSentAt[i] = w.told[0]?.sentAt ?? Number.NaN;
    rec.joinReceivedAt[i] = w.told[0]?.receivedAt ?? Number.NaN;
    for (const x of w.told) {
      if (x.admitted) rec.admittedAt[i] = Math.min(rec.admittedAt[i]!, x.receivedAt!);
      else rec.lastNotYetSentAt[i] = x.sentAt!;
      if (!Number.isFinite(x.through)) continue;
      rec.looks[i]!++;
      looks.push({ sentAt: x.sentAt!, receivedAt: x.receivedAt!, through: x.through! });
    }
    if (w.pass) rec.passAt[i] = w.told.at(-1)!.receivedAt!;
    positionsUp.push(...w.positionsUp);
    return w.pass;
  };

  const shopper = async (i: number) => {
    const p = sale.plan(s, ctx.run.id, i, Math.random);
    await sleep(started + p.arriveMs - performance.now());
    const pass = roomId ? await wait(i, p) : undefined;
    if (!roomId || pass) await sale.shop(io, p, { couponId, productIds }, tally, pass);
  };

  try {
    const monitor = await startMonitor({ db, redis, prefix: ctx.run.config.redisKeyPrefix, pids: ctx.pids });
    const startedAt = new Date().toISOString();
    const cpu0 = process.cpuUsage();
    started = performance.now();
    await Promise.all(Array.from({ length: s.users }, (_, i) => shopper(i)));
    const journeysMs = performance.now() - started;
    const cpu = process.cpuUsage(cpu0);
    const loadgenCpuMs = (cpu.user + cpu.system) / 1000;
    ctx.log(`last journey ended after ${(journeysMs / 1000).toFixed(1)} s; waiting for the expiries`);

    // Abandoned orders expire holdSeconds after they were made, then the 1-second sweep runs;
    // on a busy machine the worker gets a bounded while longer.
    await sleep(lastOrderAt + s.holdSeconds * 1000 + 1500 - performance.now());
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(500)) {
      const { rows } = await db.query(
        "SELECT count(*)::int AS n FROM orders WHERE status = 'PENDING_PAYMENT'",
      );
      if (rows[0].n === 0 && (await countUnsavedOrders(redis, keys)) === 0) break;
    }
    const totals = await monitor.stop();
    const expiredAtMs = performance.now() - started;

    const calls = sale.closingCalls(s, tally, productIds, couponId);
    // Behind a room the newcomer of the closing check waits its turn like everyone.
    const newcomerPass = roomId
      ? await wait(s.users, sale.plan(s, ctx.run.id, s.users, Math.random))
      : undefined;
    const { violations, expired } = sale.verdict(s, tally, {
      abandoned: await ctx.http.sendAll(calls.abandoned),
      products: await ctx.http.sendAll(calls.products),
      top: ctx.sharedDatabase ? undefined : await ctx.http.send(calls.top),
      coupon:
        roomId && !newcomerPass
          ? { status: 0, body: 'the newcomer got no pass' }
          : await pool.send({ ...calls.coupon, pass: newcomerPass }),
    });

    const stats = Object.fromEntries(
      [...steps, FUNNEL].map((k) => [k, statsOf(latencies[k]!, outcomes[k]!, journeysMs)]),
    );
    const answers = steps.reduce((n, k) => n + latencies[k]!.length, 0);
    const room = roomId ? roomReport(rec, s.users, looks, positionsUp, memory, roomId) : undefined;
    const thresholds = judge(withRoom ? wr.thresholds : sale.thresholds, {
      funnel_calls: stats[FUNNEL],
      step_join: stats.join,
      unexpected_answers: (tally.unexpected.length + shed) / Math.max(1, answers),
    });
    const perAnswer = (ms: number | undefined) => ((ms ?? Number.NaN) * 1000) / answers;
    return {
      runId: ctx.run.id,
      startedAt,
      shape: s,
      sockets: ctx.connections,
      funnel: {
        shoppers: s.users,
        admitted: room?.waits.admitted,
        issued: tally.issued,
        ordersCreated: sum(tally.ordered),
        ordersPaid: sum(tally.paid),
        ordersAbandoned: tally.abandoned.length,
        ordersExpired: expired,
        unitsPaidPerProduct: tally.paid,
      },
      /** ms after the first arrival of each kind of expected refusal (per product for OUT_OF_STOCK). */
      soldOutAtMs,
      journeysMs,
      expiredAtMs,
      /** Per step and for the funnel's calls; statusCounts: answers by outcome (sale.js outcomeOf). */
      steps: stats,
      perSecond,
      samples: monitor.samples,
      totals,
      perAnswer: {
        answers,
        apiCpuUs: perAnswer(totals.cpuMs.api),
        redisCpuUs: perAnswer(totals.cpuMs.redis),
        workerCpuUs: perAnswer(totals.cpuMs.worker),
        postgresCpuUs: perAnswer(totals.cpuMs.postgres),
        redisCalls: sum(Object.values(totals.redisCalls)) / answers,
        pgRows: totals.pg.rows / answers,
        pgCommits: totals.pg.commits / answers,
      },
      loadgen: { cpuMs: loadgenCpuMs, coresBusy: loadgenCpuMs / journeysMs },
      room,
      /** Where each answer's time went, when the API and the worker ran with --cpu-prof (the runner adds it). */
      profile: undefined as
        | {
            api: Attribution & { cpuMs: number; answers: Record<string, number> };
            worker: Attribution & { cpuMs: number; items: Record<string, number> };
          }
        | undefined,
      verdict: {
        thresholds,
        violations: [...violations, ...(room?.violations ?? [])],
        /** The runner's Postgres and Redis checks after the worker drained. */
        storeViolations: undefined as string[] | undefined,
      },
    };
  } finally {
    pool.close();
    await redis.quit();
    await db.end();
  }
}

/** Fairness, waits and memory of the room, from what the shoppers were told. */
function roomReport(
  rec: Records,
  n: number,
  looks: Look[],
  positionsUp: string[],
  memory:
    | { bytes: number; tickets: number; waiting: number; atMs: number; bytesPerShopper: number }
    | undefined,
  roomId: number,
) {
  const fairness = judgeFairness(rec, n, looks);
  const waits = Float64Array.from(
    Array.from({ length: n }, (_, i) => rec.passAt[i]! - rec.joinReceivedAt[i]!).filter(Number.isFinite),
  ).sort();
  const lookCounts = Array.from(rec.looks.subarray(0, n));
  const violations = [...positionsUp.slice(0, 20), ...fairness.violations];
  if (positionsUp.length > 20) violations.push(`... ${positionsUp.length} positions went up in all`);
  return {
    roomId,
    fairness: { ...fairness, positionsUp: positionsUp.length },
    waits: {
      admitted: waits.length,
      p50: percentile(waits, 50),
      p99: percentile(waits, 99),
      longest: waits.at(-1) ?? Number.NaN,
    },
    looksPerShopper: {
      mean: Number((sum(lookCounts) / Math.max(1, n)).toFixed(2)),
      most: Math.max(0, ...lookCounts),
    },
    memory,
    violations,
  };
}

/** The scenario's thresholds, k6 expressions, judged on the driver's numbers (latencies, or a rate). */
export function judge(
  spec: Record<string, string[]>,
  metrics: Record<string, LoadStats | number | undefined>,
) {
  return Object.entries(spec).flatMap(([metric, exprs]) =>
    exprs.map((expr): Threshold => {
      const [, stat, op, limit] = /^(p\(\d+\)|rate)(<=?)([\d.]+)$/.exec(expr)!;
      const m = metrics[metric];
      const value = typeof m === 'object' ? m[`p${stat!.slice(2, -1)}` as 'p95' | 'p99'] : (m ?? Number.NaN);
      return {
        name: `${metric} ${expr}`,
        value: typeof m === 'object' ? `${value.toFixed(1)} ms` : `${(value * 100).toFixed(3)}%`,
        ok: op === '<' ? value < Number(limit) : value <= Number(limit),
        latency: typeof m === 'object',
      };
    }),
  );
}

/** Refusals the sale expects (sold out, expired) are answers, not errors. */
function statsOf(ms: number[], outcomes: Record<string, number>, windowMs: number): LoadStats {
  const errors = Object.entries(outcomes).reduce(
    (n, [o, c]) => (['ok', 'refused'].includes(sale.kindOf(o)) ? n : n + c),
    0,
  );
  return summarize(Float64Array.from(ms).sort(), windowMs / 1000, errors, outcomes);
}
