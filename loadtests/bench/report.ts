// The benchmark's one table and docs/benchmarks.md. The markdown is generated from the JSON of
// a run, followed by the hand-written page on how to read it (how-to-read.md beside this file).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fmt, SILENCE_MS } from '../lib/load.ts';

export type BenchRow = {
  id: string;
  label: string;
  kind: 'ceiling' | 'baseline' | 'ours' | 'reference' | 'worker';
  unit: 'req/s' | 'calls/s' | 'rows/s' | 'tx/s' | 'answers/s';
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  errors: number;
  requests: number;
  durationSec: number;
  statusCounts?: Record<string, number>;
  /** CPU (all threads) the server process spent per request in the measured window, µs. */
  serverCpuUs?: number;
  /** The load generator (wrk, or autocannon in the runner) per request; it shares the cores with the server. */
  loadgenCpuUs?: number;
  /** Every Postgres process of the machine, per request. */
  postgresCpuUs?: number;
  /** CPU redis-server spent per request in the measured window, µs (Redis is shared). */
  redisCpuUs?: number;
  /** autocannon's garbage-collection pauses in the measured window (see LoadStats); wrk has none. */
  loadgenGc?: { pauses: number; totalMs: number; longestMs: number };
  /** Spells of ≥ SILENCE_MS in the measured window with no answer on any connection (see LoadStats). */
  silences?: { count: number; totalMs: number; longestMs: number };
  note?: string;
  /** rps / the bare route's rps in the same run. */
  vsBare: number | null;
  /** rps / the naive baseline's rps in the same run. */
  vsNaive: number | null;
};

/** One row in one round: what the targets compare within a round. */
export type RoundStat = { rps: number; p99: number; serverCpuUs?: number };

export type TargetResult = { target: string; measured: string; met: boolean };

export type BenchReport = {
  generatedAt: string;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    node: string;
    platform: string;
    /** 1-minute load average when the run started and ended: other work on the machine shows here. */
    loadAverage?: { start: number; end: number };
  };
  settings: {
    connections: number;
    durationSec: number;
    warmupSec: number;
    drainN: number;
    rounds?: number;
    /** What drove the HTTP rows; absent in older reports, which all used autocannon in the runner. */
    generator?: string;
  };
  rows: BenchRow[];
  /** The rows measured in every round, round by round (the first is the main pass). */
  rounds?: Record<string, RoundStat>[];
  targets: TargetResult[];
  violations: string[];
  totalSec: number;
};

function us(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? '' : Math.round(n).toString();
}

function ratio(n: number | null): string {
  if (n === null) return '';
  return n >= 10 ? `${n.toFixed(1)}×` : `${n.toFixed(2)}×`;
}

function gcPauses(gc: BenchRow['loadgenGc']): string {
  return gc ? `${Math.round(gc.totalMs)} (${fmt.ms(gc.longestMs)})` : '';
}

function silenceSpells(silences: BenchRow['silences']): string {
  if (!silences) return '';
  return silences.count ? `${silences.count} (${fmt.ms(silences.longestMs)})` : '0';
}

