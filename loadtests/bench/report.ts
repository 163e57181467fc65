// The benchmark's report: its JSON shape and docs/benchmarks.md, generated from the JSON of a run
// and followed by the hand-written page on how to read it (how-to-read.md beside this file).
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fmt, type LoadStats, SILENCE_MS } from '../lib/load.ts';

/** CPU per request in the measured window, µs: the server (all threads), Redis, every Postgres process, autocannon. */
export type CpuPerRequest = Partial<
  Record<'serverCpuUs' | 'redisCpuUs' | 'postgresCpuUs' | 'loadgenCpuUs', number>
>;

export type BenchRow = Omit<LoadStats, 'statusCounts'> &
  Partial<Pick<LoadStats, 'statusCounts'>> &
  CpuPerRequest & {
    id: string;
    label: string;
    kind: 'ceiling' | 'baseline' | 'ours' | 'reference' | 'worker';
    unit: 'req/s' | 'calls/s' | 'rows/s' | 'tx/s' | 'answers/s';
    note?: string;
    /** rps over the bare route's and the naive baseline's in the same run. */
    vsBare: number | null;
    vsNaive: number | null;
  };

/** One row in one round: what the targets compare within a round. */
export type RoundStat = { rps: number; p99: number; serverCpuUs?: number };

export type TargetResult = { target: string; measured: string; met: boolean };

export type BenchReport = {
  generatedAt: string;
  machine: ReturnType<typeof machineOf>;
  settings: { connections: number; durationSec: number; warmupSec: number; drainN: number; rounds?: number };
  rows: BenchRow[];
  /** The rows measured in every round, round by round (the first is the main pass). */
  rounds?: Record<string, RoundStat>[];
  targets: TargetResult[];
  violations: string[];
  totalSec: number;
};

/** The machine of a run; the 1-minute load average at its start and end shows other work on it. */
export function machineOf(loadAtStart: number) {
  const [cpus, platform] = [os.cpus(), `${os.platform()} ${os.release()}`];
  const [cpuModel, memoryGiB] = [cpus[0]?.model ?? 'unknown', Math.round(os.totalmem() / 2 ** 30)];
  const loadAverage = { start: loadAtStart, end: os.loadavg()[0]! };
  return { cpus: cpus.length, cpuModel, memoryGiB, node: process.version, platform, loadAverage };
}

