// `pnpm bench`: one run, one machine, one table. Measures the rows of rows.ts, checks the
// invariants, judges the targets (targets.ts), writes docs/benchmarks.{json,md}. Options: cli.ts.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, startApi } from '../../test/processes.ts';
import { checkCoupons, checkPayments } from '../lib/invariants.ts';
import { fmt } from '../lib/load.ts';
import { summarizeProfiles } from '../lib/profile.ts';
import { log, settings, wanted } from './cli.ts';
import {
  type Ctx,
  checkStockVia,
  RESULTS_DIR,
  type RowDef,
  setup,
  unpersisted,
  untilDrained,
  withChild,
} from './harness.ts';
import { type BenchReport, type BenchRow, machineOf, type RoundStat, renderMarkdown } from './report.ts';
import { ROWS } from './rows.ts';
import { judge } from './targets.ts';
import { stopCluster } from './topology.ts';

const none = Number.NaN;
/** What a row that is not an HTTP window (rows/s, calls/s, tx/s) leaves out. */
const EMPTY = { p50: none, p95: none, p99: none, max: none, errors: 0, vsBare: null, vsNaive: null };

/** Every row, then the `rounds` rows again; the table keeps each row's best (other work only slows). */
async function runRows(ctx: Ctx, rows: RowDef[]) {
  const table: BenchRow[] = [];
  const rounds: Record<string, RoundStat>[] = [];
  const us = (n: number | undefined) => Math.round(n ?? none);
  for (let round = 0; round < Math.max(1, settings.rounds); round++) {
    const stats: Record<string, RoundStat> = {};
    for (const { id, label, kind, unit = 'req/s', note, ...def } of rows.filter((d) => !round || d.rounds)) {
      log(`--- ${id}${round > 0 ? ` (round ${round + 1})` : ''}`);
      const { okWithWarmup: _, ...measured } = await def.run(ctx, round, id);
      const r: BenchRow = { id, label, kind, unit, note, ...EMPTY, ...measured };
      const cpu = `server ${us(r.serverCpuUs)}, Redis ${us(r.redisCpuUs)}, Postgres ${us(r.postgresCpuUs)}, load generator ${us(r.loadgenCpuUs)}`;
      log(
        `${label}: ${fmt.rps(r.rps)} ${unit}, p50 ${fmt.ms(r.p50)} ms, p99 ${fmt.ms(r.p99)} ms, errors ${r.errors}, CPU µs/req: ${cpu}`,
      );
      if (def.rounds) stats[id] = { rps: r.rps, p99: r.p99, serverCpuUs: r.serverCpuUs };
      const i = table.findIndex((x) => x.id === id);
      if (i < 0) table.push(r);
      else if (r.rps > table[i]!.rps) table[i] = r;
    }
    rounds.push(stats);
  }
  return { table, rounds };
}

/** After every order and issuance is persisted: the stores against each other and the clients. */
async function checkInvariants(ctx: Ctx): Promise<string[]> {
  const coupons = [...ctx.coupons].map(([id, { couponId, quantity }]) => {
    return { couponId, quantity, label: `${id} row`, seen: ctx.seen.get(couponId), drained: true };
  });
  const violations = await checkCoupons(ctx.db, ctx.redis, ctx.keys, coupons);
  violations.push(
    ...(await withChild(startApi(ctx.run.env), (api) => checkStockVia(api, ctx.db, ctx.products))),
  );
  violations.push(...(await checkPayments(ctx.db)));
  return violations;
}

const writeJson = (file: string, report: BenchReport) =>
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);

/** docs/benchmarks.md in the project's format (Biome pads the tables), so lint stays clean. */
function writeMarkdown(report: BenchReport): void {
  const file = path.join(ROOT, 'docs/benchmarks.md');
  writeFileSync(file, renderMarkdown(report));
  spawnSync(path.join(ROOT, 'node_modules/.bin/biome'), ['format', '--write', file], { stdio: 'ignore' });
}

async function main(): Promise<void> {
  if (settings.render) {
    const file = path.join(ROOT, 'docs/benchmarks.json');
    const saved = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
    saved.targets = judge(saved);
    writeJson(file, saved);
    writeMarkdown(saved);
    return log('rendered docs/benchmarks.md from docs/benchmarks.json');
  }
  const started = Date.now();
  const loadAtStart = os.loadavg()[0]!;
  if (settings.profile) rmSync(path.join(RESULTS_DIR, 'profiles'), { recursive: true, force: true });
  const rows = ROWS.filter(wanted);
  const ctx = await setup(rows);
  let result: Awaited<ReturnType<typeof runRows>>;
  let violations: string[];
  try {
    result = await runRows(ctx, rows);
    const coupons = [...ctx.coupons.values()].map((c) => c.couponId);
    await untilDrained(ctx.run.env, unpersisted(ctx, ctx.redis, coupons), 'orders and issuances left');
    violations = [...ctx.violations, ...(await checkInvariants(ctx))];
  } finally {
    stopCluster();
    await ctx.redis.quit();
    await ctx.db.end();
    if (!settings.keep) await ctx.run.cleanup();
  }

  const { connections, durationSec, warmupSec, drainN, rounds } = settings;
  const rate = (id: string, r: BenchRow) => {
    const base = result.table.find((x) => x.id === id);
    // Rows/s, tx/s and a sale's answers/s (set by its arrivals) are not requests of a closed loop.
    return base && (r.unit === 'req/s' || r.unit === 'calls/s') ? r.rps / base.rps : null;
  };
  const report: BenchReport = {
    generatedAt: new Date().toISOString(),
    machine: machineOf(loadAtStart),
    settings: { connections, durationSec, warmupSec, drainN, rounds },
    rows: result.table.map((r) => ({ ...r, vsBare: rate('bare', r), vsNaive: rate('naive', r) })),
    rounds: result.rounds,
    targets: [],
    violations,
    totalSec: (Date.now() - started) / 1000,
  };
  report.targets = judge(report);
  console.log(`\n${renderMarkdown(report)}`);
  if (settings.profile) console.log(summarizeProfiles(path.join(RESULTS_DIR, 'profiles')));
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeJson(path.join(RESULTS_DIR, 'bench-latest.json'), report);
  if (settings.write) {
    writeJson(path.join(ROOT, 'docs/benchmarks.json'), report);
    writeMarkdown(report);
    log('wrote docs/benchmarks.json and docs/benchmarks.md');
  }
  if (violations.length > 0) {
    console.error(`[bench] ${violations.length} invariant violations`);
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
