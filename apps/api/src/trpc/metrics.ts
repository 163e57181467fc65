/**
 * Per-procedure Prometheus metrics, recorded by a tRPC middleware that every procedure runs
 * (see `publicProcedure` in init.ts) and served at `/metrics` by plugins/metrics.ts.
 *
 * The middleware is on the hot path of every call. prom-client's own Histogram and Counter
 * validate and hash their label object on every observation (about 3 µs a call); the series
 * here are plain numbers in maps keyed by the label values, and become Prometheus samples only
 * when a scrape asks. Units sold need the order's lines, which `payment.pay` does not return:
 * paid order ids are buffered and summed in one query per scrape.
 */
import type { Runtime } from '@flash/core';
import { sumOrderUnits } from '@flash/core/metrics/metrics.repository';
import type { TRPCError } from '@trpc/server';
import { type Metric, Registry } from 'prom-client';
import { appCodeOf } from './app-code.ts';

/** What a tRPC middleware's `next()` resolves to (only the parts read here). */
type NextResult = { ok: true; data: unknown } | { ok: false; error: TRPCError };

type Sample = { labels: Record<string, string | number>; value: number; metricName?: string };
type Snapshot = {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: Sample[];
};

/** A counter with up to two labels; `inc` is two map lookups and an addition. */
class FastCounter {
  readonly name: string;
  readonly help: string;
  readonly type = 'counter';
  readonly aggregator = 'sum';
  private readonly labelNames: string[];
  private readonly series = new Map<string, Map<string, number>>();
  private readonly beforeScrape: (() => Promise<void>) | undefined;

