// The sale rehearsal in Node, plain (`pnpm loadtest sale`, loadtests/scenarios/sale.js) or behind
// a waiting room (`--waiting-room`, loadtests/scenarios/waiting-room.js): one journey for both.
// Every shopper is one async journey that waits its planned arrival and think times; the calls
// share a keep-alive pool of `--connections` sockets (1,000 by default). Behind a room a shopper
// first joins, sleeps until its turn (from its ticket, the room's admittedThrough and rate), looks
// at the room, takes its pass from waitingRoom.status and goes through the funnel with it; the
// driver keeps when each answer was sent and received and judges fairness from them at the end
// (loadtests/lib/fairness.ts), and reads the room's Redis memory (MEMORY USAGE of its hash) once
// the last shopper has joined.
// A monitor samples the worker backlogs, Redis memory and Postgres writes once a second, until
// the last abandoned order expired. The report goes to the console and to
// loadtests/results/sale[-waiting-room]-<run>.html (charts) and .json (every number).
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { connectRedisClient, createKeys } from '@flash/core';
import { countUnsavedOrders } from '@flash/core/internal/order/order.store';
import { ROOT } from '../../test/processes.ts';
import { judgeFairness, type Look, Records } from '../lib/fairness.ts';
import { sqlPool } from '../lib/invariants.ts';
import { type LoadStats, percentile } from '../lib/load.ts';
import { type MonitorTotals, type Sample, startMonitor } from '../lib/monitor.ts';
import { type SaleReport, secs, writeSaleReport } from '../lib/sale-report.ts';
import * as sale from '../scenarios/sale.js';
import { type Call, withOverrides } from '../scenarios/trpc.js';
import * as wr from '../scenarios/waiting-room.js';
import type { Scenario, ScenarioContext, Threshold } from './driver.ts';

type Step = sale.Step | wr.WaitStep;
/** `sentAt` is the first attempt's: a join answered UNAVAILABLE may still have taken its ticket then. */
type Answer = { status: number; body: string; outcome: string; sentAt: number; receivedAt: number };
type Bucket = SaleReport['perSecond'][number];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const isWaiting = (step: Step): step is wr.WaitStep => (wr.WAIT_STEPS as readonly Step[]).includes(step);

export const saleScenario: Scenario = {
  name: sale.name,
  description: sale.description,
  k6Script: 'loadtests/k6/sale.js',
  defaultDurationSec: sale.shape.durationSec,
  defaultConnections: 1000,
  privateRedis: true,
  serviceEnv: () => sale.serviceEnv(withOverrides(sale.shape, process.env, 'LOADTEST_')),
  run: (ctx) => runSale(ctx, false),
};

export const saleWaitingRoomScenario: Scenario = {
  ...saleScenario,
  description: wr.description,
  defaultDurationSec: wr.shape.durationSec,
  serviceEnv: () => sale.serviceEnv(withOverrides(wr.shape, process.env, 'LOADTEST_')),
  run: (ctx) => runSale(ctx, true),
};

/** Sends calls over one keep-alive pool; a call's `pass` goes as X-Waiting-Room-Pass. */
function socketPool(ctx: ScenarioContext) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: ctx.connections });
  const base = new URL(ctx.url);
  const send = (call: Call): Promise<{ status: number; body: string }> => {
    const spec = ctx.http.spec(call);
    const headers = call.pass ? { ...spec.headers, [wr.PASS_HEADER]: call.pass } : spec.headers;
    return new Promise((resolve) => {
      const req = http.request(
        { host: base.hostname, port: base.port, method: spec.method, path: spec.path, headers, agent },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            body += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          res.on('error', (err) => resolve({ status: 0, body: String(err) }));
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
      req.on('error', (err) => resolve({ status: 0, body: String(err) }));
      req.end(spec.body);
    });
  };
  return { send, close: () => agent.destroy() };
}

