// sale in Node: loadtests/scenarios/sale.js defines it. Every shopper is one async journey that
// waits its planned arrival and think times; the calls share a keep-alive pool of
// `--connections` sockets (the default here is 1,000). A monitor samples the worker backlogs,
// Redis memory and Postgres writes once a second, during the burst and until the last
// abandoned order expired; the report goes to the console and to
// loadtests/results/sale-<run>.html (charts) and .json (every number).

import { mkdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { connectRedisClient, createKeys } from '@flash/core';
import { countUnsavedOrders } from '@flash/core/order/order.store';
import { ROOT } from '../lib/children.ts';
import { sqlPool } from '../lib/invariants.ts';
import { type LoadStats, percentile } from '../lib/load.ts';
import { type MonitorTotals, type Sample, startMonitor } from '../lib/monitor.ts';
import { type SaleReport, writeSaleReport } from '../lib/sale-report.ts';
import * as sale from '../scenarios/sale.js';
import type { Call } from '../scenarios/trpc.js';
import { withOverrides } from '../scenarios/trpc.js';
import { judgeThresholds, type Scenario } from './driver.ts';

type Step = sale.Step;
type Answer = { status: number; body: string; outcome: string };
type Bucket = { ok: number; refused: number; unexpected: number } & Partial<Record<Step, number>>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export const saleScenario: Scenario = {
  name: sale.name,
  description: sale.description,
  k6Script: 'loadtests/k6/sale.js',
  defaultDurationSec: sale.shape.durationSec,
  defaultConnections: 1000,
  privateRedis: true,
  serviceEnv: () => sale.serviceEnv(withOverrides(sale.shape, process.env, 'LOADTEST_')),
  async run(ctx) {
    const s = ctx.shape({ ...sale.shape, durationSec: ctx.durationSec });
    const { couponId } = await ctx.http.ok(sale.createCoupon(s));
    const productIds: number[] = [];
    for (const call of sale.createProducts(s)) productIds.push((await ctx.http.ok(call)).id);
    ctx.log(
      `${s.users} shoppers within ${s.durationSec} s for ${s.coupons} coupons and ${s.products} × ${s.stock} units; orders held ${s.holdSeconds} s; ${ctx.connections} sockets`,
    );

    const agent = new http.Agent({ keepAlive: true, maxSockets: ctx.connections });
    const base = new URL(ctx.url);
    const send = (call: Call): Promise<{ status: number; body: string }> => {
      const spec = ctx.http.spec(call);
      return new Promise((resolve) => {
        const req = http.request(
          {
            host: base.hostname,
            port: base.port,
            method: spec.method,
            path: spec.path,
            headers: spec.headers,
            agent,
          },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => {
              body += c;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
            res.on('error', (err) => resolve({ status: 0, body: String(err) }));
          },
        );
        req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
        req.on('error', (err) => resolve({ status: 0, body: String(err) }));
        req.end(spec.body);
      });
    };

    const latencies: Record<Step, number[]> = { issue: [], order: [], charge: [], pay: [] };
    const outcomes: Record<Step, Record<string, number>> = { issue: {}, order: {}, charge: {}, pay: {} };
    const perSecond: Bucket[] = [];
    const tally = sale.newTally(s);
    const firstRefusal: Record<string, number> = {};
    let lastOrderAt = 0;
    /** Answers that shed load (UNAVAILABLE, RATE_LIMITED): thresholds count them, invariants do not. */
    let shed = 0;
    const late = 0;
    let started = 0;

    const timed = async (step: Step, call: Call, attempt = 1): Promise<Answer> => {
      const t = performance.now();
      const a = await send(call);
      const now = performance.now();
      latencies[step].push(now - t);
      const outcome = sale.outcomeOf(step, a.status, a.body);
      outcomes[step][outcome] = (outcomes[step][outcome] ?? 0) + 1;
      const sec = Math.floor((now - started) / 1000);
      for (let i = perSecond.length; i <= sec; i++) perSecond.push({ ok: 0, refused: 0, unexpected: 0 });
      const b = perSecond[sec]!;
      if (outcome === 'ok') {
        b.ok++;
        b[step] = (b[step] ?? 0) + 1;
      } else if (outcome === 'unexpected' || sale.SHED.includes(outcome)) {
        b.unexpected++;
        if (outcome === 'unexpected')
          tally.unexpected.push(`${step} for user ${call.user}: HTTP ${a.status} ${a.body.slice(0, 200)}`);
        else shed++;
        if (sale.retries(step, call, outcome, attempt)) {
          await sleep(sale.RETRY_PAUSE_MS);
          return timed(step, call, attempt + 1);
        }
      } else {
        b.refused++;
        const where =
          outcome === 'OUT_OF_STOCK'
            ? `${outcome} product ${JSON.parse(call.body ?? '{}').items?.[0]?.productId}`
            : outcome;
        firstRefusal[where] ??= now - started;
      }
      return { ...a, outcome };
    };
    const twice = async (step: 'order' | 'pay', call: Call, retries: boolean) => {
      if (!retries) return timed(step, call);
      const [first, again] = await Promise.all([timed(step, call), timed(step, call)]);
      return sale.compareRetry(tally, step, first, again);
    };

    const shopper = async (index: number) => {
      const p = sale.plan(s, ctx.run.id, index, Math.random);
      await sleep(started + p.arriveMs - performance.now());
      const issued = (await timed('issue', sale.issueCall(p, couponId))).outcome === 'ok';
      if (issued) tally.issued++;
      const order = sale.orderCall(p, productIds, issued ? couponId : undefined);
      if (!order) return;
      await sleep(p.thinkMs[0]);
      const o = await twice('order', order, p.retries);
      if (o.outcome !== 'ok') return;
      lastOrderAt = performance.now();
      const { orderId, payAmount } = sale.orderOf(o.body);
      tally.ordered[p.product]! += 1;
      if (p.abandons) {
        tally.abandoned.push({ user: p.user, orderId });
        return;
      }
      await sleep(p.thinkMs[1]);
      if (payAmount > 0 && (await timed('charge', sale.chargeCall(p, payAmount))).outcome !== 'ok') return;
      await sleep(p.thinkMs[2]);
      if ((await twice('pay', sale.payCall(p, orderId), p.retries)).outcome === 'ok')
        tally.paid[p.product]! += 1;
    };

    const db = sqlPool(ctx.run.config.databaseUrl);
    const redis = await connectRedisClient(ctx.run.config, 'command', 'loadtest-monitor');
    try {
      const monitor = await startMonitor({
        db,
        redis,
        prefix: ctx.run.config.redisKeyPrefix,
        pids: ctx.pids,
      });
      const offset = Date.now();
      started = performance.now();
      await Promise.all(Array.from({ length: s.users }, (_, i) => shopper(i)));
      const journeysMs = performance.now() - started;
      ctx.log(`last journey ended after ${(journeysMs / 1000).toFixed(1)} s; waiting for the expiries`);

      // Every abandoned order expires holdSeconds after it was made, then the 1-second sweep
      // runs; on a busy machine give the worker a bounded while longer.
      await sleep(lastOrderAt + s.holdSeconds * 1000 + 1500 - performance.now());
      const deadline = Date.now() + 60_000;
      for (;;) {
        const { rows } = await db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM orders WHERE status = 'PENDING_PAYMENT'",
        );
        const unsaved = await countUnsavedOrders(redis, createKeys(ctx.run.config.redisKeyPrefix));
        if ((rows[0]?.n ?? 0) === 0 && unsaved === 0) break;
        if (Date.now() > deadline) break;
        await sleep(500);
      }
      const totals = await monitor.stop();
      const expiredAtMs = performance.now() - started;

      const calls = sale.closingCalls(s, tally, productIds, couponId);
      const answers = {
        abandoned: await ctx.http.sendAll(calls.abandoned),
        products: await ctx.http.sendAll(calls.products),
        coupon: await ctx.http.send(calls.coupon),
      };
      const { violations, expired } = sale.verdict(s, tally, answers);

      const stats = Object.fromEntries(
        sale.STEPS.map((step) => [step, statsOf(latencies[step], outcomes[step], journeysMs)]),
      ) as Record<Step, LoadStats>;
      const all = statsOf(
        sale.STEPS.flatMap((step) => latencies[step]),
        sumCounts(sale.STEPS.map((step) => outcomes[step])),
        journeysMs,
      );
      const unexpected = tally.unexpected.length + shed;
      const report = {
        runId: ctx.run.id,
        startedAt: new Date(offset).toISOString(),
        shape: s,
        sockets: ctx.connections,
        funnel: {
          shoppers: s.users,
          issued: tally.issued,
          ordersCreated: tally.ordered.reduce((a, b) => a + b, 0),
          ordersPaid: tally.paid.reduce((a, b) => a + b, 0),
          ordersAbandoned: tally.abandoned.length - late,
          ordersPaidTooLate: late,
          ordersExpired: expired,
          unitsPaidPerProduct: tally.paid,
        },
        soldOutAtMs: firstRefusal,
        journeysMs,
        expiredAtMs,
        outcomes,
        steps: Object.fromEntries(
          sale.STEPS.map((step) => [
            step,
            {
              n: stats[step].requests,
              p50: stats[step].p50,
              p95: stats[step].p95,
              p99: stats[step].p99,
              max: stats[step].max,
            },
          ]),
        ),
        perSecond,
        samples: monitor.samples,
        totals,
        perAnswer: perAnswer(totals, all.requests),
        verdict: { thresholds: judgeThresholds(sale.thresholds, all, unexpected), violations },
      };
      const file = writeReport(report);
      return {
        description: sale.describe(s),
        stats: [
          ...sale.STEPS.map((step) => ({ name: step, stats: stats[step] })),
          { name: 'all steps', stats: all },
        ],
        thresholds: report.verdict.thresholds,
        violations,
        notes: notesOf(report, file),
        report: path.join(ROOT, file.replace(/\.html$/, '.json')),
      };
    } finally {
      agent.destroy();
      await redis.quit();
      await db.end();
    }
  },
};

