// `pnpm loadtest sale --waiting-room` in Node: loadtests/scenarios/waiting-room.js defines it.
// Every shopper is one async journey: arrive, join, sleep until its turn (from its ticket, the
// room's admittedThrough and rate), look at the room, get its pass from waitingRoom.status, then
// the sale's funnel with the pass. Calls share a keep-alive pool of `--connections` sockets.
//
// Besides latencies it keeps, per shopper, when each answer was sent and received, and judges
// fairness from them at the end (loadtests/lib/fairness.ts): join order, admission order (its
// rank correlation with join order must be 1.0), and no position ever going up.
// Redis memory per shopper is MEMORY USAGE of the room's hash (all that waiting costs) over the
// tickets in it, read when the last shopper has joined. The report goes to the console and to
// loadtests/results/sale-waiting-room-<run>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { connectRedisClient, createKeys } from '@flash/core';
import { countUnsavedOrders } from '@flash/core/order/order.store';
import { ROOT } from '../lib/children.ts';
import { judgeFairness, type Look, Records } from '../lib/fairness.ts';
import { sqlPool } from '../lib/invariants.ts';
import { type LoadStats, percentile } from '../lib/load.ts';
import { startMonitor } from '../lib/monitor.ts';
import * as sale from '../scenarios/sale.js';
import type { Call } from '../scenarios/trpc.js';
import { withOverrides } from '../scenarios/trpc.js';
import * as wr from '../scenarios/waiting-room.js';
import type { Scenario, Threshold } from './driver.ts';

type Step = sale.Step | wr.WaitStep;
/** `sentAt` is the first attempt's: a join the service answered UNAVAILABLE may still have taken its ticket then. */
type Answer = { status: number; body: string; outcome: string; sentAt: number; receivedAt: number };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const STEPS: Step[] = [...wr.WAIT_STEPS, ...sale.STEPS];

