// The sale rehearsal's report, from the JSON node/sale.ts writes: the same tables on the console
// and in the HTML page (which adds the verdict headline and the chart of answers per second).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SaleReport } from '../node/sale.ts';
import { kindOf } from '../scenarios/sale.js';
import type { Sample } from './monitor.ts';
import { type Attribution, attribute, procedureOwners, queueOwners } from './profile.ts';
import { type Check, COLORS, esc, htmlPage, htmlTable, num, svgChart, verdictBanner } from './report-html.ts';

export type { SaleReport };

/** `note`: the page shows it under the title, the console leaves it out. */
type Table = { title: string; note?: string; rows: (string | number)[][] };

const secs = (ms: number | undefined) =>
  ms === undefined || !Number.isFinite(ms) ? '–' : `${(ms / 1000).toFixed(2)} s`;
const mb = (bytes: number) => `${num(bytes / 1048576)} MB`;
const list = (o: Record<string, number>, f = (v: number) => num(v)) =>
  Object.entries(o)
    .map(([k, v]) => `${k} ${f(v)}`)
    .join(', ');

/** Every check that decides the run, and those not run yet. */
export function saleChecks(r: SaleReport): { checks: Check[]; pending: string[] } {
  const v = r.verdict;
  const held = (name: string, l: string[]) => ({
    name,
    ok: l.length === 0,
    detail:
      l.length === 0
        ? 'all held'
        : `${l.length} violated: ${l.slice(0, 3).join('; ')}${l.length > 3 ? '; …' : ''}`,
  });
  const checks = [
    ...v.thresholds.map((t) => ({ name: `Threshold ${t.name}`, ok: t.ok, detail: t.value })),
    held(
      'Invariants through the API (retries answered alike, abandoned orders expired, stock on offer = stocked − paid, product.top, no more coupons than exist)',
      v.violations,
    ),
  ];
  if (!v.storeViolations) return { checks, pending: ['Invariants in Postgres and Redis: not run yet'] };
  const store = 'Invariants in Postgres and Redis after the worker drained (coupons, stock, payments)';
  return { checks: [...checks, held(store, v.storeViolations)], pending: [] };
}

