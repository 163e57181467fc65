// `pnpm bench`'s options, read once: flags from the command line, the run's shape from
// BENCH_* variables. Nothing else in loadtests/bench reads argv or the environment.
//
//   pnpm bench                                        every row but the cluster's, writes docs/
//   pnpm bench --only bare,coupon.issue               a subset (never written to docs/)
//   pnpm bench --cluster                              --only coupon.issue,coupon.issue.cluster,order.create,order.create.cluster
//   pnpm bench --no-write                             a full run that leaves docs/ alone
//   pnpm bench --profile                              also --cpu-prof profiles of the servers
//   pnpm bench --no-limits                            both rate limits off (never written to docs/)
//   pnpm bench --render                               docs/benchmarks.md again from docs/benchmarks.json
//   pnpm bench --keep                                 keep the run's database and Redis keys
// Environment: BENCH_DURATION (s, default 10), BENCH_WARMUP (s, 3), BENCH_CONNECTIONS (100),
// BENCH_DRAIN_N (issuances pre-filled for the drain row, 200000), BENCH_ROUNDS (2: rounds of the
// rows the targets compare; each row shows its better round), BENCH_NODE_ARGS (extra node flags
// for the servers under test), BENCH_CLUSTER_BASE_PORT (REDIS_CLUSTER_BASE_PORT, else 7700: the
// cluster rows' nodes listen on base..base+5, their cluster bus on +10000).
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const num = (value: string | undefined, fallback: number) => (value ? Number(value) : fallback);

const CLUSTER_ROWS = ['coupon.issue', 'coupon.issue.cluster', 'order.create', 'order.create.cluster'];
const only = flag('cluster') ? CLUSTER_ROWS : option('only')?.split(',');
const noLimits = flag('no-limits');

export const settings = {
  durationSec: num(process.env.BENCH_DURATION, 10),
  warmupSec: num(process.env.BENCH_WARMUP, 3),
  connections: num(process.env.BENCH_CONNECTIONS, 100),
  drainN: num(process.env.BENCH_DRAIN_N, 200_000),
  rounds: num(process.env.BENCH_ROUNDS, 2),
  /** Row ids to run (`--only a,b`); undefined runs every row but the opt-in ones. */
  only,
  profile: flag('profile'),
  /** Both rate limits off, to tell their cost from the API layer's. */
  noLimits,
  /** docs/ is written only by a full run with the limits on. */
  write: !flag('no-write') && !only && !noLimits,
  render: flag('render'),
  keep: flag('keep'),
  clusterBasePort: num(process.env.BENCH_CLUSTER_BASE_PORT ?? process.env.REDIS_CLUSTER_BASE_PORT, 7700),
  /** Extra flags for every server under test (e.g. V8's GC flags, which NODE_OPTIONS refuses). */
  nodeArgs: (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
};

export const generatorName = 'autocannon (in the runner process)';

/** Whether a row runs: named in `--only`, or every row but the opt-in ones (the cluster's). */
export const wanted = (row: { id: string; optIn?: boolean }) =>
  settings.only ? settings.only.includes(row.id) : !row.optIn;
export const log = (line: string) => console.log(`[bench] ${line}`);
