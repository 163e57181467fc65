// `pnpm loadtest sale [--waiting-room]`: the service (API + worker) on a fresh database and Redis
// prefix, the sale rehearsal against it (k6 with K6_BIN or `k6` on PATH, else node/sale.ts), the
// store checks, the report and the exit code. README.md lists the options.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type Child, ROOT, startApi, startWorker } from '../test/processes.ts';
import { redisServerBin, startPrivateRedis } from '../test/redis-server.ts';
import { createRunEnv } from './lib/env.ts';
import { sqlPool, storeChecks } from './lib/invariants.ts';
import { resolveK6, runK6 } from './lib/k6.ts';
import { finishReport, QUEUE_ITEMS, saleText } from './lib/sale-report.ts';
import { httpFor } from './node/driver.ts';
import { saleScenario, saleWaitingRoomScenario } from './node/sale.ts';
import * as sale from './scenarios/sale.js';
import { withOverrides } from './scenarios/trpc.js';
import * as wr from './scenarios/waiting-room.js';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'waiting-room': { type: 'boolean' },
    users: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string' },
    autocannon: { type: 'boolean' },
    'invariants-only': { type: 'boolean' },
    'no-profile': { type: 'boolean' },
    keep: { type: 'boolean' },
  },
});
if (positionals[0] !== 'sale') {
  console.error(
    'usage: pnpm loadtest sale [--waiting-room] [--users n] [--duration s] [--connections n] [--autocannon] [--invariants-only] [--no-profile] [--keep]',
  );
  process.exit(2);
}
if (opts.users) process.env.LOADTEST_USERS = opts.users;
const room = opts['waiting-room'];
const scenario = room ? saleWaitingRoomScenario : saleScenario;
const name = room ? 'sale --waiting-room' : 'sale';
const shape = withOverrides(room ? wr.shape : sale.shape, process.env, 'LOADTEST_');
const log = (line: string) => console.log(`[loadtest] ${line}`);

async function main(): Promise<boolean> {
  const durationSec = Number(opts.duration ?? shape.durationSec);
  const connections = Number(opts.connections ?? scenario.defaultConnections);
  const k6 = opts.autocannon ? undefined : resolveK6();
  // On a cluster (REDIS_CLUSTER_NODES) the sale runs there; else on a redis-server of its own
  // when one is installed, so Redis's commands, memory and CPU are the run's alone.
  const onCluster = Boolean(process.env.REDIS_CLUSTER_NODES);
  const redisBin = onCluster ? undefined : redisServerBin();
  const redisServer = redisBin ? await startPrivateRedis({ bin: redisBin }) : undefined;
  const run = await createRunEnv('loadtest', {
    ...sale.serviceEnv(shape),
    ...(redisServer ? { REDIS_URL: redisServer.url } : {}),
  });
  const where = redisServer ? ` on ${redisServer.url}` : onCluster ? ' on REDIS_CLUSTER_NODES' : '';
  log(`${name}: fresh database and Redis prefix ${run.config.redisKeyPrefix}${where}`);
  const profiles =
    k6 || opts['no-profile'] ? undefined : path.join(ROOT, `loadtests/results/profiles/sale-${run.id}`);
  const cpuProf = (name: string) =>
    profiles ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profiles, name)}`] : [];
  const children: Child[] = [];
  const violations: string[] = [];
  let ok = true;
  try {
    const api = await startApi(run.env, cpuProf('api'));
    children.push(api);
    const worker = await startWorker(run.env, cpuProf('worker'));
    children.push(worker);
    const http = httpFor(api.url, run.config.jwtSecret);
    let report: string | undefined;
    if (k6) {
      log(`running loadtests/k6/sale.js with ${k6}`);
      // The shape's overrides as k6's -e variables (LOADTEST_USERS -> USERS).
      const overrides = Object.entries(process.env)
        .filter(([k, v]) => k.startsWith('LOADTEST_') && v !== undefined)
        .map(([k, v]) => [k.slice('LOADTEST_'.length), v!]);
      const code = await runK6(k6, path.join(ROOT, 'loadtests/k6/sale.js'), {
        BASE_URL: api.url,
        AUTH_JWT_SECRET: run.config.jwtSecret,
        DURATION: `${durationSec}s`,
        VUS: connections,
        RUN_ID: run.id,
        ...(room ? { WAITING_ROOM: 1 } : {}),
        ...Object.fromEntries(overrides),
      });
      if (code !== 0) log(`k6 exited with ${code} (a threshold or the teardown check failed)`);
      ok = code === 0;
    } else {
      log('no k6 binary (K6_BIN unset, none on PATH): running the Node driver');
      const result = await scenario.run({
        run,
        url: api.url,
        http,
        shape: (shape) => withOverrides(shape, process.env, 'LOADTEST_'),
        durationSec,
        connections,
        pids: { api: api.process.pid, worker: worker.process.pid, redis: redisServer?.pid },
        log,
      });
      report = result.report;
      violations.push(...result.violations);
      ok = result.thresholds.every((t) => t.ok || (opts['invariants-only'] && t.latency));
    }
    const storeViolations = await storeChecks(api.url, run.config);
    violations.push(...storeViolations);
    http.close();
    const db = sqlPool(run.config.databaseUrl);
    const items: Record<string, number> = {};
    for (const [queue, sql] of Object.entries(QUEUE_ITEMS)) items[queue] = (await db.query(sql)).rows[0].n;
    await db.end();
    // Stopped gracefully: --cpu-prof writes the profiles as each process exits.
    for (const child of children.splice(0).reverse()) await child.stop();
    if (report) {
      const r = finishReport(report, storeViolations, profiles ? { dir: profiles, items } : undefined);
      console.log(saleText(r, opts['invariants-only']));
      log(`report: ${path.relative(ROOT, report.replace(/\.json$/, '.html'))}`);
    }
    if (violations.length > 0) {
      console.log(`invariants: ${violations.length} VIOLATIONS`);
      for (const v of violations.slice(0, 50)) console.log(`  ✗ ${v}`);
      // What the service logged (warnings and errors) is where an unexpected answer is explained.
      for (const child of [api, worker]) {
        const tail = child.output().trim().split('\n').slice(-3);
        if (tail[0])
          console.log(
            `last lines of the ${child.name}'s log:\n${tail.map((l) => l.slice(0, 600)).join('\n')}`,
          );
      }
    } else {
      console.log(
        'invariants: all hold (through the API, and in Postgres and Redis after the worker drained)',
      );
    }
    return ok && violations.length === 0;
  } finally {
    for (const child of children.reverse()) await child.stop();
    if (!opts.keep) await run.cleanup();
    await redisServer?.stop();
  }
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