async function runSale(ctx: ScenarioContext, withRoom: boolean) {
  // The room's settings are read only behind a room.
  const s = ctx.shape({ ...(withRoom ? wr.shape : sale.shape), durationSec: ctx.durationSec }) as wr.Shape;
  const { couponId } = await ctx.http.ok(sale.createCoupon(s));
  const productIds: number[] = [];
  for (const call of sale.createProducts(s)) productIds.push((await ctx.http.ok(call)).id);
  const roomId: number | undefined = withRoom
    ? (await ctx.http.ok(wr.createRoom(s, couponId, productIds))).roomId
    : undefined;
  ctx.log(
    `${s.users} shoppers within ${s.durationSec} s${roomId ? ` through room ${roomId} admitting ${s.admitPerSecond}/s` : ''} for ${s.coupons} coupons and ${s.products} × ${s.stock} units; orders held ${s.holdSeconds} s; ${ctx.connections} sockets`,
  );
  const steps: Step[] = withRoom ? [...wr.WAIT_STEPS, ...sale.STEPS] : [...sale.STEPS];
  const latencies = Object.fromEntries(steps.map((k) => [k, [] as number[]])) as Record<Step, number[]>;
  const outcomes = Object.fromEntries(steps.map((k) => [k, {}])) as Record<Step, Record<string, number>>;
  const perSecond: Bucket[] = [];
  const tally = sale.newTally(s);
  const firstRefusal: Record<string, number> = {};
  const { send, close } = socketPool(ctx);
  /** Answers that shed load (UNAVAILABLE, RATE_LIMITED): thresholds count them, invariants do not. */
  let shed = 0;
  let started = 0;
  let lastOrderAt = 0;

  const timed = async (step: Step, call: Call, attempt = 1, firstSentAt?: number): Promise<Answer> => {
    const sentAt = performance.now();
    const a = await send(call);
    const receivedAt = performance.now();
    latencies[step].push(receivedAt - sentAt);
    const waiting = isWaiting(step);
    const outcome = isWaiting(step) ? wr.waitOutcomeOf(a.status) : wr.funnelOutcomeOf(step, a.status, a.body);
    outcomes[step][outcome] = (outcomes[step][outcome] ?? 0) + 1;
    const sec = Math.floor((receivedAt - started) / 1000);
    for (let i = perSecond.length; i <= sec; i++) perSecond.push({ ok: 0, refused: 0, unexpected: 0 });
    const b = perSecond[sec]!;
    const again = () => timed(step, call, attempt + 1, firstSentAt ?? sentAt);
    if (outcome === 'ok') {
      b.ok++;
      if (!waiting) b[step] = (b[step] ?? 0) + 1;
    } else if (outcome === 'unexpected' || outcome === 'NOT_ADMITTED') {
      b.unexpected++;
      tally.unexpected.push(`${step} for user ${call.user}: HTTP ${a.status} ${a.body.slice(0, 200)}`);
      // A waiting call that timed out is asked again, as a waiting page would: joining twice
      // answers the same ticket, and the other two only read.
      if (waiting && a.status === 0 && attempt < sale.RETRY_ATTEMPTS) return again();
    } else if (sale.SHED.includes(outcome)) {
      b.unexpected++;
      shed++;
      const retry = waiting ? attempt < sale.RETRY_ATTEMPTS : sale.retries(step, call, outcome, attempt);
      if (retry) {
        await sleep(sale.RETRY_PAUSE_MS);
        return again();
      }
    } else {
      b.refused++;
      const product = outcome === 'OUT_OF_STOCK' ? JSON.parse(call.body ?? '{}').items?.[0]?.productId : '';
      firstRefusal[product ? `${outcome} product ${product}` : outcome] ??= receivedAt - started;
    }
    return { ...a, outcome, sentAt: firstSentAt ?? sentAt, receivedAt };
  };
  const twice = async (step: 'order' | 'pay', call: Call, retries: boolean) => {
    if (!retries) return timed(step, call);
    const [first, again] = await Promise.all([timed(step, call), timed(step, call)]);
    return sale.compareRetry(tally, step, first, again);
  };

  // Behind a room: what each shopper was told when, for fairness and the waits.
  const rec = new Records(s.users + 1);
  const looks: Look[] = [];
  const positionsUp: string[] = [];
  let joinsSettled = 0;
  let memory: { bytes: number; tickets: number; waiting: number; atMs: number } | undefined;
  const db = sqlPool(ctx.run.config.databaseUrl);
  const redis = await connectRedisClient(ctx.run.config, 'command', 'loadtest-monitor');
  const keys = createKeys(ctx.run.config.redisKeyPrefix);
  const memoryProbe = async () => {
    try {
      const bytes = Number(
        await redis.call('MEMORY', 'USAGE', keys.waitingRoom(roomId!).room, 'SAMPLES', '0'),
      );
      const room = wr.roomOf((await send(wr.roomCall(roomId!))).body);
      const atMs = performance.now() - started;
      memory = { bytes, tickets: room.joined, waiting: room.joined - room.admittedThrough, atMs };
    } catch (err) {
      ctx.log(`Redis memory of the room not read: ${err}`);
    }
  };

  /** Waits in the room; the pass, or undefined when the service failed this shopper. */
  const wait = async (index: number, p: sale.Plan): Promise<string | undefined> => {
    const j = await timed('join', wr.joinCall(p, roomId!));
    if (index < s.users && ++joinsSettled === s.users) void memoryProbe();
    if (j.outcome !== 'ok') return undefined;
    const joined = wr.joinOf(j.body);
    rec.ticket[index] = joined.ticket;
    rec.joinSentAt[index] = j.sentAt;
    rec.joinReceivedAt[index] = j.receivedAt;
    let position = joined.position;
    const saw = (admitted: boolean, next: number, a: Answer) => {
      if (admitted) rec.admittedAt[index] = Math.min(rec.admittedAt[index]!, a.receivedAt);
      else rec.lastNotYetSentAt[index] = a.sentAt;
      if (next > position) positionsUp.push(`ticket ${joined.ticket}: position ${position} then ${next}`);
      position = next;
    };
    saw(joined.admitted, joined.position, j);
    if (joined.pass) {
      rec.passAt[index] = j.receivedAt;
      return joined.pass;
    }
    await sleep(wr.firstDelayMs(s, joined, Math.random));
    for (;;) {
      const g = await timed('get', wr.roomCall(roomId!));
      if (g.outcome !== 'ok') return undefined;
      rec.looks[index]!++;
      const room = wr.roomOf(g.body);
      looks.push({ sentAt: g.sentAt, receivedAt: g.receivedAt, through: room.admittedThrough });
      saw(joined.ticket <= room.admittedThrough, wr.positionOf(joined.ticket, room.admittedThrough), g);
      const delay = wr.pollDelayMs(s, joined.ticket, room, Date.now(), Math.random);
      if (delay === 0) break;
      await sleep(delay);
    }
    const st = await timed('status', wr.statusCall(p, roomId!));
    if (st.outcome !== 'ok') return undefined;
    const status = wr.statusOf(st.body);
    saw(status.admitted, status.position, st);
    if (!status.pass) {
      tally.unexpected.push(`ticket ${joined.ticket}: waitingRoom.get said admitted, status said ${st.body}`);
      return undefined;
    }
    rec.passAt[index] = st.receivedAt;
    return status.pass;
  };

  const shopper = async (index: number) => {
    const p = sale.plan(s, ctx.run.id, index, Math.random);
    await sleep(started + p.arriveMs - performance.now());
    const pass = roomId ? await wait(index, p) : undefined;
    if (roomId && !pass) return;
    const guarded = (call: Call | undefined) => (call && pass ? { ...call, pass } : call);
    const issued = (await timed('issue', guarded(sale.issueCall(p, couponId))!)).outcome === 'ok';
    if (issued) tally.issued++;
    const order = guarded(sale.orderCall(p, productIds, issued ? couponId : undefined));
    if (!order) return;
    await sleep(p.thinkMs[0]);
    const o = await twice('order', order, p.retries);
    if (o.outcome !== 'ok') return;
    lastOrderAt = performance.now();
    const { orderId, payAmount } = sale.orderOf(o.body);
    tally.ordered[p.product]! += 1;
    if (p.abandons) {
      tally.abandoned.push({ user: p.user, orderId });
      return;
    }
    await sleep(p.thinkMs[1]);
    if (payAmount > 0 && (await timed('charge', sale.chargeCall(p, payAmount))).outcome !== 'ok') return;
    await sleep(p.thinkMs[2]);
    if ((await twice('pay', sale.payCall(p, orderId), p.retries)).outcome === 'ok')
      tally.paid[p.product]! += 1;
  };

  try {
    const monitor = await startMonitor({ db, redis, prefix: ctx.run.config.redisKeyPrefix, pids: ctx.pids });
    const offset = Date.now();
    const cpu0 = process.cpuUsage();
    started = performance.now();
    await Promise.all(Array.from({ length: s.users }, (_, i) => shopper(i)));
    const journeysMs = performance.now() - started;
    const cpu = process.cpuUsage(cpu0);
    const loadgenCpuMs = (cpu.user + cpu.system) / 1000;
    ctx.log(`last journey ended after ${(journeysMs / 1000).toFixed(1)} s; waiting for the expiries`);

    // Every abandoned order expires holdSeconds after it was made, then the 1-second sweep
    // runs; on a busy machine give the worker a bounded while longer.
    await sleep(lastOrderAt + s.holdSeconds * 1000 + 1500 - performance.now());
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(500)) {
      const { rows } = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM orders WHERE status = 'PENDING_PAYMENT'",
      );
      if ((rows[0]?.n ?? 0) === 0 && (await countUnsavedOrders(redis, keys)) === 0) break;
    }
    const totals = await monitor.stop();
    const expiredAtMs = performance.now() - started;

    const calls = sale.closingCalls(s, tally, productIds, couponId);
    // Behind a room the newcomer of the closing check waits its turn like everyone.
    const newcomer = { ...sale.plan(s, ctx.run.id, s.users, Math.random), arriveMs: 0 };
    const newcomerPass = roomId ? await wait(s.users, newcomer) : undefined;
    const answers = {
      abandoned: await ctx.http.sendAll(calls.abandoned),
      products: await ctx.http.sendAll(calls.products),
      top: ctx.sharedDatabase ? undefined : await ctx.http.send(calls.top),
      coupon:
        roomId && !newcomerPass
          ? { status: 0, body: 'the newcomer got no pass' }
          : await send({ ...calls.coupon, pass: newcomerPass }),
    };
    const { violations, expired } = sale.verdict(s, tally, answers);

    const stats = Object.fromEntries(
      steps.map((k) => [k, statsOf(latencies[k], outcomes[k], journeysMs)]),
    ) as Record<Step, LoadStats>;
    /** The funnel's calls together: the sale's every call, the admitted shoppers' behind a room. */
    const all = statsOf(
      sale.STEPS.flatMap((k) => latencies[k]),
      sumCounts(sale.STEPS.map((k) => outcomes[k])),
      journeysMs,
    );
    const answered = steps.reduce((n, k) => n + latencies[k].length, 0);
    const unexpected = tally.unexpected.length + shed;
    const room = roomId ? roomReport(rec, s, looks, positionsUp, memory, roomId) : undefined;
    const thresholds = thresholdsOf(all, unexpected, room && stats.join);
    const report: SaleReport = {
      runId: ctx.run.id,
      startedAt: new Date(offset).toISOString(),
      shape: s,
      sockets: ctx.connections,
      funnel: {
        shoppers: s.users,
        ...(room ? { admitted: room.waits.admitted } : {}),
        issued: tally.issued,
        ordersCreated: tally.ordered.reduce((a, b) => a + b, 0),
        ordersPaid: tally.paid.reduce((a, b) => a + b, 0),
        ordersAbandoned: tally.abandoned.length,
        ordersExpired: expired,
        unitsPaidPerProduct: tally.paid,
      },
      soldOutAtMs: firstRefusal,
      journeysMs,
      expiredAtMs,
      outcomes,
      steps: Object.fromEntries(
        steps.map((k) => {
          const { requests: n, p50, p95, p99, max } = stats[k];
          return [k, { n, p50, p95, p99, max }];
        }),
      ),
      perSecond,
      samples: monitor.samples,
      totals,
      perAnswer: perAnswer(totals, answered),
      loadgen: { cpuMs: loadgenCpuMs, coresBusy: loadgenCpuMs / journeysMs },
      room,
      verdict: { thresholds, violations: [...violations, ...(room?.violations ?? [])] },
    };
    const file = writeReport(report, withRoom ? 'sale-waiting-room' : 'sale');
    return {
      description: withRoom ? wr.description : sale.describe(s),
      stats: [
        ...steps.map((k) => ({ name: k, stats: stats[k] })),
        { name: withRoom ? 'admitted calls' : 'all steps', stats: all },
      ],
      thresholds,
      violations: report.verdict!.violations,
      notes: notesOf(report, file),
      report: path.join(ROOT, file.replace(/\.html$/, '.json')),
    };
  } finally {
    close();
    await redis.quit();
    await db.end();
  }
}

