// The HTML report of `pnpm loadtest sale` (loadtests/node/sale.ts writes the JSON it is built
// from): a verdict first (PASS or FAIL and the thresholds and invariants that decided it), then
// what ran, the answers by step, the funnel and the charts, in words an operator reads.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type * as sale from '../scenarios/sale.js';
import type { judgeFairness } from './fairness.ts';
import type { MonitorTotals, Sample } from './monitor.ts';
import { type Attribution, attribute, procedureOwners, queueOwners } from './profile.ts';
import { type Check, COLORS, esc, htmlPage, htmlTable, num, svgChart, verdictBanner } from './report-html.ts';

type Step = sale.Step;

export type SaleReport = {
  runId: string;
  startedAt: string;
  shape: sale.Shape;
  sockets: number;
  funnel: {
    shoppers: number;
    /** Behind a waiting room: shoppers who got their pass. */
    admitted?: number;
    issued: number;
    ordersCreated: number;
    ordersPaid: number;
    ordersAbandoned: number;
    ordersExpired: number;
    unitsPaidPerProduct: number[];
  };
  soldOutAtMs: Record<string, number>;
  journeysMs: number;
  expiredAtMs: number;
  /** Per step, how many answers of each outcome: ok, an expected refusal's appCode, UNAVAILABLE, RATE_LIMITED, unexpected. */
  outcomes: Record<Step, Record<string, number>>;
  steps: Record<string, { n: number; p50: number; p95: number; p99: number; max: number }>;
  perSecond: ({ ok: number; refused: number; unexpected: number } & Partial<Record<Step, number>>)[];
  samples: Sample[];
  totals: MonitorTotals;
  /** Per answer: CPU µs of each process, Redis commands, Postgres rows and commits. */
  perAnswer: {
    answers: number;
    apiCpuUs: number;
    redisCpuUs: number;
    workerCpuUs: number;
    postgresCpuUs: number;
    redisCalls: number;
    pgRows: number;
    pgCommits: number;
  };
  /** The load generator's own CPU over the journeys (ms, and cores busy). */
  loadgen: { cpuMs: number; coresBusy: number };
  /** Behind a waiting room (`--waiting-room`): fairness, waits, looks and the room's Redis memory. */
  room?: {
    roomId: number;
    fairness: ReturnType<typeof judgeFairness> & { positionsUp: number };
    waits: { admitted: number; p50: number; p99: number; longest: number };
    looksPerShopper: { mean: number; most: number };
    memory?: { bytes: number; tickets: number; waiting: number; atMs: number; bytesPerShopper: number };
    violations: string[];
  };
  /** Where each answer's time went (`withProfile`), when the API and worker ran with --cpu-prof. */
  profile?: {
    api: Attribution & { cpuMs: number; answers: Record<string, number> };
    worker: Attribution & { cpuMs: number; items: Record<string, number> };
  };
  verdict?: {
    thresholds: { name: string; value: string; ok: boolean }[];
    /** The closing checks through the API (scenarios/sale.js verdict). */
    violations: string[];
    /** The runner's Postgres and Redis checks after the worker drained; absent until they ran. */
    storeViolations?: string[];
  };
};

const STEP_LABELS: Record<string, string> = {
  issue: 'coupon.issue (claim the coupon)',
  order: 'order.create (order one unit)',
  charge: 'balance.charge (top up)',
  pay: 'payment.pay (pay the order)',
};

const OUTCOME_LABELS: Record<string, string> = {
  COUPON_SOLD_OUT: 'coupon sold out',
  OUT_OF_STOCK: 'out of stock',
  ORDER_EXPIRED: 'order expired before payment',
};

const FUNNEL_LABELS: Record<keyof SaleReport['funnel'], string> = {
  shoppers: 'Shoppers who arrived',
  admitted: 'Shoppers admitted by the waiting room',
  issued: 'Coupons issued',
  ordersCreated: 'Orders created',
  ordersPaid: 'Orders paid',
  ordersAbandoned: 'Orders left unpaid on purpose (abandoned)',
  ordersExpired: 'Abandoned orders found EXPIRED at the end',
  unitsPaidPerProduct: 'Units paid, per product',
};