  constructor(name: string, help: string, labelNames: string[] = [], beforeScrape?: () => Promise<void>) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    this.beforeScrape = beforeScrape;
  }

  inc(by = 1, a = '', b = ''): void {
    let inner = this.series.get(a);
    if (!inner) {
      inner = new Map();
      this.series.set(a, inner);
    }
    inner.set(b, (inner.get(b) ?? 0) + by);
  }

  async get(): Promise<Snapshot> {
    await this.beforeScrape?.();
    const values: Sample[] = [];
    const [first, second] = this.labelNames;
    for (const [a, inner] of this.series) {
      for (const [b, value] of inner) {
        const labels: Record<string, string> = {};
        if (first) labels[first] = a;
        if (second) labels[second] = b;
        values.push({ labels, value });
      }
    }
    if (this.labelNames.length === 0 && values.length === 0) values.push({ labels: {}, value: 0 });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

type Series = { counts: number[]; sum: number; count: number };

/** A histogram with two labels; `observe` is two map lookups, a bucket search and three additions. */
class FastHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly labelNames: [string, string];
  private readonly bounds: number[];
  private readonly series = new Map<string, Map<string, Series>>();

  constructor(name: string, help: string, labelNames: [string, string], bounds: number[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    this.bounds = bounds;
  }

  observe(a: string, b: string, value: number): void {
    let inner = this.series.get(a);
    if (!inner) {
      inner = new Map();
      this.series.set(a, inner);
    }
    let s = inner.get(b);
    if (!s) {
      s = { counts: new Array<number>(this.bounds.length).fill(0), sum: 0, count: 0 };
      inner.set(b, s);
    }
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    if (i < bounds.length) s.counts[i]! += 1;
    s.sum += value;
    s.count += 1;
  }

  async get(): Promise<Snapshot> {
    const values: Sample[] = [];
    const [first, second] = this.labelNames;
    for (const [a, inner] of this.series) {
      for (const [b, s] of inner) {
        const labels = { [first]: a, [second]: b };
        let cumulative = 0;
        this.bounds.forEach((le, i) => {
          cumulative += s.counts[i]!;
          values.push({ labels: { ...labels, le }, value: cumulative, metricName: `${this.name}_bucket` });
        });
        values.push({ labels: { ...labels, le: '+Inf' }, value: s.count, metricName: `${this.name}_bucket` });
        values.push({ labels, value: s.sum, metricName: `${this.name}_sum` });
        values.push({ labels, value: s.count, metricName: `${this.name}_count` });
      }
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

export type ApiMetrics = {
  rt: Runtime;
  registry: Registry;
  /** Paid orders whose units are not yet counted in `flash_units_sold_total`. */
  paidOrdersToCount: string[];
  procedureDuration: FastHistogram;
  refusals: FastCounter;
  couponsIssued: FastCounter;
  ordersCreated: FastCounter;
  ordersPaid: FastCounter;
  paidAmount: FastCounter;
  unitsSold: FastCounter;
};

/** A paid-order buffer this long is summed right away instead of waiting for a scrape. */
const COUNT_UNITS_EVERY = 5_000;
/** Ids kept while Postgres cannot be asked; beyond this the oldest are dropped (and not counted). */
const MAX_PAID_ORDERS_BUFFERED = 200_000;

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const metricsByRuntime = new WeakMap<Runtime, ApiMetrics>();

/** The metrics of one API runtime (one per process outside tests), created on first use. */
export function apiMetrics(rt: Runtime): ApiMetrics {
  const metrics = metricsByRuntime.get(rt);
  if (metrics) return metrics;
  const created: ApiMetrics = {
    rt,
    registry: new Registry(),
    paidOrdersToCount: [],
    procedureDuration: new FastHistogram(
      'flash_procedure_duration_seconds',
      'Time spent in each tRPC procedure (input validation included), by outcome: ok or the appCode',
      ['procedure', 'outcome'],
      LATENCY_BUCKETS,
    ),
    refusals: new FastCounter(
      'flash_refusals_total',
      'Calls answered with a domain error, by procedure and appCode',
      ['procedure', 'code'],
    ),
    couponsIssued: new FastCounter('flash_coupons_issued_total', 'Successful coupon.issue calls, by coupon', [
      'coupon_id',
    ]),
    ordersCreated: new FastCounter(
      'flash_orders_created_total',
      'Successful order.create calls (idempotent replays included)',
    ),
    ordersPaid: new FastCounter(
      'flash_orders_paid_total',
      'Successful payment.pay calls (idempotent replays included)',
    ),
    paidAmount: new FastCounter('flash_paid_amount_krw_total', 'KRW debited by successful payment.pay calls'),
    unitsSold: new FastCounter(
      'flash_units_sold_total',
      'Units in the orders paid through this process (summed from their lines at scrape time)',
      [],
      () => countPaidUnits(created),
    ),
  };
  for (const metric of [
    created.procedureDuration,
    created.refusals,
    created.couponsIssued,
    created.ordersCreated,
    created.ordersPaid,
    created.paidAmount,
    created.unitsSold,
  ]) {
    // The registry only calls get() and reads name and type from these.
    created.registry.registerMetric(metric as unknown as Metric);
  }
  metricsByRuntime.set(rt, created);
  return created;
}

/**
 * Times one procedure call and counts its outcome. Placed before the error mapping, so a
 * failed call's error already carries its AppError.
 */
export async function measureProcedure<R extends NextResult>(
  rt: Runtime,
  procedure: string,
  next: () => Promise<R>,
): Promise<R> {
  const started = performance.now();
  const result = await next();
  recordProcedure(rt, procedure, result, started);
  return result;
}

/** What measureProcedure records once a call has its result (`started`: performance.now()). */
export function recordProcedure(rt: Runtime, procedure: string, result: NextResult, started: number): void {
  const seconds = (performance.now() - started) / 1000;
  const metrics = metricsByRuntime.get(rt) ?? apiMetrics(rt);
  let outcome = 'ok';
  if (result.ok) {
    recordSuccess(metrics, procedure, result.data);
  } else {
    outcome = appCodeOf(result.error) ?? 'INTERNAL';
    if (outcome !== 'INTERNAL') metrics.refusals.inc(1, procedure, outcome);
  }
  metrics.procedureDuration.observe(procedure, outcome, seconds);
}

function recordSuccess(metrics: ApiMetrics, procedure: string, data: unknown): void {
  switch (procedure) {
    case 'coupon.issue':
      metrics.couponsIssued.inc(1, String((data as { couponId: number }).couponId));
      return;
    case 'order.create':
      metrics.ordersCreated.inc();
      return;
    case 'payment.pay': {
      const { orderId, amount } = data as { orderId: string; amount: number };
      metrics.ordersPaid.inc();
      metrics.paidAmount.inc(amount);
      const buffered = metrics.paidOrdersToCount.push(orderId);
      // Between scrapes a sale can pay many orders: sum them now rather than let the buffer grow.
      if (buffered % COUNT_UNITS_EVERY === 0) void countPaidUnits(metrics);
      return;
    }
  }
}

const counting = new WeakSet<ApiMetrics>();

/**
 * Adds the units of the buffered paid orders to `flash_units_sold_total`. The ids leave the
 * buffer before the query and go back only if it fails (Postgres down: the next scrape tries
 * again), so no order is summed twice.
 */
async function countPaidUnits(metrics: ApiMetrics): Promise<void> {
  const ids = metrics.paidOrdersToCount;
  if (ids.length === 0 || counting.has(metrics)) return;
  counting.add(metrics);
  metrics.paidOrdersToCount = [];
  try {
    metrics.unitsSold.inc(await sumOrderUnits(metrics.rt.db, ids));
  } catch {
    const kept = ids.concat(metrics.paidOrdersToCount);
    metrics.paidOrdersToCount = kept.slice(Math.max(0, kept.length - MAX_PAID_ORDERS_BUFFERED));
  } finally {
    counting.delete(metrics);
  }
}