/** Fairness, waits and memory of the room, from what the shoppers were told. */
function roomReport(
  rec: Records,
  s: wr.Shape,
  looks: Look[],
  positionsUp: string[],
  memory: { bytes: number; tickets: number; waiting: number; atMs: number } | undefined,
  roomId: number,
) {
  const n = s.users;
  const fairness = judgeFairness(rec, n, looks);
  const w: number[] = [];
  let lookTotal = 0;
  let most = 0;
  for (let i = 0; i < n; i++) {
    if (Number.isFinite(rec.passAt[i]!)) w.push(rec.passAt[i]! - rec.joinReceivedAt[i]!);
    lookTotal += rec.looks[i]!;
    most = Math.max(most, rec.looks[i]!);
  }
  const sorted = Float64Array.from(w).sort();
  const violations = [...positionsUp.slice(0, 20), ...fairness.violations];
  if (positionsUp.length > 20) violations.push(`... ${positionsUp.length} positions went up in all`);
  return {
    roomId,
    fairness: { ...fairness, positionsUp: positionsUp.length },
    waits: {
      admitted: w.length,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      longest: sorted.at(-1) ?? Number.NaN,
    },
    looksPerShopper: { mean: Number((lookTotal / Math.max(1, n)).toFixed(2)), most },
    memory: memory && { ...memory, bytesPerShopper: memory.bytes / Math.max(1, memory.tickets) },
    violations,
  };
}

