// `pnpm bench --cluster` (issue 25): what moving to Redis Cluster buys or costs on this machine.
// `coupon.issue` over 3 coupons whose slots are served by 3 different masters, and one-line
// `order.create` over 3 products, each once on one Redis (REDIS_URL) and once on a 6-node
// cluster (3 masters, 3 replicas) that this run starts with scripts/redis-cluster.sh and always
// stops. Both sides get the same API process count, connections and windows, and the rows
// alternate (one Redis, then the cluster) so each pair is measured in the same minutes.
// Writes loadtests/results/bench-cluster-latest.json and prints the table; docs/ is left alone.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { masters, type RedisClient } from '@flash/core';
import { ROOT, startApi } from '../lib/children.ts';
import { apiClient } from '../lib/client.ts';
import type { Violations } from '../lib/invariants.ts';
import { fmt } from '../lib/load.ts';
import { createCoupon } from '../lib/seed.ts';
import { mintBearerPack } from '../lib/token.ts';
import { generatorName, log, settings } from './cli.ts';
import {
  type Ctx,
  couponIssueRequests,
  json,
  type Measured,
  measure,
  nodeArgsFor,
  ORDER_USERS,
  orderTokens,
  RESULTS_DIR,
  setup,
  statsRow,
  withChild,
} from './harness.ts';
import type { BenchReport, BenchRow } from './report.ts';

/** What run.ts lends this comparison, so both close a run the same way. */
export type Closing = {
  /** Saves the orders and persists the issuances the rows left in Redis. */
  catchUp(ctx: Ctx): Promise<void>;
  checkInvariants(ctx: Ctx): Promise<Violations>;
  machineInfo(loadAtStart: number): BenchReport['machine'];
};

const SPREAD = 3;
/** Large enough that no row runs out: every request is an issuance. */
const COUPON_QUANTITY = 10_000_000;
/** Distinct users per coupon.issue row: more than a row issues at the rates seen on 2 cores. */
const COUPON_TOKENS = 700_000;
const FIRST_USER = 10_000_000;
/** Coupons created at most while looking for one on each master. */
const MAX_COUPONS = 40;

type RedisKind = 'one Redis' | 'Redis Cluster';

type Placed = { id: number; key: string; slot?: number; master: string };

type Side = {
  redis: RedisKind;
  ctx: Ctx;
  coupons: Placed[];
  /** Products with the key their stock is held in. */
  products: Placed[];
  /** Successes clients saw on the coupon row (warm-up included). */
  issuedSeen: number;
};

type ClusterRow = BenchRow & {
  redis: RedisKind;
  /** On the cluster, each node's Redis CPU per request (µs), by node. */
  redisCpuUsByNode?: Record<string, number>;
};

type ClusterReport = {
  generatedAt: string;
  machine: BenchReport['machine'];
  settings: Omit<BenchReport['settings'], 'drainN'> & { apiProcesses: number; clusterBasePort: number };
  /** Cluster nodes: address, role and pid. */
  nodes: { name: string; role: string; pid: number }[];
  placement: { redis: RedisKind; coupons: Placed[]; products: Placed[] }[];
  rows: ClusterRow[];
  violations: string[];
  totalSec: number;
};

// --- the cluster this run starts -------------------------------------------------------------

type RunningCluster = {
  seeds: string;
  nodes: { name: string; port: number; pid: number }[];
  /** Node -> master or replica, as CLUSTER SHARDS said once the cluster side was set up. */
  roles: Map<string, string>;
  down(): void;
};

/**
 * Starts the throw-away cluster on BENCH_CLUSTER_BASE_PORT and makes sure it goes down with
 * this process: `down()` in the caller's finally, and on exit, Ctrl-C or SIGTERM as well
 * (its redis-servers are daemons, outside the terminal's process group, so nothing else would
 * stop them).
 */
