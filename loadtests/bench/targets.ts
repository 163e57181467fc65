// The benchmark's targets, judged from one run's report (docs/benchmarks.md explains them).
// A target whose rows did not run (`--only`) is left out.
//
// `coupon.issue` is compared with the rows measured next to it in the same round (the bare
// route, tRPC's own adapter): the round in which `coupon.issue` served the most, which is the
// one the table shows. Other work on a shared machine slows whole minutes down, so ratios within
// a round hold better than ratios across rounds.
import { fmt } from '../lib/load.ts';
import { PAYMENT_TARGETS } from './payment-rows.ts';
import type { BenchReport, RoundStat, TargetResult } from './report.ts';

export type Target = (report: BenchReport) => TargetResult | undefined;

const row = (r: BenchReport, id: string) => r.rows.find((x) => x.id === id);

/** The round in which `id` served the most, or undefined when it ran in none. */
export function bestRoundOf(r: BenchReport, id: string): Record<string, RoundStat> | undefined {
  let best: Record<string, RoundStat> | undefined;
  for (const round of r.rounds ?? []) {
    const stat = round[id];
    if (stat && (!best || stat.rps > best[id]!.rps)) best = round;
  }
  return best;
}

/** Rounded down to two decimals, so 14.996× reads as a 14.99× that missed 15×, never as "15.00×". */
const times = (n: number) => `${(Math.floor(n * 100) / 100).toFixed(2)}×`;
/** Rounded up for a ceiling, so 2.004× reads as a 2.01× that missed 2×. */
const timesUp = (n: number) => `${(Math.ceil(n * 100) / 100).toFixed(2)}×`;

/**
 * "`id` ≥ share of the bare route's req/s". Shown to 0.1%, rounded down, so 49.85% reads as a
 * 49.8% that missed 50%, never as a "50%" that missed.
 */
function shareOfBare(r: BenchReport, id: string, share: number): TargetResult | undefined {
  const c = row(r, id);
  if (!c || c.vsBare === null) return undefined;
  return {
    target: `${id} ≥ ${Math.round(share * 100)}% of the bare route`,
    measured: `${(Math.floor(c.vsBare * 1000) / 10).toFixed(1)}%`,
    met: c.vsBare >= share,
  };
}

/**
 * coupon.issue and another row from coupon.issue's best round; from the table's rows (each its
 * own best round, flagged) when the report has no such round, as reports from before the
 * per-round figures.
 */
function pair(r: BenchReport, other: string): { a: RoundStat; b: RoundStat; flag: string } | undefined {
  const round = bestRoundOf(r, 'coupon.issue');
  const a = round?.['coupon.issue'];
  const b = round?.[other];
  const full = (x: RoundStat | undefined) => x && Number.isFinite(x.p99) && x.serverCpuUs !== undefined;
  if (a && b && full(a) && full(b)) return { a, b, flag: '' };
  const ra = row(r, 'coupon.issue');
  const rb = row(r, other);
  if (!ra || !rb) return undefined;
  return { a: ra, b: rb, flag: ' (best rows, not one round: this report predates per-round figures)' };
}

export const TARGETS: Target[] = [
  (r) => {
    const p = pair(r, 'coupon.issue.official');
    if (!p) return undefined;
    const x = p.a.rps / p.b.rps;
    return {
      target: 'coupon.issue ≥ 2.5× tRPC’s own fastifyTRPCPlugin on the same router, same round',
      measured: `${times(x)}${p.flag}`,
      met: x >= 2.5,
    };
  },
  (r) => {
    const issue = bestRoundOf(r, 'coupon.issue')?.['coupon.issue'] ?? row(r, 'coupon.issue');
    const naive = row(r, 'naive');
    if (!issue || !naive) return undefined;
    const x = issue.rps / naive.rps;
    return {
      target: 'coupon.issue ≥ 15× the naive Postgres baseline, best round',
      measured: times(x),
      met: x >= 15,
    };
  },
  (r) => {
    const p = pair(r, 'bare');
    if (!p || p.a.serverCpuUs === undefined || p.b.serverCpuUs === undefined) return undefined;
    const x = p.a.serverCpuUs / p.b.serverCpuUs;
    return {
      target: 'coupon.issue server CPU per request ≤ 2.0× the bare route’s, same round',
      measured: `${timesUp(x)} (${Math.round(p.a.serverCpuUs)} against ${Math.round(p.b.serverCpuUs)} µs)${p.flag}`,
      met: x <= 2,
    };
  },
  (r) => {
    const p = pair(r, 'bare');
    if (!p) return undefined;
    const x = p.a.p99 / p.b.p99;
    return {
      target: 'coupon.issue p99 ≤ 2× the bare route’s p99, same round',
      measured: `${timesUp(x)} (${fmt.ms(p.a.p99)} against ${fmt.ms(p.b.p99)} ms)${p.flag}`,
      met: x <= 2,
    };
  },
  (r) => shareOfBare(r, 'product.top', 0.8),
  (r) => shareOfBare(r, 'order.create', 0.5),
  (r) => {
    // Against the bare route of the same round (the round in which join served the most).
    const round = bestRoundOf(r, 'waitingRoom.join');
    const join = round?.['waitingRoom.join'];
    const bare = round?.bare;
    if (!join || !bare) return undefined;
    const x = join.rps / bare.rps;
    return {
      target: 'waitingRoom.join ≥ 80% of the bare route, same round',
      measured: `${(Math.floor(x * 1000) / 10).toFixed(1)}%`,
      met: x >= 0.8,
    };
  },
  (r) => {
    // "As cheap as product.top": the poll every waiting page makes, against the read storm row,
    // from the round in which waitingRoom.get served the most.
    const round = bestRoundOf(r, 'waitingRoom.get');
    const get = round?.['waitingRoom.get'];
    const top = round?.['product.top'];
    if (!get || !top) return undefined;
    const x = get.rps / top.rps;
    const cpu =
      get.serverCpuUs !== undefined && top.serverCpuUs !== undefined
        ? `, server CPU ${Math.round(get.serverCpuUs)} against ${Math.round(top.serverCpuUs)} µs/request`
        : '';
    return {
      target: 'waitingRoom.get ≥ 0.9× product.top’s req/s, same round',
      measured: `${times(x)}${cpu}`,
      met: x >= 0.9,
    };
  },
  (r) => {
    const c = row(r, 'worker.drain');
    if (!c) return undefined;
    return {
      target: 'worker drain ≥ 20,000 issuances persisted per second',
      measured: `${fmt.rps(c.rps)}/s`,
      met: c.rps >= 20_000,
    };
  },
  ...PAYMENT_TARGETS,
  (r) => ({
    target: 'zero invariant violations',
    measured: r.violations.length === 0 ? 'none' : `${r.violations.length}`,
    met: r.violations.length === 0,
  }),
];

export function judge(report: BenchReport): TargetResult[] {
  return TARGETS.map((t) => t(report)).filter((t) => t !== undefined);
}