/**
 * The scenario module's thresholds (behind a room: the room's, with the join's p99) against the
 * funnel's calls; unexpected answers include shed ones and socket errors.
 */
function thresholdsOf(all: LoadStats, unexpected: number, join?: LoadStats): Threshold[] {
  const ms = (v: number) => `${v.toFixed(1)} ms`;
  if (join) {
    const t = wr.thresholds;
    return [
      { name: `join p99 ≤ ${t.join.p99} ms`, value: ms(join.p99), ok: join.p99 <= t.join.p99, latency: true },
      {
        name: `admitted calls p95 ≤ ${t.admitted.p95} ms`,
        value: ms(all.p95),
        ok: all.p95 <= t.admitted.p95,
        latency: true,
      },
      {
        name: `admitted calls p99 ≤ ${t.admitted.p99} ms`,
        value: ms(all.p99),
        ok: all.p99 <= t.admitted.p99,
        latency: true,
      },
      { name: 'unexpected answers = 0', value: String(unexpected), ok: unexpected <= t.unexpected },
    ];
  }
  const t = sale.thresholds;
  const rate = unexpected / Math.max(1, all.requests);
  return [
    { name: `all calls p95 < ${t.p95} ms`, value: ms(all.p95), ok: all.p95 < t.p95, latency: true },
    { name: `all calls p99 < ${t.p99} ms`, value: ms(all.p99), ok: all.p99 < t.p99, latency: true },
    {
      name: `all calls unexpected answers < ${t.unexpected * 100}%`,
      value: `${(rate * 100).toFixed(3)}%`,
      ok: rate < t.unexpected,
    },
  ];
}

