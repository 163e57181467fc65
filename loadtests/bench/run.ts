// `pnpm bench`: one run, one machine, one table. Measures the hot paths against two ceilings
// (the coupon Lua script alone, and a bare Fastify route running it), tRPC's own adapter and the
// naive `SELECT ... FOR UPDATE` baseline, then checks the invariants and writes
// docs/benchmarks.json and docs/benchmarks.md. Options: cli.ts. Rows: rows.ts. Targets: targets.ts.
// Where a row's Redis is (one, a primary with a replica, a cluster) is a parameter of the row
// (topology.ts); `--cluster` runs the cluster rows next to their one-Redis pairs.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, startApi, startWorker } from '../../test/processes.ts';
import { apiClient } from '../lib/client.ts';
import { checkCoupons, checkPayments, checkStock, type Violations } from '../lib/invariants.ts';
import { fmt, SILENCE_MS } from '../lib/load.ts';
import { summarizeProfiles } from '../lib/profile.ts';
import { generatorName, log, settings, wanted } from './cli.ts';
import { type Ctx, RESULTS_DIR, type RowDef, saveOrders, setup, withChild } from './harness.ts';
import { type BenchReport, type BenchRow, type RoundStat, renderMarkdown } from './report.ts';
import { ROWS } from './rows.ts';
import { judge } from './targets.ts';
import { stopCluster } from './topology.ts';

function logRow(row: BenchRow): void {
  const us = (n: number | undefined) => Math.round(n ?? Number.NaN);
  const gc = row.loadgenGc
    ? `, load generator GC ${row.loadgenGc.pauses} pauses, ${fmt.ms(row.loadgenGc.totalMs)} ms in all, longest ${fmt.ms(row.loadgenGc.longestMs)} ms`
    : '';
  const silences = row.silences
    ? `, ${row.silences.count} spells of ≥ ${SILENCE_MS} ms with no answer, longest ${fmt.ms(row.silences.longestMs)} ms`
    : '';
  log(
    `${row.label}: ${fmt.rps(row.rps)} ${row.unit}, p50 ${fmt.ms(row.p50)} ms, p99 ${fmt.ms(row.p99)} ms, errors ${row.errors}, CPU µs/req: server ${us(row.serverCpuUs)}, Redis ${us(row.redisCpuUs)}, Postgres ${us(row.postgresCpuUs)}, load generator ${us(row.loadgenCpuUs)}${gc}${silences}`,
  );
}

/**
 * Runs every wanted row once, then the `rounds` rows again (BENCH_ROUNDS in all), keeping each
 * row's best round in the table: other work on a shared machine can only slow a round down.
 */
async function runRows(ctx: Ctx, rows: RowDef[]) {
  const table: BenchRow[] = [];
  const rounds: Record<string, RoundStat>[] = [];
  for (let round = 0; round < Math.max(1, settings.rounds); round++) {
    const stats: Record<string, RoundStat> = {};
    for (const def of rows) {
      if (round > 0 && !def.rounds) continue;
      log(`--- ${def.id}${round > 0 ? ` (round ${round + 1})` : ''}`);
      const row = await def.run(ctx, round);
      logRow(row);
      if (def.rounds) stats[def.id] = { rps: row.rps, p99: row.p99, serverCpuUs: row.serverCpuUs };
      const before = table.findIndex((r) => r.id === def.id);
      if (before < 0) table.push(row);
      else if (row.rps > table[before]!.rps) table[before] = row;
    }
    rounds.push(stats);
  }
  return { table, rounds };
}

