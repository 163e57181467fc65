// The payment rows of `pnpm bench` and their ceiling (issue 24):
// - `pgbench`: Postgres' own TPC-B-like transaction (three updates, a select and an insert) on
//   a scratch database, 20 clients, prepared statements: what this Postgres on this machine
//   commits per second when nothing but SQL stands in the way. Created and dropped by the row.
// - `payment.pay.hot`: payment.pay with the orders' owners concentrated on 10 users, so every
//   payment of a user queues on that user's balance row (the `payment.pay` row in run.ts pays
//   orders of 2,000 users).
// Listed in ROWS (rows.ts) after payment.pay; their targets are in TARGETS (targets.ts).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chargeBalance, createRuntime, dropDatabase, ensureDatabase } from '@flash/core';
import { drainUnsavedOrders } from '@flash/core/internal/order/order.persist';
import { createOrder } from '@flash/core/internal/order/order.service';
import { postgresCpuMs, startApi } from '../../test/processes.ts';
import { mapLimit } from '../lib/client.ts';
import { fmt, type RequestSpec } from '../lib/load.ts';
import { mintToken } from '../lib/token.ts';
import { log, settings } from './cli.ts';
import {
  type Ctx,
  json,
  type Measured,
  measure,
  nodeArgsFor,
  plainRow,
  statsRow,
  withChild,
} from './harness.ts';
import type { BenchReport, BenchRow, TargetResult } from './report.ts';
import type { Target } from './targets.ts';

// ---------------------------------------------------------------- pgbench

/** `pgbench` with the project's connection settings; resolves with its stdout. */
function pgbench(databaseUrl: string, args: string[]): Promise<string> {
  const url = new URL(databaseUrl);
  const conn = [
    '-h',
    url.hostname,
    '-p',
    url.port || '5432',
    '-U',
    decodeURIComponent(url.username || 'postgres'),
  ];
  const db = decodeURIComponent(url.pathname.slice(1));
  return new Promise((resolve, reject) => {
    const child = spawn('pgbench', [...conn, ...args, db], {
      env: { ...process.env, PGPASSWORD: decodeURIComponent(url.password) },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      err = (err + c.toString()).slice(-4000);
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`pgbench ${args.join(' ')} exited ${code}: ${err}`)),
    );
  });
}

const PGBENCH_ARGS = ['-c', '20', '-j', '2', '-M', 'prepared', '-b', 'tpcb-like', '-n'];

/**
 * pgbench's TPC-B-like transaction on a scratch database of scale 10 (1,000,000 accounts),
 * `-c 20 -j 2 -M prepared`: a warm-up, then the measured run. The Postgres CPU per
 * transaction is measured as for the HTTP rows (every Postgres process of the machine).
 */
export async function pgbenchRow(ctx: Ctx): Promise<BenchRow> {
  const { warmupSec, durationSec } = settings;
  const url = new URL(ctx.run.config.databaseUrl);
  url.pathname = `/bench_pgbench_${randomBytes(4).toString('hex')}`;
  const databaseUrl = url.toString();
  await ensureDatabase(databaseUrl);
  try {
    const started = Date.now();
    await pgbench(databaseUrl, ['-i', '-s', '10', '-q']);
    log(`pgbench: initialised scale 10 in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await pgbench(databaseUrl, [...PGBENCH_ARGS, '-T', String(warmupSec)]);
    // pgbench's backends exit with it, before a closing snapshot could see them: their CPU is
    // sampled while they run (the last quarter second of each is lost, about 2% of a 10 s run).
    const before = postgresCpuMs();
    const last = new Map(before);
    const sample = setInterval(() => {
      for (const [pid, ms] of postgresCpuMs()) last.set(pid, ms);
    }, 250);
    let out: string;
    try {
      out = await pgbench(databaseUrl, [...PGBENCH_ARGS, '-T', String(durationSec)]);
    } finally {
      clearInterval(sample);
    }
    for (const [pid, ms] of postgresCpuMs()) last.set(pid, ms);
    let postgresMs = 0;
    for (const [pid, ms] of last) postgresMs += ms - (before.get(pid) ?? 0);
    const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1]);
    const latency = Number(/latency average = ([\d.]+) ms/.exec(out)?.[1]);
    const done = Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1]);
    const failed = Number(/number of failed transactions: (\d+)/.exec(out)?.[1] ?? 0);
    if (!Number.isFinite(tps) || !done) throw new Error(`pgbench: no result in\n${out}`);
    log(
      `pgbench: ${fmt.rps(tps)} tx/s, latency average ${latency} ms, Postgres CPU ${Math.round((postgresMs * 1000) / done)} µs/tx`,
    );
    return plainRow({
      id: 'pgbench',
      label: 'pgbench TPC-B-like (Postgres alone)',
      kind: 'ceiling',
      unit: 'tx/s',
      rps: tps,
      errors: failed,
      requests: done,
      durationSec,
      postgresCpuUs: (postgresMs * 1000) / done,
      note: `scale 10, -c 20 -j 2 -M prepared, latency average ${latency} ms; the payment rows' ceiling`,
    });
  } finally {
    await dropDatabase(databaseUrl);
  }
}

// ---------------------------------------------------------------- payment.pay, 10 users

const HOT_USERS = 10;
const HOT_FIRST_USER = 5_000_001;
/** Orders to pay: more than the row pays at the rates seen on 2 cores. */
const HOT_ORDERS = Number(process.env.BENCH_HOT_ORDERS ?? 15_000);