export const saleWaitingRoomScenario: Scenario = {
  name: 'sale',
  description: wr.description,
  k6Script: 'loadtests/k6/sale-waiting-room.js',
  defaultDurationSec: wr.shape.durationSec,
  defaultConnections: 1000,
  privateRedis: true,
  serviceEnv: () => sale.serviceEnv(withOverrides(wr.shape, process.env, 'LOADTEST_')),
  async run(ctx) {
    const s = ctx.shape({ ...wr.shape, durationSec: ctx.durationSec });
    const { couponId } = await ctx.http.ok(sale.createCoupon(s));
    const productIds: number[] = [];
    for (const call of sale.createProducts(s)) productIds.push((await ctx.http.ok(call)).id);
    const { roomId } = await ctx.http.ok(wr.createRoom(s, couponId, productIds));
    ctx.log(
      `${s.users} shoppers within ${s.durationSec} s through room ${roomId} admitting ${s.admitPerSecond}/s, for ${s.coupons} coupons and ${s.products} × ${s.stock} units; ${ctx.connections} sockets`,
    );

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

    const latencies = Object.fromEntries(STEPS.map((k) => [k, [] as number[]])) as Record<Step, number[]>;
    const outcomes = Object.fromEntries(STEPS.map((k) => [k, {}])) as Record<Step, Record<string, number>>;
    const tally = sale.newTally(s);
    const unexpected: string[] = [];
    const positionsUp: string[] = [];
    let shed = 0;
    let started = 0;
    const rec = new Records(s.users + 1);
    /** Every waitingRoom.get answer: when it was sent and received, and its admittedThrough. */
    const looks: Look[] = [];

    const timed = async (step: Step, call: Call, attempt = 1, firstSentAt?: number): Promise<Answer> => {
      const sentAt = performance.now();
      const a = await send(call);
      const receivedAt = performance.now();
      latencies[step].push(receivedAt - sentAt);
      const outcome =
        step === 'join' || step === 'get' || step === 'status'
          ? wr.waitOutcomeOf(a.status)
          : wr.funnelOutcomeOf(step, a.status, a.body);
      outcomes[step][outcome] = (outcomes[step][outcome] ?? 0) + 1;
      const waiting = step === 'join' || step === 'get' || step === 'status';
      if (outcome === 'unexpected' || outcome === 'NOT_ADMITTED') {
        unexpected.push(`${step} for user ${call.user}: HTTP ${a.status} ${a.body.slice(0, 200)}`);
        // A waiting call that timed out is asked again, as a waiting page would: joining twice
        // answers the same ticket, and the other two only read.
        if (waiting && a.status === 0 && attempt < sale.RETRY_ATTEMPTS) {
          return timed(step, call, attempt + 1, firstSentAt ?? sentAt);
        }
      } else if (sale.SHED.includes(outcome)) {
        shed++;
        const retry = waiting || sale.retries(step, call, outcome, attempt);
        if (retry && attempt < sale.RETRY_ATTEMPTS) {
          await sleep(sale.RETRY_PAUSE_MS);
          return timed(step, call, attempt + 1, firstSentAt ?? sentAt);
        }
      }
      return { ...a, outcome, sentAt: firstSentAt ?? sentAt, receivedAt };
    };
    const twice = async (step: 'order' | 'pay', call: Call, retries: boolean) => {
      if (!retries) return timed(step, call);
      const [first, again] = await Promise.all([timed(step, call), timed(step, call)]);
      return sale.compareRetry(tally, step, first, again);
    };

    /** Waits in the room; the pass, or undefined when the service failed this shopper. */
    const wait = async (index: number, p: sale.Plan): Promise<string | undefined> => {
      const j = await timed('join', wr.joinCall(p, roomId));
      // Redis memory is read once every shopper's join has been answered (or failed).
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
        const g = await timed('get', wr.roomCall(roomId));
        if (g.outcome !== 'ok') return undefined;
        rec.looks[index]!++;
        const room = wr.roomOf(g.body);
        looks.push({ sentAt: g.sentAt, receivedAt: g.receivedAt, through: room.admittedThrough });
        saw(joined.ticket <= room.admittedThrough, wr.positionOf(joined.ticket, room.admittedThrough), g);
        const delay = wr.pollDelayMs(s, joined.ticket, room, Date.now(), Math.random);
        if (delay === 0) break;
        await sleep(delay);
      }
      const st = await timed('status', wr.statusCall(p, roomId));
      if (st.outcome !== 'ok') return undefined;
      const status = wr.statusOf(st.body);
      saw(status.admitted, status.position, st);
      if (!status.pass) {
        unexpected.push(
          `ticket ${joined.ticket}: waitingRoom.get said admitted, status said ${st.body.slice(0, 200)}`,
        );
        return undefined;
      }
      rec.passAt[index] = st.receivedAt;
      return status.pass;
    };

    const shopper = async (index: number) => {
      const p = sale.plan(s, ctx.run.id, index, Math.random);
      await sleep(started + p.arriveMs - performance.now());
      const pass = await wait(index, p);
      if (!pass) return;
      const issued = (await timed('issue', wr.withPass(sale.issueCall(p, couponId), pass)!)).outcome === 'ok';
      if (issued) tally.issued++;
      const order = wr.withPass(sale.orderCall(p, productIds, issued ? couponId : undefined), pass);
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

    const db = sqlPool(ctx.run.config.databaseUrl);
    const redis = await connectRedisClient(ctx.run.config, 'command', 'loadtest-monitor');
    const roomKey = createKeys(ctx.run.config.redisKeyPrefix).waitingRoom(roomId).room;
    let joinsSettled = 0;
    let lastOrderAt = 0;
    let memory: { bytes: number; tickets: number; waiting: number; atMs: number } | undefined;
    const memoryProbe = async () => {
      try {
        const bytes = Number(await redis.call('MEMORY', 'USAGE', roomKey, 'SAMPLES', '0'));
        const room = wr.roomOf((await send(wr.roomCall(roomId))).body);
        memory = {
          bytes,
          tickets: room.joined,
          waiting: room.joined - room.admittedThrough,
          atMs: performance.now() - started,
        };
      } catch (err) {
        ctx.log(`Redis memory of the room not read: ${err}`);
      }
    };
    try {
      const monitor = await startMonitor({
        db,
        redis,
        prefix: ctx.run.config.redisKeyPrefix,
        pids: ctx.pids,
      });
      const offset = Date.now();
      const cpu0 = process.cpuUsage();
      started = performance.now();
      // The newcomer of the closing check (sale.closingCalls) is one more shopper: it waits its
      // turn like everyone, after the last arrival, then claims the coupon with its pass.
      await Promise.all(Array.from({ length: s.users }, (_, i) => shopper(i)));
      const journeysMs = performance.now() - started;
      const cpu = process.cpuUsage(cpu0);
      const loadgenCpuMs = (cpu.user + cpu.system) / 1000;
      ctx.log(`last journey ended after ${(journeysMs / 1000).toFixed(1)} s; waiting for the expiries`);

      await sleep(lastOrderAt + s.holdSeconds * 1000 + 1500 - performance.now());
      const deadline = Date.now() + 60_000;
      for (;;) {
        const { rows } = await db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM orders WHERE status = 'PENDING_PAYMENT'",
        );
        const unsaved = await countUnsavedOrders(redis, createKeys(ctx.run.config.redisKeyPrefix));
        if ((rows[0]?.n ?? 0) === 0 && unsaved === 0) break;
        if (Date.now() > deadline) break;
        await sleep(500);
      }
      const totals = await monitor.stop();

      const newcomer = { ...sale.plan(s, ctx.run.id, s.users, Math.random), arriveMs: 0 };
      const newcomerPass = await wait(s.users, newcomer);
      const calls = sale.closingCalls(s, tally, productIds, couponId);
      const answers = {
        abandoned: await ctx.http.sendAll(calls.abandoned),
        products: await ctx.http.sendAll(calls.products),
        coupon: newcomerPass
          ? await send({ ...calls.coupon, pass: newcomerPass })
          : { status: 0, body: 'the newcomer got no pass' },
      };
      const verdict = sale.verdict(s, tally, answers);
      const fairness = judgeFairness(rec, s.users, looks);
      const waits = waitsOf(rec, s.users);

      const stats = Object.fromEntries(
        STEPS.map((k) => [k, statsOf(latencies[k], outcomes[k], journeysMs)]),
      ) as Record<Step, LoadStats>;
      const admitted = statsOf(
        sale.STEPS.flatMap((k) => latencies[k]),
        Object.assign({}, ...sale.STEPS.map((k) => outcomes[k])),
        journeysMs,
      );
      const answered = STEPS.reduce((n, k) => n + latencies[k].length, 0);
      const report = {
        runId: ctx.run.id,
        startedAt: new Date(offset).toISOString(),
        shape: s,
        sockets: ctx.connections,
        roomId,
        journeysMs,
        funnel: {
          shoppers: s.users,
          admitted: waits.admitted,
          issued: tally.issued,
          ordersCreated: tally.ordered.reduce((a, b) => a + b, 0),
          ordersPaid: tally.paid.reduce((a, b) => a + b, 0),
          ordersAbandoned: tally.abandoned.length,
          ordersExpired: verdict.expired,
        },
        fairness,
        waits,
        looksPerShopper: looksOf(rec, s.users),
        memory: memory && { ...memory, bytesPerShopper: memory.bytes / Math.max(1, memory.tickets) },
        loadgen: { cpuMs: loadgenCpuMs, coresBusy: loadgenCpuMs / journeysMs },
        steps: Object.fromEntries(
          STEPS.map((k) => [
            k,
            {
              n: stats[k].requests,
              p50: stats[k].p50,
              p95: stats[k].p95,
              p99: stats[k].p99,
              max: stats[k].max,
            },
          ]),
        ),
        admittedCalls: {
          n: admitted.requests,
          p50: admitted.p50,
          p95: admitted.p95,
          p99: admitted.p99,
          max: admitted.max,
        },
        outcomes,
        unexpected: unexpected.length + shed,
        unexpectedSamples: unexpected.slice(0, 20),
        totals,
        cpuPerAnswerUs: Object.fromEntries(
          Object.entries(totals.cpuMs).map(([k, v]) => [k, (v * 1000) / answered]),
        ),
      };
      const file = writeReport(report);
      const t = wr.thresholds;
      const thresholds: Threshold[] = [
        {
          name: `join p99 ≤ ${t.join.p99} ms`,
          value: `${stats.join.p99.toFixed(1)} ms`,
          ok: stats.join.p99 <= t.join.p99,
        },
        {
          name: `admitted calls p95 ≤ ${t.admitted.p95} ms`,
          value: `${admitted.p95.toFixed(1)} ms`,
          ok: admitted.p95 <= t.admitted.p95,
        },
        {
          name: `admitted calls p99 ≤ ${t.admitted.p99} ms`,
          value: `${admitted.p99.toFixed(1)} ms`,
          ok: admitted.p99 <= t.admitted.p99,
        },
        {
          name: 'unexpected answers = 0',
          value: String(report.unexpected),
          ok: report.unexpected <= t.unexpected,
        },
      ];
      const violations = [
        ...verdict.violations,
        ...unexpected.slice(0, 20),
        ...positionsUp.slice(0, 20),
        ...fairness.violations,
      ];
      if (positionsUp.length > 20) violations.push(`... ${positionsUp.length} positions went up in all`);
      return {
        stats: [
          ...STEPS.map((k) => ({ name: k, stats: stats[k] })),
          { name: 'admitted calls', stats: admitted },
        ],
        thresholds,
        violations,
        notes: [
          `shape: ${JSON.stringify(s)}`,
          `funnel: ${JSON.stringify(report.funnel)}`,
          `fairness: rank correlation of join order vs admission order ${fairness.spearman.toFixed(6)} (required 1.0); ${fairness.joinOrderBreaks} join-order breaks, ${fairness.inversions} admission inversions, ${positionsUp.length} positions that went up, ${fairness.roomWentBack} room answers that went back`,
          `wait (join answered -> pass in hand): p50 ${secs(waits.p50)}, p99 ${secs(waits.p99)}, longest ${secs(waits.longest)}; looks at the room per shopper: ${JSON.stringify(report.looksPerShopper)}`,
          memory
            ? `Redis memory of the room: ${memory.bytes} bytes for ${memory.tickets} tickets (${memory.waiting} waiting) = ${report.memory!.bytesPerShopper.toFixed(1)} bytes per shopper, when the last shopper had joined (${secs(memory.atMs)})`
            : 'Redis memory of the room: not measured',
          `load generator CPU: ${Math.round(loadgenCpuMs)} ms over ${secs(journeysMs)} = ${report.loadgen.coresBusy.toFixed(2)} cores`,
          `CPU over the run (ms): ${Object.entries(totals.cpuMs)
            .map(([k, v]) => `${k} ${Math.round(v)}`)
            .join(', ')}`,
          `report: ${file}`,
        ],
      };
    } finally {
      agent.destroy();
      await redis.quit();
      await db.end();
    }
  },
};