function startCluster(): RunningCluster {
  const base = settings.clusterBasePort;
  const dir = path.join(os.tmpdir(), `flash-bench-cluster-${base}`);
  const script = path.join(ROOT, 'scripts/redis-cluster.sh');
  const env = {
    ...process.env,
    REDIS_CLUSTER_BASE_PORT: String(base),
    REDIS_CLUSTER_DIR: dir,
    // A failover in the middle of a row would measure the failover: the script's 2 s suits
    // failover tests, Redis' own default suits a benchmark on a loaded machine.
    REDIS_CLUSTER_NODE_TIMEOUT: '15000',
  };
  let stopped = false;
  const release = () => {
    stopped = true;
    process.off('exit', down);
    for (const signal of SIGNALS) process.off(signal, exitOn);
  };
  const down = () => {
    if (stopped) return;
    release();
    const result = spawnSync(script, ['down'], { env, encoding: 'utf8' });
    if (result.status === 0) log(`Redis Cluster on ${base}–${base + 5} stopped`);
    else console.error(`[bench] stopping the cluster failed: ${result.stderr}`);
  };
  const exitOn = (signal: NodeJS.Signals) => process.exit(128 + os.constants.signals[signal]);
  // Before `up`: a Ctrl-C while it runs must still stop the nodes it started.
  process.on('exit', down);
  for (const signal of SIGNALS) process.on(signal, exitOn);

  log(`starting a Redis Cluster (3 masters, 3 replicas) on 127.0.0.1:${base}–${base + 5}`);
  const up = spawnSync(script, ['up'], { env, encoding: 'utf8' });
  if (up.status !== 0 && /already answers/.test(up.stderr)) {
    // Someone else's server (or a cluster left by a killed run) and nothing started: not ours to stop.
    release();
    throw new Error(`${up.stderr.trim()}\nSet BENCH_CLUSTER_BASE_PORT to free ports.`);
  }
  if (up.status !== 0) {
    down();
    throw new Error(`scripts/redis-cluster.sh up failed:\n${up.stderr}`);
  }
  const nodes = Array.from({ length: 6 }, (_, i) => {
    const port = base + i;
    const pidFile = path.join(dir, String(port), 'redis.pid');
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : Number.NaN;
    return { name: `127.0.0.1:${port}`, port, pid };
  });
  return { seeds: up.stdout.trim().split('\n').pop()!, nodes, roles: new Map(), down };
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

// --- where keys live -------------------------------------------------------------------------

/** CLUSTER SHARDS replies with flat [name, value, ...] arrays. */
function fields(reply: unknown): Map<string, unknown> {
  const list = reply as unknown[];
  const map = new Map<string, unknown>();
  for (let i = 0; i + 1 < list.length; i += 2) map.set(String(list[i]), list[i + 1]);
  return map;
}

type SlotMap = {
  masters: number;
  roles: Map<string, string>;
  place(key: string): Promise<{ slot?: number; master: string }>;
};

/** Which master serves a key: CLUSTER SHARDS once, then CLUSTER KEYSLOT per key. */
async function slotMap(redis: RedisClient, cluster: boolean): Promise<SlotMap> {
  if (!cluster) return { masters: 1, roles: new Map(), place: async () => ({ master: 'one Redis' }) };
  const node = masters(redis)[0]!;
  const ranges: { first: number; last: number; master: string }[] = [];
  const roles = new Map<string, string>();
  for (const shard of (await node.call('CLUSTER', 'SHARDS')) as unknown[]) {
    const s = fields(shard);
    const nodes = (s.get('nodes') as unknown[]).map(fields);
    for (const n of nodes) roles.set(`${n.get('ip')}:${n.get('port')}`, String(n.get('role')));
    const master = nodes.find((n) => n.get('role') === 'master');
    const slots = (s.get('slots') as unknown[]).map(Number);
    if (!master) continue;
    for (let i = 0; i + 1 < slots.length; i += 2) {
      ranges.push({
        first: slots[i]!,
        last: slots[i + 1]!,
        master: `${master.get('ip')}:${master.get('port')}`,
      });
    }
  }
  return {
    masters: new Set(ranges.map((r) => r.master)).size,
    roles,
    async place(key) {
      const slot = Number(await node.call('CLUSTER', 'KEYSLOT', key));
      const range = ranges.find((r) => slot >= r.first && slot <= r.last);
      return { slot, master: range?.master ?? 'no master' };
    },
  };
}

function describe(what: string, placed: Placed[]): string {
  if (placed[0]?.slot === undefined) return `${what}s ${placed.map((p) => p.id).join(', ')}`;
  const where = placed.map(
    (p) => `${what} ${p.id} → ${p.master}${p.slot === undefined ? '' : ` (slot ${p.slot})`}`,
  );
  const oneMaster = new Set(placed.map((p) => p.master)).size === 1;
  return `${where.join(', ')}${placed.length > 1 && oneMaster ? ': all on one master' : ''}`;
}

// --- the two sides ---------------------------------------------------------------------------

/**
 * A fresh run on one Redis or on the cluster: setup's products and charged users, then coupons
 * created until there is one on each master (up to 3), and the first product on each master.
 */
async function prepareSide(redis: RedisKind, sides: Side[], cluster?: RunningCluster): Promise<Side> {
  log(`--- ${redis}: setup`);
  const ctx = await setup([], { REDIS_CLUSTER_NODES: cluster?.seeds ?? '' });
  const side: Side = { redis, ctx, coupons: [], products: [], issuedSeen: 0 };
  sides.push(side);
  if (cluster) ctx.redisNodes = cluster.nodes.map(({ name, pid }) => ({ name, pid }));
  const map = await slotMap(ctx.redis, cluster !== undefined);
  if (cluster) cluster.roles = map.roles;
  const wanted = Math.min(SPREAD, map.masters);

  await withChild(startApi(ctx.run.env), async (api) => {
    const client = apiClient(api.url);
    for (let created = 0; side.coupons.length < SPREAD; created++) {
      if (created === MAX_COUPONS) throw new Error(`no ${SPREAD} coupons on ${wanted} masters in ${created}`);
      const id = await createCoupon(client, ctx.admin, {
        name: `bench cluster ${created + 1}`,
        totalQuantity: COUPON_QUANTITY,
      });
      const key = ctx.keys.coupon(id).issued;
      const where = await map.place(key);
      const spread = new Set(side.coupons.map((c) => c.master));
      // Until every master has a coupon, one on a master already taken stays unused.
      if (spread.has(where.master) && spread.size < wanted) continue;
      side.coupons.push({ id, key, ...where });
      ctx.coupons.set(`coupon.issue #${side.coupons.length}`, { couponId: id, quantity: COUPON_QUANTITY });
    }
  });

  const candidates: Placed[] = [];
  for (const p of ctx.products) {
    // The key the hold script is given for this product: its own slot (ADR 0200).
    const key = ctx.keys.stock(p.id).available;
    candidates.push({ id: p.id, key, ...(await map.place(key)) });
  }
  for (const p of candidates) {
    if (side.products.length < SPREAD && !side.products.some((q) => q.master === p.master))
      side.products.push(p);
  }
  for (const p of candidates) {
    if (side.products.length < SPREAD && !side.products.includes(p)) side.products.push(p);
  }
  log(`${redis}: coupon.issue: ${describe('coupon', side.coupons)}`);
  log(
    `${redis}: order.create: ${describe('product', side.products)}; stock key of product ${side.products[0]!.id}: ${side.products[0]!.key}`,
  );
  return side;
}

/** ` (on 2 masters)` on the cluster; nothing on one Redis. */
function onMasters(side: Side, placed: Placed[], what = ''): string {
  if (side.redis === 'one Redis') return '';
  const n = new Set(placed.map((p) => p.master)).size;
  return ` (${what}on ${n} master${n === 1 ? '' : 's'})`;
}

function clusterRow(side: Side, id: string, label: string, stats: Measured, note: string): ClusterRow {
  return {
    ...statsRow(id, `${label}, ${side.redis}`, 'ours', stats, note),
    redis: side.redis,
    redisCpuUsByNode: stats.redisCpuUsByNode,
  };
}

/** coupon.issue cycling over the side's 3 coupons, a distinct user and token per request. */
async function couponRow(side: Side): Promise<ClusterRow> {
  const { ctx } = side;
  const started = Date.now();
  const tokens = mintBearerPack(ctx.run.config.jwtSecret, FIRST_USER, COUPON_TOKENS);
  log(`minted ${tokens.count.toLocaleString('en-US')} tokens in ${Date.now() - started} ms`);
  const tag = side.redis === 'one Redis' ? 'one' : 'cluster';
  const stats = await withChild(startApi(ctx.run.env, nodeArgsFor(`coupon.issue-${tag}`)), async (api) => {
    const requests = couponIssueRequests(
      tokens,
      side.coupons.map((c) => c.id),
    );
    const measured = await measure(ctx, api, requests.next);
    if (requests.ranOut()) log('WARNING: coupon.issue ran out of distinct users; repeats answer 409');
    return measured;
  });
  side.issuedSeen += stats.okWithWarmup ?? 0;
  const note = `${side.coupons.length} coupons in turn${onMasters(side, side.coupons)}, a distinct user and token per request`;
  return clusterRow(side, 'coupon.issue', 'coupon.issue', stats, note);
}

/** One-line orders cycling over the side's 3 products; saved in Postgres at the end. */
async function orderRow(side: Side): Promise<ClusterRow> {
  const { ctx } = side;
  const tokens = orderTokens(ctx);
  const tag = side.redis === 'one Redis' ? 'one' : 'cluster';
  const bodies = side.products.map((p) => JSON.stringify({ items: [{ productId: p.id, quantity: 1 }] }));
  const stats = await withChild(startApi(ctx.run.env, nodeArgsFor(`order.create-${tag}`)), (api) => {
    let i = 0;
    return measure(ctx, api, () => {
      const n = i++;
      return {
        method: 'POST',
        path: '/trpc/order.create',
        headers: { ...json, authorization: `Bearer ${tokens[n % tokens.length]}` },
        body: bodies[n % bodies.length],
      };
    });
  });
  const note = `1 line, ${side.products.length} products in turn${onMasters(side, side.products, 'stock ')}, ${ORDER_USERS} users`;
  return clusterRow(side, 'order.create', 'order.create', stats, note);
}

/**
 * The load generator counts answers by status, not by coupon, so what clients saw issued is
 * checked over the side's coupons together (checkInvariants has already checked each coupon's
 * quantity, and Postgres against Redis once drained): every success seen is in Postgres, and at
 * most the requests cut off at the end of the warm-up and of the window more.
 */
async function checkIssuedSeen(side: Side): Promise<Violations> {
  const ids = side.coupons.map((c) => c.id);
  const { rows } = await side.ctx.db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM issued_coupons WHERE coupon_id = ANY($1)',
    [ids],
  );
  const issued = rows[0]!.n;
  const inFlight = 2 * settings.connections;
  if (issued >= side.issuedSeen && issued <= side.issuedSeen + inFlight) return [];
  return [
    `coupons ${ids.join(', ')}: clients saw ${side.issuedSeen} issued (+ up to ${inFlight} cut off) but Postgres holds ${issued}`,
  ];
}