export function renderTable(report: BenchReport): string {
  const lines = [
    `| what | throughput | p50 ms | p95 ms | p99 ms | errors | vs bare route | vs naive | server CPU µs/req | Redis CPU µs/req | Postgres CPU µs/req | load generator CPU µs/req | load generator GC pauses: ms in all (longest) | spells of ≥ ${SILENCE_MS} ms with no answer: count (longest ms) |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of report.rows) {
    const label = r.note ? `${r.label}<br><sub>${r.note}</sub>` : r.label;
    lines.push(
      `| ${label} | ${fmt.rps(r.rps)} ${r.unit} | ${fmt.ms(r.p50)} | ${fmt.ms(r.p95)} | ${fmt.ms(r.p99)} | ${r.errors} | ${ratio(r.vsBare)} | ${ratio(r.vsNaive)} | ${us(r.serverCpuUs)} | ${us(r.redisCpuUs)} | ${us(r.postgresCpuUs)} | ${us(r.loadgenCpuUs)} | ${gcPauses(r.loadgenGc)} | ${silenceSpells(r.silences)} |`,
    );
  }
  return lines.join('\n');
}

/**
 * The rows measured in every round, round by round. The table shows each row's best round,
 * which may come from another phase of the machine than the bare route's; these come from the
 * same minutes.
 */
export function renderRounds(report: BenchReport): string {
  const rounds = report.rounds ?? [];
  if (rounds.length < 2) return '';
  const lines = [
    '| round | row | req/s | vs bare route, same round | p99 ms | server CPU µs/req |',
    '| ---: | --- | ---: | ---: | ---: | ---: |',
  ];
  rounds.forEach((round, i) => {
    for (const [id, stat] of Object.entries(round)) {
      const bare = round.bare;
      lines.push(
        `| ${i + 1} | ${id} | ${fmt.rps(stat.rps)} | ${bare ? ratio(stat.rps / bare.rps) : ''} | ${fmt.ms(stat.p99)} | ${us(stat.serverCpuUs)} |`,
      );
    }
  });
  return lines.join('\n');
}

function chart(report: BenchReport): string {
  const bars = report.rows.filter((r) => r.unit === 'req/s');
  if (bars.length === 0) return '';
  const names = bars.map((r) => `"${r.id}"`).join(', ');
  const values = bars.map((r) => Math.round(r.rps)).join(', ');
  const top = Math.ceil(Math.max(...bars.map((r) => r.rps)) / 5000) * 5000;
  return [
    '```mermaid',
    'xychart-beta',
    `  title "HTTP throughput, req/s (${report.settings.connections} connections, same run)"`,
    `  x-axis [${names}]`,
    `  y-axis "req/s" 0 --> ${top}`,
    `  bar [${values}]`,
    '```',
  ].join('\n');
}

/** The default sale rehearsal's runs, as docs/adr/measurements keeps them (issue 30). */
export const REHEARSAL_JSON = 'docs/adr/measurements/issue-30-default-rehearsal.json';

type Rehearsal = {
  command: string;
  machine: string;
  runs: {
    variant: string;
    startedAt: string;
    loadAverageAtStart: number;
    perAnswer: { apiCpuUs: number };
    verdict: {
      thresholds: { name: string; value: string; ok: boolean }[];
      violations: string[];
      storeViolations?: string[];
    };
  }[];
};

/** The closing lines of each run in REHEARSAL_JSON, with its machine and load average. */
export function renderRehearsal(root: string): string {
  const file = path.join(root, REHEARSAL_JSON);
  if (!existsSync(file)) return '';
  const r = JSON.parse(readFileSync(file, 'utf8')) as Rehearsal;
  const runs = r.runs.map((run) => {
    if (!run.verdict)
      return `**${run.variant}**, started ${run.startedAt}: its report kept no closing lines.`;
    const broken = run.verdict.violations.length + (run.verdict.storeViolations?.length ?? 0);
    return [
      `**${run.variant}**, started ${run.startedAt}, 1-minute load average ${run.loadAverageAtStart} at the start; API CPU ${Math.round(run.perAnswer.apiCpuUs)} µs per answer:`,
      '',
      '```',
      ...run.verdict.thresholds.map((t) => `  ${t.ok ? '✓' : '✗'} ${t.name}: ${t.value}`),
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
  const targets = report.targets
    .map((t) => `| ${t.target} | ${t.measured} | ${t.met ? 'met' : '**missed**'} |`)
    .join('\n');
  const rounds = renderRounds(report);
  const load = m.loadAverage
    ? ` 1-minute load average ${m.loadAverage.start.toFixed(1)} at the start, ${m.loadAverage.end.toFixed(1)} at the end.`
    : '';
  return `# Benchmarks

The latest \`pnpm bench\` run, its targets, and [how to read them](#how-to-read-the-numbers). The
decisions these numbers back, with the measurements behind them, are in [docs/adr/](adr/).

Run of ${report.generatedAt} (${report.totalSec.toFixed(0)} s): ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}; load generator ${s.generator ?? 'autocannon, in the runner process'}; ${s.connections} connections, ${s.warmupSec} s warm-up then ${s.durationSec} s measured per row; ${s.rounds ?? 1} round(s) of the compared rows.${load}

${renderTable(report)}

${chart(report)}

## Targets

| target | measured | |
| --- | --- | --- |
${targets}
${rounds ? `\nRound by round:\n\n${rounds}\n` : ''}
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
