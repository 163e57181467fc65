// Flash-crowd benchmark of `coupon.issue` through the real HTTP API, then of the persistence
// worker draining what was issued. Self-contained: a fresh database and Redis key prefix,
// the API and the worker as child processes (as `pnpm start` runs them), removed afterwards.
//
//   node loadtests/coupon-issue.autocannon.ts [--connections 200] [--duration 10] [--warmup 3]
//
// Every request is a different user (a pre-signed token each), and the coupon's quantity is
// larger than the number of requests, so each 200 is one issuance: issuances/s = 2xx/s.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createDb, dropDatabase, ensureDatabase, loadConfig, migrateToLatest, signToken } from '@flash/core';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import pg from 'pg';

const { values: opts } = parseArgs({
  options: {
    connections: { type: 'string', default: '200' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    users: { type: 'string', default: '250000' },
  },
});
const connections = Number(opts.connections);
const durationSec = Number(opts.duration);
const warmupSec = Number(opts.warmup);
const userCount = Number(opts.users);

const root = path.resolve(import.meta.dirname, '..');
const base = loadConfig();
const runId = randomBytes(4).toString('hex');
const dbUrl = new URL(base.databaseUrl);
dbUrl.pathname = `/flash_bench_${runId}`;
const env = {
  ...process.env,
  NODE_ENV: 'production',
  AUTH_JWT_SECRET: base.jwtSecret.padEnd(32, 'x'),
  LOG_LEVEL: 'warn',
  DATABASE_URL: dbUrl.toString(),
  REDIS_KEY_PREFIX: `bench:${runId}:`,
  HOST: '127.0.0.1',
  PORT: '0',
};

function start(
  app: 'api' | 'worker',
  ready: RegExp,
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, [path.join(root, 'apps', app, 'src', 'main.ts')], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk;
      const match = ready.exec(out);
      if (match) resolve({ child, match });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c) => process.stderr.write(`[${app}] ${c}`));
    child.once('exit', (code) => reject(new Error(`${app} exited with ${code}: ${out}`)));
  });
}

const stopChild = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });

async function main(): Promise<void> {
  await ensureDatabase(env.DATABASE_URL);
  const db = createDb(env.DATABASE_URL, { max: 2 });
  await migrateToLatest(db);
  await db.destroy();
  const children: ChildProcess[] = [];
  const sql = new pg.Pool({ connectionString: env.DATABASE_URL, max: 1 });
  try {
    const { child: api, match } = await start('api', /listening on (http:\/\/[\d.:]+)/);
    children.push(api);
    const url = match[1]!;

    const admin = await signToken(env.AUTH_JWT_SECRET, 1, { admin: true });
    const created = await fetch(`${url}/trpc/admin.coupon.create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({
        name: 'bench',
        discount: { type: 'PERCENT', value: 10 },
        totalQuantity: userCount,
        validDays: 7,
      }),
    });
    const couponId = ((await created.json()) as { result: { data: { couponId: number } } }).result.data
      .couponId;
    const body = JSON.stringify({ couponId });

    process.stdout.write(`signing ${userCount} user tokens... `);
    const tokens: string[] = [];
    for (let u = 1; u <= userCount; u++)
      tokens.push(`Bearer ${await signToken(env.AUTH_JWT_SECRET, 100 + u)}`);
    console.log('done');

    let next = 0;
    const run = (seconds: number) =>
      autocannon({
        url: `${url}/trpc/coupon.issue`,
        connections,
        duration: seconds,
        requests: [
          {
            method: 'POST',
            setupRequest: (req) => {
              const token = tokens[next++];
              if (token === undefined) throw new Error('out of user tokens: raise --users');
              return { ...req, headers: { 'content-type': 'application/json', authorization: token }, body };
            },
          },
        ],
      });

    if (warmupSec > 0) await run(warmupSec);
    const warmIssued = next;
    const result = await run(durationSec);
    const ok = result['2xx'];
    console.log(
      `\ncoupon.issue over HTTP, ${connections} connections, ${durationSec}s (after ${warmupSec}s warm-up):` +
        `\n  requests/s  ${Math.round(result.requests.average)} avg (${result.requests.total} requests)` +
        `\n  issued/s    ${Math.round(ok / durationSec)} (${ok} answered 200)` +
        `\n  non-2xx     ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}` +
        `\n  latency     p50 ${result.latency.p50} ms, p90 ${result.latency.p90} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms`,
    );

    // The API requested drain jobs; with no worker running they wait. Now persist everything.
    const redis = new Redis(base.redisUrl);
    const pendingKey = `${env.REDIS_KEY_PREFIX}{coupon:${couponId}}:pending`;
    const issued = Number(await redis.hlen(`${env.REDIS_KEY_PREFIX}{coupon:${couponId}}:issued`)) - 1;
    const backlog = await redis.xlen(pendingKey);
    const count = async () =>
      Number(
        (await sql.query('SELECT count(*) AS n FROM issued_coupons WHERE coupon_id = $1', [couponId])).rows[0]
          .n,
      );
    console.log(
      `\nissued in total ${issued} (${warmIssued} of them during the warm-up), pending ${backlog}, in Postgres ${await count()}`,
    );

    const { child: worker } = await start('worker', /worker draining/);
    children.push(worker);
    let first: { at: number; rows: number } | undefined;
    let rows = 0;
    for (;;) {
      rows = await count();
      const now = performance.now();
      if (!first && rows > 0) first = { at: now, rows };
      if (rows >= issued && (await redis.exists(pendingKey)) === 0) {
        const seconds = (now - first!.at) / 1000;
        // Requests still in flight when autocannon stopped may have issued a few more since.
        const finalIssued =
          Number(await redis.hlen(`${env.REDIS_KEY_PREFIX}{coupon:${couponId}}:issued`)) - 1;
        console.log(
          `worker drain: ${rows - first!.rows} rows in ${seconds.toFixed(2)} s after the first batch landed ` +
            `= ${Math.round((rows - first!.rows) / seconds)} rows/s; pending stream gone, ` +
            `${rows} rows in Postgres for ${finalIssued} issued in Redis` +
            (rows === finalIssued ? ' (equal)' : ' (MISMATCH)'),
        );
        if (rows !== finalIssued) process.exitCode = 1;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    redis.disconnect();
  } finally {
    await Promise.all(children.map(stopChild));
    await sql.end();
    await dropDatabase(env.DATABASE_URL);
    const redis = new Redis(base.redisUrl);
    let cursor = '0';
    do {
      const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${env.REDIS_KEY_PREFIX}*`, 'COUNT', 1000);
      cursor = nextCursor;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
    redis.disconnect();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