const BACKLOG_LABELS: Record<string, string> = {
  'coupon-persist': 'coupon issuances to persist',
  'order-persist': 'orders to save',
  'order-expiry': 'orders due to expire',
  'outbox-export': 'paid orders to export',
};
const backlogLabel = (name: string) =>
  BACKLOG_LABELS[name] ?? (name.startsWith('queue ') ? `queue ${name.slice(6)}: jobs` : name);

const BACKLOG_NOTE =
  'What the worker has not done yet, where it waits. "coupon issuances to persist" (coupon-persist) are the issuances themselves: entries of the coupons\' pending streams in Redis, data the worker still has to write to Postgres. ' +
  '"queue coupon-persist: jobs" are BullMQ jobs waiting in the coupon-persist queue: triggers that tell the worker to drain a coupon, at most one per coupon at a time, so that line stays near 0 even while thousands of issuances wait. ' +
  'The other "queue …" lines are the same for their queues. Orders to save: answered from Redis, not yet in Postgres; orders due to expire: unpaid past their hold; paid orders to export: not yet sent to the data platform.';

export const secs = (ms: number | undefined) =>
  ms === undefined || !Number.isFinite(ms) ? '–' : `${(ms / 1000).toFixed(2)} s`;
const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;

/** Every check that decides the run, and those not run yet. */
export function saleChecks(r: SaleReport): { checks: Check[]; pending: string[] } {
  const v = r.verdict;
  if (!v) return { checks: [], pending: ['no verdict recorded in this report'] };
  const checks: Check[] = v.thresholds.map((t) => ({
    name: `Threshold: ${t.name}`,
    ok: t.ok,
    detail: t.value,
  }));
  const shown = (list: string[]) =>
    list.length === 0
      ? 'all held'
      : `${list.length} violated: ${list.slice(0, 3).join('; ')}${list.length > 3 ? '; …' : ''}`;
  checks.push({
    name: 'Invariants through the API (retries answered alike, abandoned orders expired, stock on offer = stocked − paid, no more coupons than exist)',
    ok: v.violations.length === 0,
    detail: shown(v.violations),
  });
  const pending: string[] = [];
  if (v.storeViolations) {
    checks.push({
      name: 'Invariants in Postgres and Redis after the worker drained (coupons, stock, payments)',
      ok: v.storeViolations.length === 0,
      detail: shown(v.storeViolations),
    });
  } else {
    pending.push(
      'Invariants in Postgres and Redis: not run (pnpm loadtest runs them after the sale and updates this report)',
    );
  }
  return { checks, pending };
}