/** Persists everything the rows issued and ordered (not timed), so Postgres can be checked. */
async function catchUp(ctx: Ctx): Promise<void> {
  const ids = [...ctx.coupons.values()].map((c) => c.couponId);
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
  const violations = await checkCoupons(
    ctx.db,
    ctx.redis,
    ctx.keys,
    [...ctx.coupons].map(([rowId, { couponId, quantity }]) => ({
      couponId,
      quantity,
      label: `${rowId} row`,
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
    if (rows !== counted || rows < ctx.naiveOk || rows > ctx.naiveOk + 2 * settings.connections) {
      violations.push(`naive baseline: ${rows} rows, counter ${counted}, clients saw ${ctx.naiveOk}`);
    }
  }
  // What can still be ordered, through the API's product.get.
  const available = new Map<number, number>();
  await withChild(startApi(ctx.run.env), async (api) => {
    const client = apiClient(api.url);
    for (const p of ctx.products) {
      available.set(p.id, (await client.query<{ stock: number }>('product.get', { productId: p.id })).stock);
    }
  });
  violations.push(
    ...(await checkStock(
      ctx.db,
      ctx.products.map((p) => ({ id: p.id, initialStock: p.stock, available: available.get(p.id) ?? -1 })),
    )),
  );
  violations.push(...(await checkPayments(ctx.db)));
  return violations;
}

function withRatios(rows: BenchRow[]): BenchRow[] {
  const bare = rows.find((r) => r.id === 'bare');
  const naive = rows.find((r) => r.id === 'naive');
  return rows.map((r) => ({
    ...r,
    // Rows/s, tx/s and a sale's answers/s (set by its arrivals) are not requests of a closed loop.
    vsBare: bare && (r.unit === 'req/s' || r.unit === 'calls/s') ? r.rps / bare.rps : null,
    vsNaive: naive && (r.unit === 'req/s' || r.unit === 'calls/s') ? r.rps / naive.rps : null,
  }));
}

/** Writes docs/benchmarks.md in the project's format (Biome pads the tables), so lint stays clean. */
function writeMarkdown(markdown: string): void {
  const file = path.join(ROOT, 'docs/benchmarks.md');
  writeFileSync(file, markdown);
  spawnSync(path.join(ROOT, 'node_modules/.bin/biome'), ['format', '--write', file], { stdio: 'ignore' });
}

/** `--render`: docs/benchmarks.md again from docs/benchmarks.json, the targets judged again. */
function render(): void {
  const file = path.join(ROOT, 'docs/benchmarks.json');
  const saved = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
  const rounds = saved.rounds ?? [];
  saved.targets = judge({ ...saved, rounds });
  writeFileSync(file, `${JSON.stringify(saved, null, 2)}\n`);
  writeMarkdown(renderMarkdown({ ...saved, rounds }));
  log('rendered docs/benchmarks.md from docs/benchmarks.json');
}

function machineInfo(loadAtStart: number): BenchReport['machine'] {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadAverage: { start: loadAtStart, end: os.loadavg()[0]! },
  };
}

async function main(): Promise<void> {
  if (settings.render) return render();
  const started = Date.now();
  const loadAtStart = os.loadavg()[0]!;
  if (settings.profile) rmSync(path.join(RESULTS_DIR, 'profiles'), { recursive: true, force: true });
  const rows = ROWS.filter(wanted);
  const ctx = await setup(rows);
  let result: Awaited<ReturnType<typeof runRows>>;
  let violations: Violations;
  try {
    result = await runRows(ctx, rows);
    await catchUp(ctx);
    violations = [...ctx.violations, ...(await checkInvariants(ctx))];
  } finally {
    stopCluster();
    await ctx.redis.quit();
    await ctx.db.end();
    if (!settings.keep) await ctx.run.cleanup();
  }

  const report: BenchReport = {
    generatedAt: new Date().toISOString(),
    machine: machineInfo(loadAtStart),
    settings: {
      connections: settings.connections,
      durationSec: settings.durationSec,
      warmupSec: settings.warmupSec,
      drainN: settings.drainN,
      rounds: settings.rounds,
      generator: generatorName,
    },
    rows: withRatios(result.table),
    rounds: result.rounds,
    targets: [],
    violations,
    totalSec: (Date.now() - started) / 1000,
  };
  report.targets = judge(report);
  const markdown = renderMarkdown(report);
  console.log(`\n${markdown}`);
  if (settings.profile) console.log(summarizeProfiles(path.join(RESULTS_DIR, 'profiles')));
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(path.join(RESULTS_DIR, 'bench-latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  if (settings.write) {
    writeFileSync(path.join(ROOT, 'docs/benchmarks.json'), `${JSON.stringify(report, null, 2)}\n`);
    writeMarkdown(markdown);
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
