// A/B of server variants on the bench's hot rows, alternating back to back in one run:
//   loadtests/bench/ab/tree.sh <ref> /tmp/ab/base [patch...]     (one tree per variant)
//   pnpm exec node loadtests/bench/ab/ab.ts base=/tmp/ab/base nofast=/tmp/ab/nofast
// One database and Redis prefix for the whole run; each round starts every variant's API
// (`<tree>/apps/api/src/main.ts`) fresh for each row, in an order rotated round by round, and
// prints a TSV line per measurement: round, variant, row, req/s, server CPU µs/req. Then per row
// the median server CPU of each variant and its ratio to the first variant's, round by round.
// Environment: AB_ROWS (coupon.issue,coupon.issue.soldout,order.create), AB_ROUNDS (3),
// AB_DURATION (s, 5), AB_WARMUP (s, 2), AB_CONNECTIONS (100), AB_USERS (40000). Needs wrk.
import path from 'node:path';
import { connectRedis, createKeys } from '@flash/core';
import { runIssueCoupon } from '@flash/core/coupon/coupon.store';
import { cpuTimeMs, startChild } from '../../lib/children.ts';
import { apiClient } from '../../lib/client.ts';
import { createRunEnv } from '../../lib/env.ts';
import type { RequestSpec } from '../../lib/load.ts';
import { createCoupon, createProduct } from '../../lib/seed.ts';
import { mintBearerPack, mintToken } from '../../lib/token.ts';
import { runWrkLoad } from '../../lib/wrk.ts';

const variants = process.argv.slice(2).map((arg) => {
  const [name, dir] = arg.split('=');
  if (!name || !dir) throw new Error(`expected name=/path/to/tree, got ${arg}`);
  return { name, main: path.resolve(dir, 'apps/api/src/main.ts') };
});
if (variants.length < 2) throw new Error('usage: ab.ts a=/tree/a b=/tree/b [...]');
const env = process.env;
const ROWS = (env.AB_ROWS ?? 'coupon.issue,coupon.issue.soldout,order.create').split(',');
const ROUNDS = Number(env.AB_ROUNDS ?? 3);
const DURATION = Number(env.AB_DURATION ?? 5);
const WARMUP = Number(env.AB_WARMUP ?? 2);
const CONNECTIONS = Number(env.AB_CONNECTIONS ?? 100);
/** Distinct users per coupon.issue measurement (AB_USERS): more than the row answers in warm-up + window. */
const USERS_PER_RUN = Number(env.AB_USERS ?? 40_000);
const MAX_RPS = Math.ceil(USERS_PER_RUN / (DURATION + WARMUP));

const run = await createRunEnv('ab');
// Interrupted: still drop the run's database and keys.
process.once('SIGTERM', () => void run.cleanup().finally(() => process.exit(143)));
const startApi = async (main: string) => {
  const child = await startChild('api', main, {
    env: { ...run.env, PORT: '0', HOST: '127.0.0.1' },
    ready: /listening on (http:\/\/[\d.:[\]]+)/,
  });
  return { ...child, url: child.match };
};

type Result = { round: number; variant: string; row: string; rps: number; cpuUs: number; errors: number };
const results: Result[] = [];
try {
  const admin = mintToken(run.config.jwtSecret, 1, { admin: true, ttlSeconds: 6 * 3600 });
  const seeding = await startApi(variants[0]!.main);
  const client = apiClient(seeding.url);
  const issueCoupon = await createCoupon(client, admin, { name: 'ab issue', totalQuantity: 10_000_000 });
  const soldOutCoupon = await createCoupon(client, admin, { name: 'ab sold out', totalQuantity: 1 });
  const products = [];
  for (let i = 0; i < 8; i++) {
    products.push(await createProduct(client, admin, { name: `ab ${i}`, price: 1000, stock: 10_000_000 }));
  }
  await seeding.stop();
  const redis = await connectRedis(run.config.redisUrl, 'command', 'ab-runner');
  await runIssueCoupon(redis, createKeys(run.config.redisKeyPrefix).coupon(soldOutCoupon), {
    userId: 1,
    nowMs: Date.now(),
  });
  await redis.quit();

  const json = { 'content-type': 'application/json' };
  const orderUsers = Array.from(
    { length: 2000 },
    (_, i) => `Bearer ${mintToken(run.config.jwtSecret, 100 + i)}`,
  );
  const orderBodies = products.map((p) => JSON.stringify({ items: [{ productId: p.id, quantity: 1 }] }));
  let nextUser = 10_000;

  /** The row's request builder (fresh users for the coupon rows) and the status it expects. */
  function rowRequests(row: string): { next: () => RequestSpec; expectStatus?: number } {
    if (row === 'order.create') {
      let i = 0;
      return {
        next: () => {
          const n = i++;
          return {
            method: 'POST',
            path: '/trpc/order.create',
            headers: { ...json, authorization: orderUsers[n % orderUsers.length]! },
            body: orderBodies[n % orderBodies.length],
          };
        },
      };
    }
    const soldOut = row === 'coupon.issue.soldout';
    const tokens = mintBearerPack(run.config.jwtSecret, nextUser, USERS_PER_RUN);
    nextUser += USERS_PER_RUN;
    const body = JSON.stringify({ couponId: soldOut ? soldOutCoupon : issueCoupon });
    let i = 0;
    return {
      next: () => ({
        method: 'POST',
        path: '/trpc/coupon.issue',
        headers: { ...json, authorization: tokens.bearer(i++ % tokens.count) },
        body,
      }),
      expectStatus: soldOut ? 409 : undefined,
    };
  }
  for (let round = 1; round <= ROUNDS; round++) {
    for (const row of ROWS) {
      const shift = (round - 1) % variants.length;
      for (const variant of [...variants.slice(shift), ...variants.slice(0, shift)]) {
        const { next, expectStatus } = rowRequests(row);
        const api = await startApi(variant.main);
        try {
          const load = {
            url: api.url,
            connections: CONNECTIONS,
            next,
            expectStatus,
            threads: 2,
            maxRps: MAX_RPS,
          };
          await runWrkLoad({ ...load, durationSec: WARMUP });
          const before = cpuTimeMs(api.process.pid);
          const stats = await runWrkLoad({ ...load, durationSec: DURATION });
          const cpuUs = ((cpuTimeMs(api.process.pid) - before) * 1000) / stats.requests;
          const result = { round, variant: variant.name, row, rps: stats.rps, cpuUs, errors: stats.errors };
          if (stats.repeats)
            console.error(`# ${variant.name} ${row}: ${stats.repeats} repeated requests; raise AB_USERS`);
          results.push(result);
          console.log(
            [round, variant.name, row, Math.round(stats.rps), Math.round(cpuUs), stats.errors].join('\t'),
          );
        } finally {
          await api.stop();
        }
      }
    }
  }
} finally {
  await run.cleanup();
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
console.log('\nrow\tvariant\tmedian server CPU µs/req\tmedian req/s\tCPU vs first, per round');
for (const row of ROWS) {
  for (const variant of variants) {
    const mine = results.filter((r) => r.row === row && r.variant === variant.name);
    const ratios = mine.map((r) => {
      const first = results.find(
        (b) => b.row === row && b.round === r.round && b.variant === variants[0]!.name,
      );
      return first ? (r.cpuUs / first.cpuUs).toFixed(2) : '-';
    });
    console.log(
      [
        row,
        variant.name,
        Math.round(median(mine.map((r) => r.cpuUs))),
        Math.round(median(mine.map((r) => r.rps))),
        ratios.join(' '),
      ].join('\t'),
    );
  }
}
