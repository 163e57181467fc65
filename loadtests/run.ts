// `pnpm loadtest sale`: starts the service (API + worker) on a fresh database and Redis prefix,
// runs the sale rehearsal against 127.0.0.1, prints a summary, checks the invariants through the
// API and in Postgres/Redis, and exits non-zero on any violation or failed threshold. The sale is
// defined once in loadtests/scenarios/sale.js; with a k6 binary (K6_BIN or `k6` on PATH) its k6
// script drives it, otherwise Node (loadtests/node/sale.ts).
//
//   pnpm loadtest sale [--waiting-room]
//   options: --duration <s>  --connections <n>  --users <n>  --autocannon (ignore k6)  --keep (keep the database)
//            --invariants-only (CI: latency thresholds are reported but do not fail the run; broken
//            invariants and unexpected answers still do)
//            --no-profile (the Node driver runs the API and the worker with --cpu-prof, and the report
//            says where each answer's time goes: per procedure, per worker queue; this turns it off)
//   LOADTEST_<NAME>=<n> overrides a number of the scenario's shape (LOADTEST_COUPONS=200)
import path from 'node:path';
import { connectRedisClient, createKeys, type RedisTarget } from '@flash/core';
import { type Child, ROOT, startApi, startWorker } from '../test/processes.ts';
import { apiClient } from './lib/client.ts';
import { createRunEnv } from './lib/env.ts';
import { checkCoupons, checkPayments, checkStock, sqlPool } from './lib/invariants.ts';
import { resolveK6, runK6 } from './lib/k6.ts';
import { fmt } from './lib/load.ts';
import { redisServerBin, startRedisServer } from './lib/redis-server.ts';
import { addStoreChecks, profileRows, QUEUE_ITEMS, withProfile } from './lib/sale-report.ts';
import type { ScenarioResult } from './node/driver.ts';
import { httpFor } from './node/driver.ts';
import { saleScenario, saleWaitingRoomScenario } from './node/sale.ts';
import { withOverrides } from './scenarios/trpc.js';

const args = process.argv.slice(2);
const option = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
// --users N is LOADTEST_USERS=N: how many shoppers the sale has.
if (option('users') !== undefined) process.env.LOADTEST_USERS = option('users');
const invariantsOnly = args.includes('--invariants-only');
const scenario = args.includes('--waiting-room') ? saleWaitingRoomScenario : saleScenario;
const log = (line: string) => console.log(`[loadtest] ${line}`);

if (!args.includes('sale')) {
  console.error(
    'usage: pnpm loadtest sale [--waiting-room] [--duration s] [--connections n] [--users n] [--autocannon] [--keep] [--invariants-only]',
  );
  process.exit(2);
}

/** Postgres and Redis checks that hold after the sale, once the worker drained. */
async function storeChecks(url: string, databaseUrl: string, target: RedisTarget, prefix: string) {
  const db = sqlPool(databaseUrl);
  const redis = await connectRedisClient(target, 'command', 'loadtest-checks');
  const keys = createKeys(prefix);
  try {
    const coupons = await db.query<{ id: number; total_quantity: number }>(
      'SELECT id::int AS id, total_quantity FROM coupons',
    );
    // The worker persists issuances within about a second; give it a bounded while.
    for (let deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 200))) {
      let pending = 0;
      for (const { id } of coupons.rows) pending += await redis.xlen(keys.coupon(id).pending);
      if (pending === 0) break;
      if (Date.now() > deadline) throw new Error(`${pending} issuances still pending after 60 s`);
    }
    const api = apiClient(url);
    const products = await db.query<{ id: number }>('SELECT id::int AS id FROM products');
    const stock = [];
    // What product.get offers = on hand - units held by open orders; nothing negative.
    for (const { id } of products.rows)
      stock.push({
        id,
        available: (await api.query<{ stock: number }>('product.get', { productId: id })).stock,
      });
    const quantities = coupons.rows.map((c) => ({
      couponId: c.id,
      quantity: c.total_quantity,
      label: 'coupon',
      drained: true,
    }));
    return [
      ...(await checkCoupons(db, redis, keys, quantities)),
      ...(await checkStock(db, stock)),
      ...(await checkPayments(db)),
    ];
  } finally {
    await redis.quit();
    await db.end();
  }
}

