// `pnpm bench`'s options, read once: nothing else in loadtests/bench reads argv or the environment.
//
//   pnpm bench               every row but the cluster's; writes docs/benchmarks.{json,md}
//   pnpm bench --only a,b    those rows only (never written to docs/)
//   pnpm bench --cluster     --only coupon.issue,coupon.issue.cluster,order.create,order.create.cluster
//   pnpm bench --no-write    a full run that leaves docs/ alone
//   pnpm bench --profile     also --cpu-prof profiles of the servers, summarised at the end
//   pnpm bench --render      docs/benchmarks.md again from docs/benchmarks.json
//   pnpm bench --keep        keep the run's database and Redis keys
// Environment: BENCH_DURATION (s, default 10), BENCH_WARMUP (s, 3), BENCH_CONNECTIONS (100),
// BENCH_ROUNDS (2: rounds of the rows the targets compare; each row shows its best round),
// BENCH_DRAIN_N (issuances pre-filled for worker.drain, 200000), BENCH_CLUSTER_BASE_PORT (else
// REDIS_CLUSTER_BASE_PORT, else 7700: the cluster's nodes listen on base..base+5, its bus on +10000).
import { parseArgs } from 'node:util';

const [text, flag] = [{ type: 'string' }, { type: 'boolean' }] as const;
const { values: options } = parseArgs({
  options: { only: text, cluster: flag, 'no-write': flag, profile: flag, render: flag, keep: flag },
});
const env = (name: string, fallback: number) => Number(process.env[`BENCH_${name}`] || fallback);
const CLUSTER_ROWS = ['coupon.issue', 'coupon.issue.cluster', 'order.create', 'order.create.cluster'];
const only = options.cluster ? CLUSTER_ROWS : options.only?.split(',');

export const settings = {
  durationSec: env('DURATION', 10),
  warmupSec: env('WARMUP', 3),
  connections: env('CONNECTIONS', 100),
  drainN: env('DRAIN_N', 200_000),
  rounds: env('ROUNDS', 2),
  only,
  profile: options.profile === true,
  render: options.render === true,
  keep: options.keep === true,
  /** docs/ is written only by a full run. */
  write: !options['no-write'] && !only,
  clusterBasePort: env('CLUSTER_BASE_PORT', Number(process.env.REDIS_CLUSTER_BASE_PORT || 7700)),
};

/** Whether a row runs: named in `--only`, or every row but the opt-in ones (the cluster's). */
export const wanted = (row: { id: string; optIn?: boolean }) =>
  settings.only ? settings.only.includes(row.id) : !row.optIn;
export const log = (line: string) => console.log(`[bench] ${line}`);