export function renderSaleReport(r: SaleReport, json = `sale-${r.runId}.json`): string {
  const s = r.shape;
  const { checks, pending } = saleChecks(r);
  const ran = `${num(s.users)} shoppers arrived within ${s.durationSec} s for ${num(s.coupons)} coupons and ${s.products} products of ${num(s.stock)} units each; unpaid orders were held ${s.holdSeconds} s. ${s.abandonPct}% of shoppers abandon their order, ${s.retryPct}% send their order and payment twice, ${s.keyedPct}% use idempotency keys; ${num(r.sockets)} sockets. Started ${r.startedAt}.`;

  const answerRows: (string | number)[][] = [
    [
      'Step',
      'Answers',
      'OK',
      'Refused as expected',
      'Shed (UNAVAILABLE, RATE_LIMITED)',
      'Unexpected',
      'p50 ms',
      'p95 ms',
      'p99 ms',
      'max ms',
    ],
  ];
  for (const [step, stat] of Object.entries(r.steps)) {
    const outcomes = r.outcomes[step as Step] ?? {};
    const expected = Object.entries(outcomes).filter(([k]) => OUTCOME_LABELS[k] !== undefined);
    const shed = (outcomes.UNAVAILABLE ?? 0) + (outcomes.RATE_LIMITED ?? 0);
    answerRows.push([
      STEP_LABELS[step] ?? step,
      stat.n,
      outcomes.ok ?? 0,
      expected.length === 0 ? 0 : expected.map(([k, n]) => `${num(n)} ${OUTCOME_LABELS[k]}`).join(', '),
      shed,
      outcomes.unexpected ?? 0,
      stat.p50,
      stat.p95,
      stat.p99,
      stat.max,
    ]);
  }

  const f = r.funnel;
  const funnel = htmlTable(
    [
      ['', 'Count'],
      ...(Object.keys(FUNNEL_LABELS) as (keyof SaleReport['funnel'])[])
        .filter((k) => f[k] !== undefined)
        .map((k) => [
          FUNNEL_LABELS[k],
          Array.isArray(f[k])
            ? (f[k] as number[]).map((n, i) => `product ${i + 1}: ${num(n)}`).join(', ')
            : (f[k] as number),
        ]),
    ],
    'Funnel',
  );

  const soldOut = Object.entries(r.soldOutAtMs).map(([k, v]) => {
    const product = /^OUT_OF_STOCK product (\d+)/.exec(k);
    const label = product
      ? `Product ${product[1]} out of stock`
      : k === 'COUPON_SOLD_OUT'
        ? 'Coupons sold out'
        : k === 'ORDER_EXPIRED'
          ? 'First payment refused because the order had expired'
          : k;
    return [label, secs(v)];
  });

  const per = (pick: (b: SaleReport['perSecond'][number]) => number): [number, number][] =>
    r.perSecond.map((b, i) => [i, pick(b)]);
  const at = (x: Sample) => x.t / 1000;
  const names = Object.keys(r.samples[0]?.backlogs ?? {});
  const cpuNames = Object.keys(r.samples[0]?.cpu ?? {});
  const charts = [
    svgChart(
      'Answers per second',
      [
        { name: 'answered OK', color: COLORS[1]!, points: per((b) => b.ok) },
        { name: 'refused as expected (sold out, expired)', color: COLORS[3]!, points: per((b) => b.refused) },
        { name: 'unexpected or shed', color: COLORS[2]!, points: per((b) => b.unexpected) },
        ...(['issue', 'order', 'charge', 'pay'] as const).map((step, i) => ({
          name: `${step} OK`,
          color: COLORS[4 + i]!,
          points: per((b) => b[step] ?? 0),
        })),
      ],
      { unit: 'answers/s', note: 'Refusals the sale expects are answers, not errors.' },
    ),
    svgChart(
      'Worker backlogs: items waiting',
      names.map((name, i) => ({
        name: backlogLabel(name),
        color: COLORS[i % COLORS.length]!,
        points: r.samples.map((x) => [at(x), x.backlogs[name]?.count ?? 0]),
      })),
      { unit: 'items', note: BACKLOG_NOTE },
    ),
    svgChart(
      'Worker lag: age of the oldest waiting item',
      names.map((name, i) => ({
        name: backlogLabel(name),
        color: COLORS[i % COLORS.length]!,
        points: r.samples.map((x) => [at(x), (x.backlogs[name]?.oldestMs ?? 0) / 1000]),
      })),
      { unit: 'seconds', format: (v) => `${num(v)} s` },
    ),
    svgChart(
      "Postgres writes (this run's database)",
      [
        { name: 'rows written/s', color: COLORS[0]!, points: r.samples.map((x) => [at(x), x.pgRowsPerSec]) },
        { name: 'commits/s', color: COLORS[3]!, points: r.samples.map((x) => [at(x), x.pgCommitsPerSec]) },
      ],
      { unit: 'per second' },
    ),
    svgChart(
      'Redis memory (used_memory)',
      [
        {
          name: 'used_memory',
          color: COLORS[2]!,
          points: r.samples.map((x) => [at(x), x.redisUsedBytes / 1048576]),
        },
      ],
      { unit: 'MB', format: (v) => `${num(v)} MB` },
    ),
    svgChart(
      'CPU by process',
      cpuNames.map((name, i) => ({
        name,
        color: COLORS[i % COLORS.length]!,
        points: r.samples.map((x) => [at(x), (x.cpu[name] ?? 0) / 10]),
      })),
      {
        unit: '% of one core',
        format: (v) => `${num(v)}%`,
        note: 'postgres is every Postgres process of the machine, shared with anything else running.',
      },
    ),
  ];

  const t = r.totals;
  const pa = r.perAnswer;
  const resources = htmlTable(
    [
      ['', 'Over the run'],
      [
        'Redis memory: start, peak, end',
        `${mb(t.redisUsedBytesAtStart)}, ${mb(t.redisPeakUsedBytes)}, ${mb(t.redisUsedBytesAtEnd)}`,
      ],
      [
        'Postgres rows inserted, updated, deleted',
        `${num(t.pg.inserted)}, ${num(t.pg.updated)}, ${num(t.pg.deleted)}`,
      ],
      ['Postgres commits', t.pg.commits],
      [
        'CPU time by process',
        Object.entries(t.cpuMs)
          .map(([k, v]) => `${k} ${num(v / 1000)} s`)
          .join(', '),
      ],
      [
        'Most used Redis commands',
        Object.entries(t.redisCalls)
          .slice(0, 6)
          .map(([k, v]) => `${k} ${num(v)}`)
          .join(', '),
      ],
      [
        `Per answer (${num(pa.answers ?? 0)} answers): CPU`,
        `API ${num(pa.apiCpuUs ?? Number.NaN, 0)} µs, Redis ${num(pa.redisCpuUs ?? Number.NaN, 0)} µs, worker ${num(pa.workerCpuUs ?? Number.NaN, 0)} µs`,
      ],
      [
        'Per answer: Redis commands, Postgres rows, commits',
        `${num(pa.redisCalls ?? Number.NaN, 2)}, ${num(pa.pgRows ?? Number.NaN, 2)}, ${num(pa.pgCommits ?? Number.NaN, 2)}`,
      ],
    ],
    'Resources',
  );

  return htmlPage(`Sale rehearsal ${r.runId}`, [
    verdictBanner(checks, pending),
    `<p><b>What ran:</b> ${esc(ran)}</p>`,
    `<p>Every shopper's journey ended ${secs(r.journeysMs)} after the first arrival; the last abandoned order had expired by ${secs(r.expiredAtMs)}.</p>`,
    htmlTable(answerRows, 'Answers by step'),
    funnel,
    soldOut.length > 0
      ? htmlTable([['Sold out', 'after the first arrival'], ...soldOut], 'When things ran out')
      : '<p>Nothing sold out.</p>',
    ...charts,
    resources,
    ...(r.profile ? profileTables(r.profile) : []),
    `<p>Every number of this report, and the samples behind the charts: <a href="${esc(json)}">${esc(json)}</a>.</p>`,
  ]);
}