/** The report's tables, for the console and the page alike. */
export function saleTables(r: SaleReport): Table[] {
  const tables: Table[] = [];
  const answers: Table['rows'] = [
    ['Step', 'Answers', 'OK', 'Refused', 'Shed', 'Unexpected', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'],
  ];
  for (const [step, st] of Object.entries(r.steps)) {
    const o = Object.entries(st.statusCounts);
    const of = (kind: string) => o.filter(([k]) => kindOf(k) === kind);
    const count = (kind: string) => of(kind).reduce((n, [, c]) => n + c, 0);
    const refused = of('refused').map(([k, n]) => `${num(n)} ${k}`);
    const { requests, p50, p95, p99, max } = st;
    answers.push([
      step,
      requests,
      count('ok'),
      refused.join(', ') || 0,
      count('shed'),
      count('unexpected'),
      p50,
      p95,
      p99,
      max,
    ]);
  }
  tables.push({
    title: 'Answers by step',
    note: 'Refused: the refusals the sale expects (sold out, expired); shed: UNAVAILABLE or RATE_LIMITED (thresholds count them, invariants do not).',
    rows: answers,
  });

  const f = r.funnel;
  tables.push({
    title: 'Funnel',
    rows: [
      ['', 'Count'],
      ['Shoppers who arrived', f.shoppers],
      ...(f.admitted === undefined ? [] : [['Admitted by the waiting room', f.admitted]]),
      ['Coupons issued', f.issued],
      ['Orders created', f.ordersCreated],
      ['Orders paid', f.ordersPaid],
      ['Orders abandoned (left unpaid on purpose)', f.ordersAbandoned],
      ['Abandoned orders seen EXPIRED at the end', f.ordersExpired],
      ['Units paid per product', f.unitsPaidPerProduct.join(', ')],
    ],
  });
  tables.push({
    title: 'Sold out (first refusal after the first arrival)',
    rows: [
      ['Refusal', 'After'],
      ...Object.entries(r.soldOutAtMs).map(([k, v]) => [k, secs(v)]),
      ['Every journey ended', secs(r.journeysMs)],
      ['The last abandoned order expired by', secs(r.expiredAtMs)],
    ],
  });

  if (r.room) {
    const { fairness: fair, waits, looksPerShopper: looks, memory } = r.room;
    tables.push({
      title: `Waiting room ${r.room.roomId}`,
      rows: [
        ['', ''],
        ['Rank correlation of join order vs admission order (required 1.0)', fair.spearman.toFixed(6)],
        [
          'Join-order breaks, admission inversions, positions that went up, room answers that went back (required 0)',
          `${fair.joinOrderBreaks}, ${fair.inversions}, ${fair.positionsUp}, ${fair.roomWentBack}`,
        ],
        [
          'Wait from join to pass: p50, p99, longest',
          `${secs(waits.p50)}, ${secs(waits.p99)}, ${secs(waits.longest)}`,
        ],
        ['Looks at the room per shopper: mean, most', `${looks.mean}, ${looks.most}`],
        [
          'Redis memory of the room when the last shopper had joined',
          memory
            ? `${num(memory.bytes)} bytes for ${num(memory.tickets)} tickets (${num(memory.waiting)} waiting, at ${secs(memory.atMs)}) = ${num(memory.bytesPerShopper)} bytes per shopper`
            : 'not measured',
        ],
      ],
    });
  }

  const during = r.samples.filter((x) => x.t <= r.journeysMs);
  const most = (name: string, pick: 'count' | 'oldestMs') =>
    Math.max(0, ...during.map((x) => x.backlogs[name]?.[pick] ?? 0));
  tables.push({
    title: 'Worker backlogs',
    note: 'coupon-persist: issuances in the pending streams; order-persist: orders answered from Redis, not yet saved; order-expiry: unpaid orders past their hold; outbox-export: paid orders not yet exported; queue …: BullMQ jobs waiting (one trigger per coupon, so near 0 while issuances wait).',
    rows: [
      ['Backlog', 'Most waiting during the sale', 'Oldest during the sale', 'Waiting at the end'],
      ...Object.keys(r.samples[0]?.backlogs ?? {}).map((name) => [
        name,
        most(name, 'count'),
        secs(most(name, 'oldestMs')),
        r.samples.at(-1)?.backlogs[name]?.count ?? '–',
      ]),
    ],
  });

  const t = r.totals;
  const pa = r.perAnswer;
  const peak = (pick: (x: Sample) => number) => num(Math.max(0, ...r.samples.map(pick)), 0);
  tables.push({
    title: 'Resources over the run',
    rows: [
      ['', ''],
      [
        'Redis used_memory: start, peak, end',
        `${mb(t.redisUsedBytesAtStart)}, ${mb(t.redisPeakUsedBytes)}, ${mb(t.redisUsedBytesAtEnd)}`,
      ],
      [
        "Postgres (the run's database): rows inserted, updated, deleted; commits",
        `${num(t.pg.inserted)}, ${num(t.pg.updated)}, ${num(t.pg.deleted)}; ${num(t.pg.commits)}`,
      ],
      [
        'Postgres peak per second: rows written, commits',
        `${peak((x) => x.pgRowsPerSec)}, ${peak((x) => x.pgCommitsPerSec)}`,
      ],
      ['Redis commands', list(Object.fromEntries(Object.entries(t.redisCalls).slice(0, 8)))],
      [
        'CPU ms by process (postgres: every Postgres process of the machine, shared)',
        `${list(t.cpuMs, (v) => num(v, 0))}; load generator ${num(r.loadgen.cpuMs, 0)} (${r.loadgen.coresBusy.toFixed(2)} cores)`,
      ],
      [
        `Per answer (${num(pa.answers)}): CPU µs`,
        `API ${num(pa.apiCpuUs, 0)}, Redis ${num(pa.redisCpuUs, 0)}, worker ${num(pa.workerCpuUs, 0)}, postgres ${num(pa.postgresCpuUs, 0)}`,
      ],
      [
        'Per answer: Redis commands, Postgres rows, commits',
        [pa.redisCalls, pa.pgRows, pa.pgCommits].map((v) => v.toFixed(2)).join(', '),
      ],
    ],
  });
  if (r.profile) tables.push(...profileTables(r.profile));
  return tables;
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

const PROFILE_METHOD =
  'The API and the worker ran with node --cpu-prof (V8 samples the main thread about once a millisecond, from start to stop). ' +
  "A busy sample counts for an API procedure when its stack holds the procedure's lines in its router file or a packages/core function those lines call (an async function's continuation keeps its frame); " +
  "for a worker queue when it holds the queue's folder or a core module or function it imports. The innermost such frame decides. " +
  'The rest serves every call (HTTP and tRPC, the drivers, garbage collection) and is shown per answer of the whole run. ' +
  'Worker items are counted in Postgres at the end; the process CPU (all threads) is beside the sampled main-thread time.';

function profileTables(p: NonNullable<SaleReport['profile']>): Table[] {
  const all = Object.values(p.api.answers).reduce((a, b) => a + b, 0);
  const rows = (a: Attribution, counts: Record<string, number>) => [
    ...Object.entries(a.byOwner)
      .sort((x, y) => y[1] - x[1])
      .map(([name, ms]) => [
        name,
        num(ms, 0),
        counts[name] ?? '–',
        counts[name] ? num((ms * 1000) / counts[name], 0) : '–',
      ]),
    // Start-up is paid once per process, not per answer.
    ...Object.entries(a.rest)
      .sort((x, y) => y[1] - x[1])
      .map(([name, ms]) => [
        `shared: ${name}`,
        num(ms, 0),
        '–',
        name.startsWith('start-up') ? '–' : num((ms * 1000) / all, 0),
      ]),
  ];
  const head = (what: string, per: string) => [
    what,
    'ms sampled',
    `${per}s`,
    `µs per ${per} (shared: per answer of the run)`,
  ];
  return [
    {
      title: `Where the API's time went: ${num(p.api.busyMs, 0)} ms sampled busy, process CPU ${num(p.api.cpuMs, 0)} ms, ${num(all)} answers`,
      note: PROFILE_METHOD,
      rows: [head('API procedure or shared work', 'answer'), ...rows(p.api, p.api.answers)],
    },
    {
      title: `Where the worker's time went: ${num(p.worker.busyMs, 0)} ms sampled busy, process CPU ${num(p.worker.cpuMs, 0)} ms`,
      rows: [head('Worker queue or shared work', 'item'), ...rows(p.worker, p.worker.items)],
    },
  ];
}

function whatRan(r: SaleReport): string {
  const s = r.shape;
  return `${num(s.users)} shoppers arrived within ${s.durationSec} s for ${num(s.coupons)} coupons and ${s.products} products of ${num(s.stock)} units; unpaid orders held ${s.holdSeconds} s; ${s.abandonPct}% abandon, ${s.retryPct}% send order and payment twice, ${s.keyedPct}% use idempotency keys${r.room ? `; a waiting room admitting ${num(s.admitPerSecond)} a second` : ''}; ${num(r.sockets)} sockets. Started ${r.startedAt}.`;
}

export function renderSaleReport(r: SaleReport, json: string): string {
  const { checks, pending } = saleChecks(r);
  const per = (pick: (b: SaleReport['perSecond'][number]) => number): [number, number][] =>
    r.perSecond.map((b, i) => [i, pick(b)]);
  const chart = svgChart(
    'Answers per second',
    [
      { name: 'answered OK', color: COLORS[1]!, points: per((b) => b.ok) },
      { name: 'refused as expected (sold out, expired)', color: COLORS[3]!, points: per((b) => b.refused) },
      { name: 'unexpected or shed', color: COLORS[2]!, points: per((b) => b.unexpected) },
      ...['issue', 'order', 'charge', 'pay'].map((step, i) => ({
        name: `${step} OK`,
        color: COLORS[4 + i]!,
        points: per((b) => b[step] ?? 0),
      })),
    ],
    { unit: 'answers/s', note: 'Refusals the sale expects are answers, not errors.' },
  );
  return htmlPage(`Sale rehearsal ${r.runId}`, [
    verdictBanner(checks, pending),
    `<p><b>What ran:</b> ${esc(whatRan(r))}</p>`,
    chart,
    ...saleTables(r).map((t) => (t.note ? `<p>${esc(t.note)}</p>` : '') + htmlTable(t.rows, t.title)),
    `<p>Every number of this report, and the samples behind it: <a href="${esc(json)}">${esc(json)}</a>.</p>`,
  ]);
}

/** The tables and the checks as console lines. */
export function saleText(r: SaleReport, invariantsOnly = false): string {
  const lines = [`what ran: ${whatRan(r)}`];
  for (const t of saleTables(r)) {
    lines.push('', `${t.title}:`);
    const rows = t.rows.filter((row, i) => i > 0 || row.some((c) => c !== ''));
    for (const row of rows.slice(0, 16))
      lines.push(`| ${row.map((c) => (typeof c === 'number' ? num(c) : c)).join(' | ')} |`);
    if (rows.length > 16) lines.push(`  … ${rows.length - 16} more rows in the report`);
  }
  lines.push(
    '',
    invariantsOnly ? 'verdict (--invariants-only: latency is reported, not judged):' : 'verdict:',
  );
  for (const c of saleChecks(r).checks) lines.push(`  ${c.ok ? '✓' : '✗'} ${c.name}: ${c.detail}`);
  return lines.join('\n');
}

/** Writes the report's JSON and HTML (`<base>.json`, `<base>.html`); returns the HTML's path. */
export function writeSaleReport(base: string, r: SaleReport): string {
  writeFileSync(`${base}.json`, JSON.stringify(r, null, 2));
  writeFileSync(`${base}.html`, renderSaleReport(r, `${path.basename(base)}.json`));
  return `${base}.html`;
}

/**
 * Adds what the runner learnt after the sale to a written report (its `.json`): the Postgres and
 * Redis checks, and, from the CPU profiles under `profiles` (`api/`, `worker/`), the profile.
 */
export function finishReport(
  jsonPath: string,
  storeViolations: string[],
  profiles?: { dir: string; items: Record<string, number> },
): SaleReport {
  const r = JSON.parse(readFileSync(jsonPath, 'utf8')) as SaleReport;
  r.verdict.storeViolations = storeViolations;
  if (profiles) {
    const answers: Record<string, number> = {};
    for (const [step, st] of Object.entries(r.steps))
      if (PROCEDURE_OF[step]) answers[PROCEDURE_OF[step]] = st.requests;
    r.profile = {
      api: {
        ...attribute(path.join(profiles.dir, 'api'), procedureOwners()),
        cpuMs: r.totals.cpuMs.api ?? Number.NaN,
        answers,
      },
      worker: {
        ...attribute(path.join(profiles.dir, 'worker'), queueOwners()),
        cpuMs: r.totals.cpuMs.worker ?? Number.NaN,
        items: profiles.items,
      },
    };
  }
  writeSaleReport(jsonPath.replace(/\.json$/, ''), r);
  return r;
}
