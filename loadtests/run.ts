// `pnpm loadtest <scenario>`: starts the service (API + worker) on a fresh database and Redis
// prefix, runs one scenario against 127.0.0.1, prints a summary, checks the invariants through
// the API and in Postgres/Redis, and exits non-zero on any violation or failed threshold.
// Each scenario is defined once in loadtests/scenarios/<name>.js; with a k6 binary (K6_BIN or
// `k6` on PATH) its k6 script drives it, otherwise autocannon (loadtests/node/<name>.ts).
//
//   pnpm loadtest coupon-flash-crowd | order-rush | mixed | top-storm | all
//   options: --duration <s>  --connections <n>  --users <n>  --autocannon (ignore k6)  --keep (keep the database)
//            --invariants-only (CI: latency thresholds are reported but do not fail the run; broken
//            invariants and unexpected answers still do)
//            --waiting-room (sale only: the sale behind a waiting room)
//   LOADTEST_<NAME>=<n> overrides a number of the scenario's shape (LOADTEST_QUANTITY=200)
import path from 'node:path';
import { connectRedisClient, createKeys, type RedisTarget } from '@flash/core';
import { type Child, ROOT, startApi, startWorker } from './lib/children.ts';
import { apiClient } from './lib/client.ts';
import { createRunEnv } from './lib/env.ts';
import { checkCoupons, checkPayments, checkStock, type Sql, sqlPool } from './lib/invariants.ts';
import { resolveK6, runK6 } from './lib/k6.ts';
import { fmt } from './lib/load.ts';
import { redisServerBin, startRedisServer } from './lib/redis-server.ts';
import { addStoreChecks } from './lib/sale-report.ts';
import { couponFlashCrowd } from './node/coupon-flash-crowd.ts';
import { httpFor, type Scenario, type ScenarioResult } from './node/driver.ts';
import { mixed } from './node/mixed.ts';
import { orderRush } from './node/order-rush.ts';
import { saleScenario } from './node/sale.ts';
import { topStorm } from './node/top-storm.ts';
import { saleWaitingRoomScenario } from './node/waiting-room.ts';
import { withOverrides } from './scenarios/trpc.js';

const SCENARIOS: Scenario[] = [couponFlashCrowd, orderRush, mixed, topStorm, saleScenario];

const args = process.argv.slice(2);
const option = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const WITH_VALUE = new Set(['--duration', '--connections', '--users']);
// --users N is LOADTEST_USERS=N: how many users (shoppers) a scenario has.
if (option('users') !== undefined) process.env.LOADTEST_USERS = option('users');
const wantedName = args.find((a, i) => !a.startsWith('--') && !WITH_VALUE.has(args[i - 1] ?? ''));

function usage(): never {
  console.error(
    `usage: pnpm loadtest <${SCENARIOS.map((s) => s.name).join(' | ')} | all> [--duration s] [--connections n] [--users n] [--autocannon] [--keep] [--invariants-only]`,
  );
  for (const s of SCENARIOS) console.error(`  ${s.name.padEnd(20)} ${s.description}`);
  process.exit(2);
}

const log = (line: string) => console.log(`[loadtest] ${line}`);
const invariantsOnly = args.includes('--invariants-only');