/**
 * payment.pay for orders of only 10 users: each user's payments queue on their balance row.
 * The orders are made through order.create and saved in Postgres before the row starts. The
 * per-user rate limit is off for this row's server (10 users paying a sale's worth of orders
 * would be throttled by it by design: the row measures the contended balance row, not the
 * limiter); the per-address limit stays on as in every row.
 */
export async function hotPaymentRow(ctx: Ctx): Promise<BenchRow> {
  const env = { ...ctx.run.env, RATE_LIMIT_USER_PER_SEC: '0' };
  const secret = ctx.run.config.jwtSecret;
  const tokens = Array.from({ length: HOT_USERS }, (_, i) => mintToken(secret, HOT_FIRST_USER + i));
  const started = Date.now();
  // Charged and ordered through the core functions the API calls (not over HTTP: the row
  // measures the payments, and a client in this process would take minutes to make the
  // orders), then saved in Postgres, as the worker would: a payment must not pay for its
  // order's save.
  const rt = await createRuntime(ctx.run.config, { name: 'bench-hot-payments' });
  let orders: { id: string; token: string }[];
  try {
    for (let u = 0; u < HOT_USERS; u++) {
      for (let n = 0; n < 2; n++) await chargeBalance(rt, HOT_FIRST_USER + u, { amount: 10_000_000 });
    }
    orders = await mapLimit(
      Array.from({ length: HOT_ORDERS }, (_, i) => i),
      32,
      async (i) => {
        const product = ctx.products[i % ctx.products.length]!;
        const order = await createOrder(rt, HOT_FIRST_USER + (i % HOT_USERS), {
          items: [{ productId: product.id, quantity: 1 }],
        });
        return { id: order.orderId, token: tokens[i % HOT_USERS]! };
      },
    );
    await drainUnsavedOrders(rt);
  } finally {
    await rt.close();
  }
  log(
    `payment.pay.hot: ${orders.length.toLocaleString('en-US')} orders of ${HOT_USERS} users made and saved in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );

  return withChild(startApi(env, nodeArgsFor('payment.pay.hot')), async (api) => {
    const stats = await measurePayments(ctx, api, orders);
    return statsRow(
      'payment.pay.hot',
      'payment.pay, 10 users (/trpc, auth)',
      'ours',
      stats,
      `${orders.length.toLocaleString('en-US')} orders of ${HOT_USERS} users: each user's balance row contended; per-user rate limit off`,
    );
  });
}

// ---------------------------------------------------------------- targets

const rowOf = (r: BenchReport, id: string) => r.rows.find((x) => x.id === id);

/** "`id` ≥ share × pgbench's tx/s of the same run", shown to two decimals rounded down. */
function shareOfPgbench(r: BenchReport, id: string, share: number): TargetResult | undefined {
  const row = rowOf(r, id);
  const ceiling = rowOf(r, 'pgbench');
  if (!row || !ceiling) return undefined;
  const ratio = row.rps / ceiling.rps;
  return {
    target: `${id} ≥ ${share.toFixed(1)}× pgbench TPC-B-like tx/s (same run)`,
    measured: `${(Math.floor(ratio * 100) / 100).toFixed(2)}×`,
    met: ratio >= share,
  };
}

/** The payment targets of issue 24; a target whose rows did not run is left out. */
export const PAYMENT_TARGETS: Target[] = [
  (r) => shareOfPgbench(r, 'payment.pay', 1),
  (r) => shareOfPgbench(r, 'payment.pay.worker', 1),
  (r) => shareOfPgbench(r, 'payment.pay.hot', 0.3),
  (r) => {
    const row = rowOf(r, 'payment.pay');
    if (!row) return undefined;
    return {
      target: `payment.pay p99 ≤ 100 ms at ${r.settings.connections} connections, zero errors`,
      measured: `${fmt.ms(row.p99)} ms, ${row.errors} errors`,
      met: row.p99 <= 100 && row.errors === 0,
    };
  },
  (r) => {
    const row = rowOf(r, 'payment.pay');
    if (!row || row.serverCpuUs === undefined || row.postgresCpuUs === undefined) return undefined;
    return {
      target: 'payment.pay: API CPU ≤ 600 µs and Postgres CPU ≤ 800 µs per payment',
      measured: `${Math.round(row.serverCpuUs)} µs, ${Math.round(row.postgresCpuUs)} µs`,
      met: row.serverCpuUs <= 600 && row.postgresCpuUs <= 800,
    };
  },
];

/**
 * Pays each order once over `/trpc/payment.pay` with its owner's token: the warm-up pays the
 * first tenth, the measurement at most the rest. Both payment rows measure through it.
 */
export function measurePayments(
  ctx: Ctx,
  api: Parameters<typeof measure>[1],
  orders: readonly { id: string; token: string }[],
): Promise<Measured> {
  let i = 0;
  const next = (): RequestSpec => {
    const order = orders[i++ % orders.length]!;
    return {
      method: 'POST',
      path: '/trpc/payment.pay',
      headers: { ...json, authorization: `Bearer ${order.token}` },
      body: JSON.stringify({ orderId: order.id }),
    };
  };
  const warmupAmount = Math.floor(orders.length / 10);
  return measure(ctx, api, next, undefined, { warmupAmount, amount: orders.length - warmupAmount });
}