function waitsOf(rec: Records, n: number) {
  const w: number[] = [];
  for (let i = 0; i < n; i++)
    if (Number.isFinite(rec.passAt[i]!)) w.push(rec.passAt[i]! - rec.joinReceivedAt[i]!);
  const sorted = Float64Array.from(w).sort();
  return {
    admitted: w.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    longest: sorted.at(-1) ?? Number.NaN,
  };
}

function looksOf(rec: Records, n: number) {
  let total = 0;
  let most = 0;
  for (let i = 0; i < n; i++) {
    total += rec.looks[i]!;
    most = Math.max(most, rec.looks[i]!);
  }
  return { mean: Number((total / Math.max(1, n)).toFixed(2)), most };
}

function statsOf(ms: number[], codes: Record<string, number>, windowMs: number): LoadStats {
  const sorted = Float64Array.from(ms).sort();
  const errors = Object.entries(codes).reduce((n, [k, c]) => (k === 'ok' ? n : n + c), 0);
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

const secs = (ms: number | undefined) =>
  ms === undefined || !Number.isFinite(ms) ? '–' : `${(ms / 1000).toFixed(2)} s`;

function writeReport(r: { runId: string } & Record<string, unknown>): string {
  const dir = path.join(ROOT, 'loadtests/results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `sale-waiting-room-${r.runId}.json`);
  writeFileSync(file, JSON.stringify(r, null, 2));
  return path.relative(ROOT, file);
}