async function waitForDrain(
  db: Sql,
  redis: import('@flash/core').RedisClient,
  keys: ReturnType<typeof createKeys>,
) {
  // The worker persists issuances within about a second; give it a bounded while.
  const { rows } = await db.query<{ id: number }>('SELECT id::int AS id FROM coupons');
  const deadline = Date.now() + 60_000;
  for (;;) {
    let pending = 0;
    for (const { id } of rows) pending += await redis.xlen(keys.coupon(id).pending);
    if (pending === 0) return;
    if (Date.now() > deadline) throw new Error(`${pending} issuances still pending after 60 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Postgres and Redis checks that hold after any scenario. */
async function storeChecks(url: string, databaseUrl: string, target: RedisTarget, prefix: string) {
  const db = sqlPool(databaseUrl);
  const redis = await connectRedisClient(target, 'command', 'loadtest-checks');
  const keys = createKeys(prefix);
  try {
    await waitForDrain(db, redis, keys);
    const api = apiClient(url);
    const coupons = await db.query<{ id: number; total_quantity: number }>(
      'SELECT id::int AS id, total_quantity FROM coupons',
    );
    const products = await db.query<{ id: number }>('SELECT id::int AS id FROM products');
    const available = new Map<number, number>();
    for (const { id } of products.rows) {
      available.set(id, (await api.query<{ stock: number }>('product.get', { productId: id })).stock);
    }
    return [
      ...(await checkCoupons(
        db,
        redis,
        keys,
        coupons.rows.map((c) => ({
          couponId: c.id,
          quantity: c.total_quantity,
          label: 'coupon',
          drained: true,
        })),
      )),
      ...(await checkStock(
        db,
        // The scenarios check units against what they stocked; here: nothing negative, and what
        // product.get offers = on hand - units held by open orders.
        products.rows.map((p) => ({ id: p.id, available: available.get(p.id)! })),
      )),
      ...(await checkPayments(db)),
    ];
  } finally {
    await redis.quit();
    await db.end();
  }
}

function printResult(scenario: Scenario, result: ScenarioResult) {
  console.log(`\n=== ${scenario.name}: ${result.description ?? scenario.description}`);
  // Errors: answers the scenario did not expect, and socket errors; expected refusals (a sold-out
  // 409) are answers, listed with the status codes.
  console.log('| requests | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | answers by status |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const { name, stats } of result.stats) {
    const codes = Object.entries(stats.statusCounts)
      .map(([s, n]) => `${s}: ${n}`)
      .join(', ');
    console.log(
      `| ${name} (${stats.requests.toLocaleString('en-US')}) | ${fmt.rps(stats.rps)} | ${fmt.ms(stats.p50)} | ${fmt.ms(stats.p95)} | ${fmt.ms(stats.p99)} | ${fmt.ms(stats.max)} | ${stats.errors} | ${codes} |`,
    );
  }
  for (const note of result.notes) console.log(`  ${note}`);
  console.log(
    invariantsOnly ? 'thresholds (--invariants-only: latency is reported, not judged):' : 'thresholds:',
  );
  for (const t of result.thresholds) console.log(`  ${t.ok ? '✓' : '✗'} ${t.name}: ${t.value}`);
}

async function runOne(scenario: Scenario): Promise<boolean> {
  const durationSec = Number(option('duration') ?? scenario.defaultDurationSec);
  const connections = Number(option('connections') ?? scenario.defaultConnections ?? 100);
  const k6 = args.includes('--autocannon') ? undefined : resolveK6();
  const children: Child[] = [];
  // On a cluster (REDIS_CLUSTER_NODES) the scenario runs there: the cluster is what is rehearsed.
  const onCluster = Boolean(process.env.REDIS_CLUSTER_NODES);
  const redisBin = scenario.privateRedis && !onCluster ? redisServerBin() : undefined;
  const redisServer = redisBin ? await startRedisServer(redisBin) : undefined;
  const run = await createRunEnv('loadtest', {
    ...scenario.serviceEnv?.(),
    ...(redisServer ? { REDIS_URL: redisServer.url } : {}),
  });
  log(
    `${scenario.name}: fresh database and Redis prefix ${run.config.redisKeyPrefix}${redisServer ? ` on a redis-server of its own (${redisServer.url})` : onCluster ? ' on the Redis Cluster of REDIS_CLUSTER_NODES' : ''}`,
  );
  let ok = true;
  try {
    const api = await startApi(run.env);
    children.push(api);
    const worker = await startWorker(run.env);
    children.push(worker);
    const pids = { api: api.process.pid, worker: worker.process.pid, redis: redisServer?.process.pid };
    const violations: string[] = [];
    let report: string | undefined;

    if (k6) {
      log(`running ${scenario.k6Script} with ${k6}`);
      const code = await runK6(k6, path.join(ROOT, scenario.k6Script), {
        BASE_URL: api.url,
        AUTH_JWT_SECRET: run.config.jwtSecret,
        DURATION: `${durationSec}s`,
        VUS: connections,
        RUN_ID: run.id,
        // The same shape overrides the autocannon version takes (LOADTEST_USERS -> USERS).
        ...Object.fromEntries(
          Object.entries(process.env)
            .filter(([k, v]) => k.startsWith('LOADTEST_') && v !== undefined)
            .map(([k, v]) => [k.slice('LOADTEST_'.length), v!]),
        ),
      });
      if (code !== 0) {
        ok = false;
        log(`k6 exited with ${code} (a threshold or the teardown check failed)`);
      }
    } else {
      log(`no k6 binary (K6_BIN unset, none on PATH): running the autocannon version`);
      const result = await scenario.run({
        run,
        url: api.url,
        http: httpFor(api.url, run.config.jwtSecret),
        shape: (shape) => withOverrides(shape, process.env, 'LOADTEST_'),
        durationSec,
        connections,
        pids,
        log,
      });
      printResult(scenario, result);
      report = result.report;
      violations.push(...result.violations);
      if (result.thresholds.some((t) => !t.ok && !(invariantsOnly && t.latency))) ok = false;
    }

    const storeViolations = await storeChecks(
      api.url,
      run.config.databaseUrl,
      run.config,
      run.config.redisKeyPrefix,
    );
    violations.push(...storeViolations);
    if (report) log(`report: ${path.relative(ROOT, addStoreChecks(report, storeViolations))}`);
    if (violations.length > 0) {
      ok = false;
      console.log(`invariants: ${violations.length} VIOLATIONS`);
      for (const v of violations.slice(0, 50)) console.log(`  ✗ ${v}`);
      // What the service logged (warnings and errors only) is where an unexpected answer is explained.
      for (const child of children) {
        const tail = child
          .output()
          .trim()
          .split('\n')
          .slice(-3)
          .map((line) => line.slice(0, 600));
        if (tail[0]) console.log(`last lines of the ${child.name}'s log:\n${tail.join('\n')}`);
      }
    } else {
      console.log(
        'invariants: all hold (through the API, and in Postgres and Redis after the worker drained: coupons, stock, payments)',
      );
    }
  } finally {
    for (const child of children.reverse()) await child.stop();
    if (!args.includes('--keep')) await run.cleanup();
    await redisServer?.stop();
  }
  return ok;
}

async function main() {
  if (!wantedName) usage();
  const listed = wantedName === 'all' ? SCENARIOS : SCENARIOS.filter((s) => s.name === wantedName);
  // `sale --waiting-room`: the same sale behind a waiting room (loadtests/node/waiting-room.ts).
  const chosen = args.includes('--waiting-room')
    ? listed.map((s) => (s === saleScenario ? saleWaitingRoomScenario : s))
    : listed;
  if (chosen.length === 0) usage();
  let ok = true;
  for (const scenario of chosen) ok = (await runOne(scenario)) && ok;
  console.log(ok ? '\nloadtest passed' : '\nloadtest FAILED');
  process.exit(ok ? 0 : 1);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