const us = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '' : `${Math.round(n)}`);
const ratio = (n: number | null) => (n === null ? '' : `${n.toFixed(n >= 10 ? 1 : 2)}×`);
const table = (head: string[], align: string[], rows: string[][]) =>
  [head, align, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');

function renderTable(report: BenchReport): string {
  const head = ['what', 'throughput', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', 'vs bare route', 'vs naive'];
  head.push('server CPU µs/req', 'Redis CPU µs/req', 'Postgres CPU µs/req', 'load generator CPU µs/req');
  head.push(
    'load generator GC pauses: ms in all (longest)',
    `spells of ≥ ${SILENCE_MS} ms with no answer: count (longest ms)`,
  );
  const rows = report.rows.map((r) => [
    r.note ? `${r.label}<br><sub>${r.note}</sub>` : r.label,
    `${fmt.rps(r.rps)} ${r.unit}`,
    ...[r.p50, r.p95, r.p99].map(fmt.ms),
    `${r.errors}`,
    ratio(r.vsBare),
    ratio(r.vsNaive),
    ...[r.serverCpuUs, r.redisCpuUs, r.postgresCpuUs, r.loadgenCpuUs].map(us),
    r.loadgenGc ? `${Math.round(r.loadgenGc.totalMs)} (${fmt.ms(r.loadgenGc.longestMs)})` : '',
    !r.silences ? '' : r.silences.count ? `${r.silences.count} (${fmt.ms(r.silences.longestMs)})` : '0',
  ]);
  return table(head, ['---', ...head.slice(1).map(() => '---:')], rows);
}

/** The compared rows round by round: the table's best rounds may come from different minutes. */
function renderRounds(report: BenchReport): string {
  const rounds = report.rounds ?? [];
  if (rounds.length < 2) return '';
  const rows = rounds.flatMap((round, i) =>
    Object.entries(round).map(([id, s]) => [
      `${i + 1}`,
      id,
      fmt.rps(s.rps),
      round.bare ? ratio(s.rps / round.bare.rps) : '',
      fmt.ms(s.p99),
      us(s.serverCpuUs),
    ]),
  );
  const head = ['round', 'row', 'req/s', 'vs bare route, same round', 'p99 ms', 'server CPU µs/req'];
  return `\nRound by round:\n\n${table(head, ['---:', '---', '---:', '---:', '---:', '---:'], rows)}\n`;
}

/** The HTTP rows' throughput as a bar chart (GitHub renders mermaid): the spread at a glance. */
function chart(report: BenchReport): string {
  const bars = report.rows.filter((r) => r.unit === 'req/s');
  if (bars.length === 0) return '';
  const top = Math.ceil(Math.max(...bars.map((r) => r.rps)) / 5000) * 5000;
  return [
    '```mermaid',
    'xychart-beta',
    `  title "HTTP throughput, req/s (${report.settings.connections} connections, same run)"`,
    `  x-axis [${bars.map((r) => `"${r.id}"`).join(', ')}]`,
    `  y-axis "req/s" 0 --> ${top}`,
    `  bar [${bars.map((r) => Math.round(r.rps)).join(', ')}]`,
    '```',
  ].join('\n');
}

/** The default sale rehearsal's runs, as docs/adr/measurements keeps them (issue 30). */
const REHEARSAL_JSON = 'docs/adr/measurements/issue-30-default-rehearsal.json';

/** The closing lines of each run in REHEARSAL_JSON (lib/sale-report.ts's verdict), with its machine. */
function renderRehearsal(root: string): string {
  const file = path.join(root, REHEARSAL_JSON);
  if (!existsSync(file)) return '';
  const r = JSON.parse(readFileSync(file, 'utf8'));
  const runs = r.runs.map(({ variant, startedAt, verdict, ...run }: any) => {
    if (!verdict) return `**${variant}**, started ${startedAt}: its report kept no closing lines.`;
    const broken = verdict.violations.length + (verdict.storeViolations?.length ?? 0);
    return [
      `**${variant}**, started ${startedAt}, 1-minute load average ${run.loadAverageAtStart} at the start; API CPU ${Math.round(run.perAnswer.apiCpuUs)} µs per answer:`,
      '',
      '```',
      ...verdict.thresholds.map((t: any) => `  ${t.ok ? '✓' : '✗'} ${t.name}: ${t.value}`),
      broken === 0 ? 'invariants: all hold' : `invariants: ${broken} VIOLATIONS`,
      '```',
    ].join('\n');
  });
  return `## The sale rehearsal

The default rehearsal's closing lines, rendered from [${path.basename(REHEARSAL_JSON)}](${path.relative('docs', REHEARSAL_JSON)}) (every other figure of those runs is there): \`${r.command}\`. Machine: ${r.machine}.

${runs.join('\n\n')}
`;
}

export function renderMarkdown(report: BenchReport): string {
  const m = report.machine;
  const s = report.settings;
  const guide = readFileSync(path.join(import.meta.dirname, 'how-to-read.md'), 'utf8').trim();
  const targets = report.targets.map((t) => [t.target, t.measured, t.met ? 'met' : '**missed**']);
  const load = ` 1-minute load average ${m.loadAverage.start.toFixed(1)} at the start, ${m.loadAverage.end.toFixed(1)} at the end.`;
  return `# Benchmarks

The latest \`pnpm bench\` run, its targets, and [how to read them](#how-to-read-the-numbers). The
decisions these numbers back, with the measurements behind them, are in [docs/adr/](adr/).

Run of ${report.generatedAt} (${report.totalSec.toFixed(0)} s): ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}; load generator autocannon (in the runner process); ${s.connections} connections, ${s.warmupSec} s warm-up then ${s.durationSec} s measured per row; ${s.rounds ?? 1} round(s) of the compared rows.${load}

${renderTable(report)}

${chart(report)}

## Targets

${table(['target', 'measured', ''], ['---', '---', '---'], targets)}
${renderRounds(report)}
## Invariants

${
  report.violations.length === 0
    ? 'Checked after the run, every issuance persisted: no coupon over its quantity in Redis or Postgres, nobody holding one twice, Postgres equal to Redis with nothing pending, Redis equal to the successes clients saw (up to requests cut off in flight), every unit of stock accounted for, every paid order debited exactly once, every balance equal to its ledger. **No violations.**'
    : report.violations.map((v) => `- ${v}`).join('\n')
}

${renderRehearsal(path.resolve(import.meta.dirname, '../..'))}
${guide}
`;
}