function printResult(result: ScenarioResult) {
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

async function main(): Promise<boolean> {
  const durationSec = Number(option('duration') ?? scenario.defaultDurationSec);
  const connections = Number(option('connections') ?? scenario.defaultConnections ?? 100);
  const k6 = args.includes('--autocannon') ? undefined : resolveK6();
  const children: Child[] = [];
  // On a cluster (REDIS_CLUSTER_NODES) the sale runs there: the cluster is what is rehearsed.
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
  let report: string | undefined;
  const items: Record<string, number> = {};
  const profiles =
    k6 || args.includes('--no-profile')
      ? undefined
      : path.join(ROOT, `loadtests/results/profiles/sale-${run.id}`);
  const cpuProf = (name: string) =>
    profiles ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profiles, name)}`] : [];
  try {
    const api = await startApi(run.env, cpuProf('api'));
    children.push(api);
    const worker = await startWorker(run.env, cpuProf('worker'));
    children.push(worker);
    const pids = { api: api.process.pid, worker: worker.process.pid, redis: redisServer?.process.pid };
    const violations: string[] = [];

    if (k6) {
      log(`running ${scenario.k6Script} with ${k6}`);
      const code = await runK6(k6, path.join(ROOT, scenario.k6Script), {
        BASE_URL: api.url,
        AUTH_JWT_SECRET: run.config.jwtSecret,
        DURATION: `${durationSec}s`,
        VUS: connections,
        RUN_ID: run.id,
        ...(scenario === saleWaitingRoomScenario ? { WAITING_ROOM: 1 } : {}),
        // The same shape overrides the Node driver takes (LOADTEST_USERS -> USERS).
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
      log('no k6 binary (K6_BIN unset, none on PATH): running the Node driver');
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
      printResult(result);
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
    const db = sqlPool(run.config.databaseUrl);
    for (const [queue, sql] of Object.entries(QUEUE_ITEMS))
      items[queue] = (await db.query<{ n: number }>(sql)).rows[0]!.n;
    await db.end();
    if (violations.length > 0) {
      ok = false;
      console.log(`invariants: ${violations.length} VIOLATIONS`);
      for (const v of violations.slice(0, 50)) console.log(`  ✗ ${v}`);
      // What the service logged (warnings and errors only) is where an unexpected answer is explained.
      for (const child of children) {
        const tail = child.output().trim().split('\n').slice(-3);
        if (tail[0])
          console.log(
            `last lines of the ${child.name}'s log:\n${tail.map((l) => l.slice(0, 600)).join('\n')}`,
          );
      }
    } else {
      console.log(
        'invariants: all hold (through the API, and in Postgres and Redis after the worker drained: coupons, stock, payments)',
      );
    }
  } finally {
    // Stopped gracefully: --cpu-prof writes the profiles as each process exits.
    for (const child of children.reverse()) await child.stop();
    if (!args.includes('--keep')) await run.cleanup();
    await redisServer?.stop();
  }
  if (report && profiles) {
    const { api, worker } = profileRows(withProfile(report, profiles, items).profile!);
    const line = (x: (typeof api)[number]) =>
      `  ${x.name}: ${Math.round(x.ms)} ms${Number.isFinite(x.us) ? `, ${Math.round(x.us)} µs per ${x.n === undefined ? 'answer of the run' : 'one'}` : ''}`;
    console.log(
      `where the time went (CPU profiles in ${path.relative(ROOT, profiles)}; method in the report):`,
    );
    console.log(
      ['API:', ...api.slice(0, 12).map(line), 'worker:', ...worker.slice(0, 8).map(line)].join('\n'),
    );
  }
  return ok;
}

main().then(
  (ok) => {
    console.log(ok ? '\nloadtest passed' : '\nloadtest FAILED');
    process.exit(ok ? 0 : 1);
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