/** Writes the report's JSON and HTML next to each other (`<base>.json`, `<base>.html`); returns the HTML's path. */
export function writeSaleReport(base: string, r: SaleReport): string {
  writeFileSync(`${base}.json`, JSON.stringify(r, null, 2));
  writeFileSync(`${base}.html`, renderSaleReport(r, `${path.basename(base)}.json`));
  return `${base}.html`;
}

/**
 * Adds the runner's Postgres and Redis checks to a written report (its `.json` path) and renders
 * it again, so the headline counts every invariant.
 */
export function addStoreChecks(jsonPath: string, storeViolations: string[]): string {
  const r = JSON.parse(readFileSync(jsonPath, 'utf8')) as SaleReport;
  r.verdict = { thresholds: [], violations: [], ...r.verdict, storeViolations };
  return writeSaleReport(path.join(path.dirname(jsonPath), path.basename(jsonPath, '.json')), r);
}

/** Which procedure answers each step of the journey. */
const PROCEDURE_OF: Record<string, string> = {
  issue: 'coupon.issue',
  order: 'order.create',
  charge: 'balance.charge',
  pay: 'payment.pay',
  join: 'waitingRoom.join',
  get: 'waitingRoom.get',
  status: 'waitingRoom.status',
};

/** What the worker's items are, per queue, counted in Postgres at the end of the run. */
export const QUEUE_ITEMS: Record<string, string> = {
  'coupon-persist': 'SELECT count(*)::int AS n FROM issued_coupons',
  'order-persist': 'SELECT count(*)::int AS n FROM orders',
  'order-expiry': "SELECT count(*)::int AS n FROM orders WHERE status = 'EXPIRED'",
  'outbox-export': 'SELECT count(*)::int AS n FROM outbox WHERE published_at IS NOT NULL',
};

