// `pnpm bench`'s options, read once: flags from the command line, the run's shape from
// BENCH_* variables. Nothing else in loadtests/bench reads argv or the environment.
//
//   pnpm bench                                        full run, writes docs/
//   pnpm bench --only bare,coupon.issue               a subset (never written to docs/)
//   pnpm bench --no-write                             a full run that leaves docs/ alone
//   pnpm bench --profile                              also --cpu-prof profiles of the servers
//   pnpm bench --no-limits                            both rate limits off (never written to docs/)
//   pnpm bench --generator wrk|autocannon             force the load generator
//   pnpm bench --render                               docs/benchmarks.md again from docs/benchmarks.json
//   pnpm bench --keep                                 keep the run's database and Redis keys
//   pnpm bench --cluster                              only coupon.issue and order.create, on one Redis and
//                                                     on a 3-master Redis Cluster it starts (cluster.ts)
// Environment: BENCH_DURATION (s, default 10), BENCH_WARMUP (s, 3), BENCH_CONNECTIONS (100),
// BENCH_DRAIN_N (issuances pre-filled for the drain row, 200000), BENCH_ROUNDS (2: rounds of the
// rows the targets compare; each row shows its better round), BENCH_NODE_ARGS (extra node flags
// for the servers under test), BENCH_WRK_THREADS (2), BENCH_WRK_MAX_RPS (50000: requests wrk
// gets rendered per second of a phase), BENCH_CLUSTER_BASE_PORT (7700: --cluster's nodes listen on
// base..base+5, their cluster bus on +10000).
import { wrkVersion } from '../lib/wrk.ts';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const num = (value: string | undefined, fallback: number) => (value ? Number(value) : fallback);

const generator = option('generator');
if (![undefined, 'wrk', 'autocannon'].includes(generator)) {
  throw new Error(`--generator ${generator}: expected wrk or autocannon`);
}
const wrk = generator === 'autocannon' ? undefined : wrkVersion();
if (generator === 'wrk' && !wrk) {
  throw new Error('--generator wrk: wrk is not installed (apt install wrk, brew install wrk)');
}
const only = option('only')?.split(',');
const noLimits = flag('no-limits');
const cluster = flag('cluster');

export const settings = {
  durationSec: num(process.env.BENCH_DURATION, 10),
  warmupSec: num(process.env.BENCH_WARMUP, 3),
  connections: num(process.env.BENCH_CONNECTIONS, 100),
  drainN: num(process.env.BENCH_DRAIN_N, 200_000),
  rounds: num(process.env.BENCH_ROUNDS, 2),
  /** Row ids to run (`--only a,b`); undefined runs every row. */
  only,
  profile: flag('profile'),
  /** Both rate limits off, to tell their cost from the API layer's. */
  noLimits,
  /** docs/ is written only by a full run with the limits on. */
  write: !flag('no-write') && !only && !noLimits && !cluster,
  render: flag('render'),
  keep: flag('keep'),
  /** Only the one-Redis-against-Redis-Cluster comparison (cluster.ts). */
  cluster,
  clusterBasePort: num(process.env.BENCH_CLUSTER_BASE_PORT, 7700),
  /** The wrk version line when wrk drives the HTTP rows; undefined for autocannon. */
  wrk,
  /** Whether the generator was chosen on the command line (else wrk when installed). */
  generatorForced: generator !== undefined,
  wrkThreads: num(process.env.BENCH_WRK_THREADS, 2),
  wrkMaxRps: num(process.env.BENCH_WRK_MAX_RPS, 50_000),
  /** Extra flags for every server under test (e.g. V8's GC flags, which NODE_OPTIONS refuses). */
  nodeArgs: (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
};

export const generatorName = wrk
  ? `${wrk}, ${settings.wrkThreads} threads`
  : 'autocannon (in the runner process)';

export const wanted = (id: string) => !settings.only || settings.only.includes(id);
export const log = (line: string) => console.log(`[bench] ${line}`);