/** Outcome counts of several steps added up (an outcome may appear in more than one). */
function sumCounts(counts: Record<string, number>[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const c of counts) for (const [k, n] of Object.entries(c)) sum[k] = (sum[k] ?? 0) + n;
  return sum;
}

function statsOf(ms: number[], codes: Record<string, number>, windowMs: number): LoadStats {
  const sorted = Float64Array.from(ms).sort();
  // Refusals the sale expects (sold out, expired) are answers, not errors.
  const errors = Object.entries(codes).reduce(
    (n, [k, c]) => (k === 'unexpected' || k === 'NOT_ADMITTED' || sale.SHED.includes(k) ? n + c : n),
    0,
  );
  return {
    requests: ms.length,
    durationSec: windowMs / 1000,
    rps: ms.length / (windowMs / 1000),
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    errors,
    statusCounts: codes,
  };
}

function perAnswer(t: MonitorTotals, answers: number) {
  const redisCalls = Object.values(t.redisCalls).reduce((a, b) => a + b, 0);
  return {
    answers,
    apiCpuUs: ((t.cpuMs.api ?? Number.NaN) * 1000) / answers,
    redisCpuUs: ((t.cpuMs.redis ?? Number.NaN) * 1000) / answers,
    workerCpuUs: ((t.cpuMs.worker ?? Number.NaN) * 1000) / answers,
    postgresCpuUs: ((t.cpuMs.postgres ?? Number.NaN) * 1000) / answers,
    redisCalls: redisCalls / answers,
    pgRows: t.pg.rows / answers,
    pgCommits: t.pg.commits / answers,
  };
}

const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;