/** Outcome counts of several steps added up (an outcome may appear in more than one). */
function sumCounts(counts: Record<string, number>[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const c of counts) for (const [k, n] of Object.entries(c)) sum[k] = (sum[k] ?? 0) + n;
  return sum;
}

function statsOf(ms: number[], codes: Record<string, number>, windowMs: number): LoadStats {
  const sorted = Float64Array.from(ms).sort();
  // Refusals the sale expects (sold out, expired) are answers, not errors.
  const errors = Object.entries(codes).reduce(
    (n, [k, c]) => (k === 'unexpected' || sale.SHED.includes(k) ? n + c : n),
    0,
  );
  return {
    requests: ms.length,
    durationSec: windowMs / 1000,
    rps: ms.length / (windowMs / 1000),
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    errors,
    statusCounts: codes,
  };
}

function perAnswer(t: MonitorTotals, answers: number) {
  const redisCalls = Object.values(t.redisCalls).reduce((a, b) => a + b, 0);
  return {
    answers,
    apiCpuUs: ((t.cpuMs.api ?? Number.NaN) * 1000) / answers,
    redisCpuUs: ((t.cpuMs.redis ?? Number.NaN) * 1000) / answers,
    workerCpuUs: ((t.cpuMs.worker ?? Number.NaN) * 1000) / answers,
    postgresCpuUs: ((t.cpuMs.postgres ?? Number.NaN) * 1000) / answers,
    redisCalls: redisCalls / answers,
    pgRows: t.pg.rows / answers,
    pgCommits: t.pg.commits / answers,
  };
}