// --- the report ------------------------------------------------------------------------------

function us(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? '' : Math.round(n).toString();
}

function perNode(row: ClusterRow, roles: Map<string, string>): string {
  if (!row.redisCpuUsByNode) return '';
  const entries = Object.entries(row.redisCpuUsByNode);
  const masterCells = entries
    .filter(([name]) => roles.get(name) === 'master')
    .map(([name, v]) => `${name.split(':')[1]}: ${us(v)}`);
  const replicas = entries.filter(([name]) => roles.get(name) !== 'master').reduce((a, [, v]) => a + v, 0);
  return `masters ${masterCells.join(', ')}; replicas ${us(replicas)} in all`;
}

function renderClusterTable(report: ClusterReport): string {
  const roles = new Map(report.nodes.map((n) => [n.name, n.role]));
  const lines = [
    '| row | Redis | throughput | cluster ÷ one Redis | p50 ms | p99 ms | errors | server CPU µs/req | Redis CPU µs/req | Redis CPU µs/req by node | Postgres CPU µs/req | load generator CPU µs/req |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
  ];
  for (const r of report.rows) {
    const one = report.rows.find((o) => o.id === r.id && o.redis === 'one Redis');
    const ratio = r.redis === 'Redis Cluster' && one ? `${(r.rps / one.rps).toFixed(2)}×` : '';
    lines.push(
      `| ${r.id}<br><sub>${r.note ?? ''}</sub> | ${r.redis} | ${fmt.rps(r.rps)} ${r.unit} | ${ratio} | ${fmt.ms(r.p50)} | ${fmt.ms(r.p99)} | ${r.errors} | ${us(r.serverCpuUs)} | ${us(r.redisCpuUs)} | ${perNode(r, roles)} | ${us(r.postgresCpuUs)} | ${us(r.loadgenCpuUs)} |`,
    );
  }
  return lines.join('\n');
}