function notesOf(r: SaleReport, file: string): string[] {
  const f = r.funnel;
  const peak = (pick: (x: Sample) => number) => Math.max(0, ...r.samples.map(pick));
  const lagRows = Object.keys(r.samples[0]?.backlogs ?? {}).map((name) => {
    const during = r.samples.filter((x) => x.t <= r.journeysMs);
    const maxCount = Math.max(0, ...during.map((x) => x.backlogs[name]?.count ?? 0));
    const maxAge = Math.max(0, ...during.map((x) => x.backlogs[name]?.oldestMs ?? 0));
    const end = r.samples[r.samples.length - 1]?.backlogs[name];
    return `  ${name.padEnd(26)} during: up to ${maxCount} waiting, oldest ${secs(maxAge)}; at the end: ${end?.count ?? '–'} waiting`;
  });
  const t = r.totals;
  const pa = r.perAnswer;
  const room = r.room;
  const fair = room?.fairness;
  return [
    `shape: ${JSON.stringify(r.shape)}`,
    `funnel: ${f.shoppers} shoppers -> ${f.admitted === undefined ? '' : `${f.admitted} admitted -> `}${f.issued} coupons issued -> ${f.ordersCreated} orders created -> ${f.ordersPaid} paid, ${f.ordersAbandoned} abandoned, ${f.ordersExpired} of these seen EXPIRED; units paid per product ${JSON.stringify(f.unitsPaidPerProduct)}`,
    `sold out (first refusal after the first arrival): ${
      Object.entries(r.soldOutAtMs)
        .map(([k, v]) => `${k} at ${secs(v)}`)
        .join('; ') || 'never'
    }`,
    `journeys done after ${secs(r.journeysMs)}, the last abandoned order expired by ${secs(r.expiredAtMs)}`,
    ...(room && fair
      ? [
          `fairness: rank correlation of join order vs admission order ${fair.spearman.toFixed(6)} (required 1.0); ${fair.joinOrderBreaks} join-order breaks, ${fair.inversions} admission inversions, ${fair.positionsUp} positions that went up, ${fair.roomWentBack} room answers that went back`,
          `wait (join answered -> pass in hand): p50 ${secs(room.waits.p50)}, p99 ${secs(room.waits.p99)}, longest ${secs(room.waits.longest)}; looks at the room per shopper: ${JSON.stringify(room.looksPerShopper)}`,
          room.memory
            ? `Redis memory of the room: ${room.memory.bytes} bytes for ${room.memory.tickets} tickets (${room.memory.waiting} waiting) = ${room.memory.bytesPerShopper.toFixed(1)} bytes per shopper, when the last shopper had joined (${secs(room.memory.atMs)})`
            : 'Redis memory of the room: not measured',
        ]
      : []),
    'worker backlogs (count, age of the oldest item):',
    ...lagRows,
    `Redis used_memory: ${mb(t.redisUsedBytesAtStart)} at the start, peak ${mb(t.redisPeakUsedBytes)}, ${mb(t.redisUsedBytesAtEnd)} at the end`,
    `Postgres (this run's database): ${t.pg.inserted} rows inserted, ${t.pg.updated} updated, ${t.pg.deleted} deleted, ${t.pg.commits} commits; peak ${Math.round(peak((x) => x.pgRowsPerSec))} rows/s, ${Math.round(peak((x) => x.pgCommitsPerSec))} commits/s`,
    `Redis commands: ${Object.entries(t.redisCalls)
      .slice(0, 8)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `CPU over the run (ms): ${Object.entries(t.cpuMs)
      .map(([k, v]) => `${k} ${Math.round(v)}`)
      .join(
        ', ',
      )} (postgres = every Postgres process of the machine, shared); load generator ${Math.round(r.loadgen.cpuMs)} = ${r.loadgen.coresBusy.toFixed(2)} cores`,
    `per answer (${pa.answers}): API ${pa.apiCpuUs.toFixed(0)} µs CPU, Redis ${pa.redisCpuUs.toFixed(0)} µs, worker ${pa.workerCpuUs.toFixed(0)} µs; ${pa.redisCalls.toFixed(2)} Redis commands, ${pa.pgRows.toFixed(2)} Postgres rows, ${pa.pgCommits.toFixed(2)} commits`,
    `report: ${file}`,
  ];
}

function writeReport(r: SaleReport, name: string): string {
  const dir = path.join(ROOT, 'loadtests/results');
  mkdirSync(dir, { recursive: true });
  return path.relative(ROOT, writeSaleReport(path.join(dir, `${name}-${r.runId}`), r));
}