type Report = {
  runId: string;
  shape: sale.Shape;
  funnel: Record<string, number | number[]>;
  soldOutAtMs: Record<string, number>;
  journeysMs: number;
  expiredAtMs: number;
  steps: Record<string, { n: number; p50: number; p95: number; p99: number; max: number }>;
  perSecond: Bucket[];
  samples: Sample[];
  totals: MonitorTotals;
  perAnswer: ReturnType<typeof perAnswer>;
};

const secs = (ms: number | undefined) => (ms === undefined ? '–' : `${(ms / 1000).toFixed(2)} s`);
const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;

function notesOf(r: Report, file: string): string[] {
  const f = r.funnel;
  const peak = (pick: (x: Sample) => number) => Math.max(0, ...r.samples.map(pick));
  const lagRows = Object.keys(r.samples[0]?.backlogs ?? {}).map((name) => {
    const during = r.samples.filter((x) => x.t <= r.journeysMs);
    const maxCount = Math.max(0, ...during.map((x) => x.backlogs[name]?.count ?? 0));
    const maxAge = Math.max(0, ...during.map((x) => x.backlogs[name]?.oldestMs ?? 0));
    const end = r.samples[r.samples.length - 1]?.backlogs[name];
    return `  ${name.padEnd(26)} during: up to ${maxCount} waiting, oldest ${secs(maxAge)}; at the end: ${end?.count ?? '–'} waiting`;
  });
  const t = r.totals;
  const pa = r.perAnswer;
  return [
    `shape: ${JSON.stringify(r.shape)}`,
    `funnel: ${f.shoppers} shoppers -> ${f.issued} coupons issued -> ${f.ordersCreated} orders created -> ${f.ordersPaid} paid, ${f.ordersAbandoned} abandoned + ${f.ordersPaidTooLate} paid after their hold ended, ${f.ordersExpired} of these seen EXPIRED; units paid per product ${JSON.stringify(f.unitsPaidPerProduct)}`,
    `sold out (first refusal after the first arrival): ${
      Object.entries(r.soldOutAtMs)
        .map(([k, v]) => `${k} at ${secs(v)}`)
        .join('; ') || 'never'
    }`,
    `journeys done after ${secs(r.journeysMs)}, the last abandoned order expired by ${secs(r.expiredAtMs)}`,
    'worker backlogs (count, age of the oldest item):',
    ...lagRows,
    `Redis used_memory: ${mb(t.redisUsedBytesAtStart)} at the start, peak ${mb(t.redisPeakUsedBytes)}, ${mb(t.redisUsedBytesAtEnd)} at the end`,
    `Postgres (this run's database): ${t.pg.inserted} rows inserted, ${t.pg.updated} updated, ${t.pg.deleted} deleted, ${t.pg.commits} commits; peak ${Math.round(peak((x) => x.pgRowsPerSec))} rows/s, ${Math.round(peak((x) => x.pgCommitsPerSec))} commits/s`,
    `Redis commands: ${Object.entries(t.redisCalls)
      .slice(0, 8)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `CPU over the run (ms): ${Object.entries(t.cpuMs)
      .map(([k, v]) => `${k} ${Math.round(v)}`)
      .join(', ')} (postgres = every Postgres process of the machine, shared)`,
    `per answer (${pa.answers}): API ${pa.apiCpuUs.toFixed(0)} µs CPU, Redis ${pa.redisCpuUs.toFixed(0)} µs, worker ${pa.workerCpuUs.toFixed(0)} µs; ${pa.redisCalls.toFixed(2)} Redis commands, ${pa.pgRows.toFixed(2)} Postgres rows, ${pa.pgCommits.toFixed(2)} commits`,
    `report: ${file}`,
  ];
}

function writeReport(r: SaleReport): string {
  const dir = path.join(ROOT, 'loadtests/results');
  mkdirSync(dir, { recursive: true });
  return path.relative(ROOT, writeSaleReport(path.join(dir, `sale-${r.runId}`), r));
}