function logRow(row: ClusterRow): void {
  log(
    `${row.label}: ${fmt.rps(row.rps)} ${row.unit}, p50 ${fmt.ms(row.p50)} ms, p99 ${fmt.ms(row.p99)} ms, errors ${row.errors}, CPU µs/req: server ${us(row.serverCpuUs)}, Redis ${us(row.redisCpuUs)}, Postgres ${us(row.postgresCpuUs)}, load generator ${us(row.loadgenCpuUs)}`,
  );
}

export async function runClusterComparison(closing: Closing): Promise<void> {
  const started = Date.now();
  const loadAtStart = os.loadavg()[0]!;
  const cluster = startCluster();
  const sides: Side[] = [];
  const rows: ClusterRow[] = [];
  const violations: Violations = [];
  try {
    try {
      await prepareSide('one Redis', sides);
      await prepareSide('Redis Cluster', sides, cluster);
      // Alternating, so each pair shares the machine's minutes (docs/benchmarks.md, Noise).
      for (const row of [couponRow, orderRow]) {
        for (const side of sides) {
          log(`--- ${row === couponRow ? 'coupon.issue' : 'order.create'}, ${side.redis}`);
          const result = await row(side);
          logRow(result);
          rows.push(result);
        }
      }
      for (const side of sides) {
        log(`--- ${side.redis}: closing checks`);
        await closing.catchUp(side.ctx);
        const found = [...(await closing.checkInvariants(side.ctx)), ...(await checkIssuedSeen(side))];
        violations.push(...found.map((v) => `${side.redis}: ${v}`));
      }
    } finally {
      for (const side of sides) {
        await side.ctx.redis.quit();
        await side.ctx.db.end();
        // The cluster's keys go with the cluster; this drops the database.
        if (!settings.keep) await side.ctx.run.cleanup();
      }
    }
  } finally {
    cluster.down();
  }

  const report: ClusterReport = {
    generatedAt: new Date().toISOString(),
    machine: closing.machineInfo(loadAtStart),
    settings: {
      connections: settings.connections,
      durationSec: settings.durationSec,
      warmupSec: settings.warmupSec,
      rounds: 1,
      generator: generatorName,
      apiProcesses: sides[0]!.ctx.run.config.apiProcesses,
      clusterBasePort: settings.clusterBasePort,
    },
    nodes: cluster.nodes.map((n) => ({
      name: n.name,
      role: cluster.roles.get(n.name) ?? 'unknown',
      pid: n.pid,
    })),
    placement: sides.map((s) => ({ redis: s.redis, coupons: s.coupons, products: s.products })),
    rows,
    violations,
    totalSec: (Date.now() - started) / 1000,
  };
  const m = report.machine;
  console.log(
    `\nRedis Cluster comparison, ${report.generatedAt} (${report.totalSec.toFixed(0)} s): ${m.cpus} × ${m.cpuModel}, load average ${m.loadAverage?.start.toFixed(1)} → ${m.loadAverage?.end.toFixed(1)}; ${report.settings.generator}; ${settings.connections} connections, ${settings.warmupSec} s warm-up then ${settings.durationSec} s measured per row; ${report.settings.apiProcesses} API process(es) on both sides.\n`,
  );
  for (const p of report.placement) {
    console.log(`- ${p.redis}: ${describe('coupon', p.coupons)}`);
    console.log(`- ${p.redis}: ${describe('product', p.products)} (stock key ${p.products[0]?.key})`);
  }
  console.log(`\n${renderClusterTable(report)}\n`);
  console.log(
    violations.length === 0 ? 'Invariants: no violations.' : violations.map((v) => `- ${v}`).join('\n'),
  );
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, 'bench-cluster-latest.json');
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${path.relative(ROOT, file)}`);
  if (violations.length > 0) {
    console.error(`[bench] ${violations.length} invariant violations`);
    process.exit(1);
  }
}
