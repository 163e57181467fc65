/**
 * Per-procedure Prometheus metrics (prom-client), recorded by a tRPC middleware that every
 * procedure runs (see `publicProcedure` in init.ts) and served at `/metrics` by
 * plugins/metrics.ts. Units sold need the order's lines, which `payment.pay` does not return:
 * paid order ids are buffered and summed in one query per scrape.
 */
import { type Runtime, sumOrderUnits } from '@flash/core';
import type { TRPCError } from '@trpc/server';
import { Counter, Histogram, Registry } from 'prom-client';
import { appCodeOf } from './app-code.ts';

/** What a tRPC middleware's `next()` resolves to (only the parts read here). */
type NextResult = { ok: true; data: unknown } | { ok: false; error: TRPCError };

export type ApiMetrics = {
  rt: Runtime;
  registry: Registry;
  /** Paid orders whose units are not yet counted in `flash_units_sold_total`. */
  paidOrdersToCount: string[];
  procedureDuration: Histogram<'procedure' | 'outcome'>;
  refusals: Counter<'procedure' | 'code'>;
  couponsIssued: Counter<'coupon_id'>;
  ordersCreated: Counter;
  ordersPaid: Counter;
  paidAmount: Counter;
  unitsSold: Counter;
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
  const registry = new Registry();
  const registers = [registry];
  const created: ApiMetrics = {
    rt,
    registry,
    paidOrdersToCount: [],
    procedureDuration: new Histogram({
      name: 'flash_procedure_duration_seconds',
      help: 'Time spent in each tRPC procedure (input validation included), by outcome: ok or the appCode',
      labelNames: ['procedure', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    refusals: new Counter({
      name: 'flash_refusals_total',
      help: 'Calls answered with a domain error, by procedure and appCode',
      labelNames: ['procedure', 'code'],
      registers,
    }),
    couponsIssued: new Counter({
      name: 'flash_coupons_issued_total',
      help: 'Successful coupon.issue calls, by coupon',
      labelNames: ['coupon_id'],
      registers,
    }),
    ordersCreated: new Counter({
      name: 'flash_orders_created_total',
      help: 'Successful order.create calls (idempotent replays included)',
      registers,
    }),
    ordersPaid: new Counter({
      name: 'flash_orders_paid_total',
      help: 'Successful payment.pay calls (idempotent replays included)',
      registers,
    }),
    paidAmount: new Counter({
      name: 'flash_paid_amount_krw_total',
      help: 'KRW debited by successful payment.pay calls',
      registers,
    }),
    unitsSold: new Counter({
      name: 'flash_units_sold_total',
      help: 'Units in the orders paid through this process (summed from their lines at scrape time)',
      registers,
      collect: () => countPaidUnits(created),
    }),
  };
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
  const metrics = apiMetrics(rt);
  let outcome = 'ok';
  if (result.ok) {
    recordSuccess(metrics, procedure, result.data);
  } else {
    outcome = appCodeOf(result.error) ?? 'INTERNAL';
    if (outcome !== 'INTERNAL') metrics.refusals.inc({ procedure, code: outcome });
  }
  metrics.procedureDuration.observe({ procedure, outcome }, seconds);
}

function recordSuccess(metrics: ApiMetrics, procedure: string, data: unknown): void {
  switch (procedure) {
    case 'coupon.issue':
      metrics.couponsIssued.inc({ coupon_id: (data as { couponId: number }).couponId });
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