export const PROFILE_METHOD =
  'The API and the worker ran with node --cpu-prof (V8 samples the main thread about once a millisecond); the profiles cover each process from start to stop. ' +
  "A busy sample counts for an API procedure when its stack holds that procedure's lines in its router file or a packages/core function the procedure calls (an async function's continuation keeps its own frame, so the work after each await counts too); " +
  "for a worker queue when its stack holds the queue's folder, a core module it imports or a function it calls. The innermost such frame decides. " +
  'What no procedure claims (HTTP and tRPC, token checks and limits, the drivers reading and writing sockets, garbage collection, helpers below an await) serves every call and is listed apart, per answer of the whole run. ' +
  'Worker items are what each queue produced, counted in Postgres at the end: issuances persisted, orders saved, orders expired, paid orders exported. The process CPU (all threads, /proc) is beside the sampled main-thread time, so the sampled share can be judged.';

/** Attributes the run's CPU profiles (`<dir>/api`, `<dir>/worker`) and adds them to the report. */
export function withProfile(jsonPath: string, dir: string, items: Record<string, number>): SaleReport {
  const r = JSON.parse(readFileSync(jsonPath, 'utf8')) as SaleReport;
  const answers: Record<string, number> = {};
  for (const [step, stat] of Object.entries(r.steps)) answers[PROCEDURE_OF[step] ?? step] = stat.n;
  r.profile = {
    api: {
      ...attribute(path.join(dir, 'api'), procedureOwners()),
      cpuMs: r.totals.cpuMs.api ?? Number.NaN,
      answers,
    },
    worker: {
      ...attribute(path.join(dir, 'worker'), queueOwners()),
      cpuMs: r.totals.cpuMs.worker ?? Number.NaN,
      items,
    },
  };
  writeSaleReport(path.join(path.dirname(jsonPath), path.basename(jsonPath, '.json')), r);
  return r;
}

/** The profile as rows: name, ms sampled, count, µs per item (a bucket of the rest: per answer of the run). */
export function profileRows(p: NonNullable<SaleReport['profile']>) {
  const all = Object.values(p.api.answers).reduce((a, b) => a + b, 0);
  const rows = (a: Attribution, counts: Record<string, number>) => [
    ...Object.entries(a.byOwner)
      .sort((x, y) => y[1] - x[1])
      .map(([name, ms]) => ({
        name,
        ms,
        n: counts[name],
        us: counts[name] ? (ms * 1000) / counts[name] : Number.NaN,
      })),
    ...Object.entries(a.rest)
      .sort((x, y) => y[1] - x[1])
      // Start-up is paid once per process, not per answer.
      .map(([name, ms]) => ({
        name: `shared: ${name}`,
        ms,
        n: undefined,
        us: name.startsWith('start-up') ? Number.NaN : (ms * 1000) / all,
      })),
  ];
  return { all, api: rows(p.api, p.api.answers), worker: rows(p.worker, p.worker.items) };
}

function profileTables(p: NonNullable<SaleReport['profile']>): string[] {
  const { all, api, worker } = profileRows(p);
  const table = (head: string[], list: ReturnType<typeof profileRows>['api'], caption: string) =>
    htmlTable(
      [head, ...list.map((x) => [x.name, num(x.ms, 0), x.n === undefined ? '–' : num(x.n, 0), num(x.us, 0)])],
      caption,
    );
  return [
    `<p><b>Where each answer's time goes.</b> ${esc(PROFILE_METHOD)}</p>`,
    table(
      [
        'API procedure or shared work',
        'ms sampled',
        'answers',
        'µs per answer (shared: per answer of the run)',
      ],
      api,
      `API: ${num(p.api.busyMs, 0)} ms sampled busy over its life (process CPU during the sale: ${num(p.api.cpuMs, 0)} ms), ${num(all, 0)} answers`,
    ),
    table(
      ['Worker queue or shared work', 'ms sampled', 'items', 'µs per item (shared: per answer of the run)'],
      worker,
      `Worker: ${num(p.worker.busyMs, 0)} ms sampled busy over its life (process CPU during the sale: ${num(p.worker.cpuMs, 0)} ms)`,
    ),
  ];
}
