// In-process A/B of server variants: each variant's API is built in a process of its own
// (`buildServer` from `<tree>/apps/api/src/server.ts`) and served calls through Fastify's
// `inject()` against the real Redis, 50 in flight; its CPU per call is the process's CPU
// (`process.cpuUsage`, GC threads included) over the measured calls. No HTTP sockets and no load
// generator share the cores, so the CPU-bound mechanisms (the token check, the middleware chain,
// metrics, error stacks) show through a busy machine's noise better than in `ab.ts`, whose
// server CPU per request also follows how many requests each event-loop turn gathers.
//   pnpm exec node loadtests/bench/ab/inject.ts base=/tmp/ab/base nofast=/tmp/ab/nofast
// Environment: AB_ROWS (coupon.issue,coupon.issue.soldout,order.create), AB_ROUNDS (5),
// AB_CALLS (6000 measured per row and variant, after 2000 warm-up calls).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { connectRedis, createKeys, loadConfig } from '@flash/core';
import { runIssueCoupon } from '@flash/core/coupon/coupon.store';
import { createRunEnv } from '../../lib/env.ts';
import { mintToken } from '../../lib/token.ts';

const IN_FLIGHT = 50;
const WARMUP_CALLS = 2000;
const env = process.env;

type Row = 'coupon.issue' | 'coupon.issue.soldout' | 'order.create';
type Seed = { issue: number; soldOut: number; products: number[] };

if (process.argv[2] === '--child') await child();
else await orchestrate();

/** One measurement: builds the tree's API, warms it up, then times CPU over the calls. */
async function child(): Promise<void> {
  const [, , , tree, row, firstUserText, callsText, seedText] = process.argv as string[];
  const seed = JSON.parse(seedText!) as Seed;
  const calls = Number(callsText);
  const firstUser = Number(firstUserText);
  const core = await import(path.join(tree!, 'packages/core/src/index.ts'));
  const { buildServer } = await import(path.join(tree!, 'apps/api/src/server.ts'));
  const config = core.loadConfig(process.env);
  const app = await buildServer(config, { logger: false });
  await app.ready();
  const total = WARMUP_CALLS + calls;
  const bearers = Array.from(
    { length: total },
    (_, i) => `Bearer ${mintToken(config.jwtSecret, firstUser + i)}`,
  );
  const body = (i: number) =>
    row === 'order.create'
      ? JSON.stringify({ items: [{ productId: seed.products[i % seed.products.length], quantity: 1 }] })
      : JSON.stringify({ couponId: row === 'coupon.issue' ? seed.issue : seed.soldOut });
  const expected = row === 'coupon.issue.soldout' ? 409 : 200;
  let unexpected = 0;
  const run = async (from: number, to: number) => {
    for (let start = from; start < to; start += IN_FLIGHT) {
      const end = Math.min(start + IN_FLIGHT, to);
      const answers = await Promise.all(
        Array.from({ length: end - start }, (_, k) =>
          app.inject({
            method: 'POST',
            url: `/trpc/${row === 'order.create' ? 'order.create' : 'coupon.issue'}`,
            headers: { 'content-type': 'application/json', authorization: bearers[start + k]! },
            payload: body(start + k),
          }),
        ),
      );
      for (const a of answers) if (a.statusCode !== expected) unexpected++;
    }
  };
  await run(0, WARMUP_CALLS);
  const before = process.cpuUsage();
  const started = performance.now();
  await run(WARMUP_CALLS, total);
  const spent = process.cpuUsage(before);
  const wallMs = performance.now() - started;
  await app.close();
  console.log(JSON.stringify({ cpuUs: (spent.user + spent.system) / calls, wallMs, unexpected }));
  process.exit(0);
}

async function orchestrate(): Promise<void> {
  const variants = process.argv.slice(2).map((arg) => {
    const [name, dir] = arg.split('=');
    if (!name || !dir) throw new Error(`expected name=/path/to/tree, got ${arg}`);
    return { name, tree: path.resolve(dir) };
  });
  const rows = (env.AB_ROWS ?? 'coupon.issue,coupon.issue.soldout,order.create').split(',') as Row[];
  const rounds = Number(env.AB_ROUNDS ?? 5);
  const calls = Number(env.AB_CALLS ?? 6000);
  const run = await createRunEnv('abi');
  process.once('SIGTERM', () => void run.cleanup().finally(() => process.exit(143)));
  try {
    const seed = await seedRun(run.env);
    let nextUser = 10_000;
    const results: { round: number; variant: string; row: Row; cpuUs: number }[] = [];
    for (let round = 1; round <= rounds; round++) {
      for (const row of rows) {
        const shift = (round - 1) % variants.length;
        for (const variant of [...variants.slice(shift), ...variants.slice(0, shift)]) {
          const firstUser = nextUser;
          nextUser += WARMUP_CALLS + calls;
          const out = await runChild(run.env, [
            variant.tree,
            row,
            String(firstUser),
            String(calls),
            JSON.stringify(seed),
          ]);
          const { cpuUs, wallMs, unexpected } = JSON.parse(out) as {
            cpuUs: number;
            wallMs: number;
            unexpected: number;
          };
          results.push({ round, variant: variant.name, row, cpuUs });
          console.log(
            [
              round,
              variant.name,
              row,
              Math.round((calls / wallMs) * 1000),
              cpuUs.toFixed(1),
              unexpected,
            ].join('\t'),
          );
        }
      }
    }
  } finally {
    await run.cleanup();
  }
}

/** Coupons (one plentiful, one already sold out) and products, written through the worktree's own API. */
async function seedRun(childEnv: NodeJS.ProcessEnv): Promise<Seed> {
  const { buildServer } = await import('../../../apps/api/src/server.ts');
  const config = loadConfig(childEnv);
  const app = await buildServer(config, { logger: false });
  const admin = `Bearer ${mintToken(config.jwtSecret, 1, { admin: true })}`;
  const mutate = async (procedure: string, input: unknown) => {
    const res = await app.inject({
      method: 'POST',
      url: `/trpc/${procedure}`,
      headers: { 'content-type': 'application/json', authorization: admin },
      payload: JSON.stringify(input),
    });
    if (res.statusCode !== 200) throw new Error(`${procedure}: ${res.statusCode} ${res.body}`);
    return JSON.parse(res.body).result.data;
  };
  const coupon = (totalQuantity: number) =>
    mutate('admin.coupon.create', { name: 'ab', discount: { type: 'FIXED', value: 100 }, totalQuantity });
  const issue = (await coupon(10_000_000)).couponId as number;
  const soldOut = (await coupon(1)).couponId as number;
  const products: number[] = [];
  for (let i = 0; i < 8; i++) {
    products.push(
      (await mutate('admin.product.create', { name: `ab ${i}`, price: 1000, stock: 10_000_000 })).id,
    );
  }
  await app.close();
  const redis = await connectRedis(config.redisUrl, 'command', 'ab-seed');
  await runIssueCoupon(redis, createKeys(config.redisKeyPrefix).coupon(soldOut), {
    userId: 1,
    nowMs: Date.now(),
  });
  redis.disconnect();
  return { issue, soldOut, products };
}

function runChild(childEnv: NodeJS.ProcessEnv, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [import.meta.filename, '--child', ...args], {
      env: { ...childEnv, LOG_LEVEL: 'error' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (err += d));
    proc.once('exit', (code) =>
      code === 0
        ? resolve(out.trim().split('\n').at(-1)!)
        : reject(new Error(`child exited ${code}: ${err}${out}`)),
    );
  });
}
