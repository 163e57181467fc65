// k6 driver of loadtests/scenarios/sale.js (which defines the scenario).
//   k6 run -e BASE_URL=http://127.0.0.1:3000 -e AUTH_JWT_SECRET=... loadtests/k6/sale.js
// The service must run with ORDER_HOLD_SECONDS = HOLD_SECONDS (`pnpm loadtest sale` sets both).
// Variables: USERS, COUPONS, PRODUCTS, STOCK, THINK_MIN_MS, ABANDON_PCT, RETRY_PCT, ... (the
// shape's names), RUN_ID (makes this run's idempotency keys its own), VUS (pre-allocated virtual
// users), DURATION (the arrival window).
// Shoppers arrive at a constant rate over the window (one iteration each, a virtual user per
// shopper in flight); the closing check reads every shopper's orders in teardown.

import { check, sleep } from 'k6';
import exec from 'k6/execution';
import { Counter, Rate, Trend } from 'k6/metrics';
import * as sale from '../scenarios/sale.js';
import { allOrders, assertNone, configure, ok, send, sendAll, thresholdsOf, VUS } from './lib.js';

const { shape, duration } = configure(sale.shape);
const RUN_ID = __ENV.RUN_ID || `${Date.now()}`;
const windowSec = Number(duration.replace(/s$/, '')) || shape.durationSec;

const unexpected = new Rate('unexpected_answers');
const retryMismatches = new Counter('retry_mismatches');
/** Per step: its answers' durations, whatever the outcome. */
const stepTrend = Object.fromEntries(sale.STEPS.map((step) => [step, new Trend(`step_${step}`, true)]));
/** ms after the first arrival at which each kind of sold-out refusal was seen (min = the sell-out). */
const soldOutAt = new Trend('sold_out_at_ms');
const funnel = {
  issued: new Counter('funnel_issued'),
  ordered: new Counter('funnel_orders_created'),
  abandoned: new Counter('funnel_orders_abandoned'),
  paid: new Counter('funnel_orders_paid'),
};

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    sale: {
      executor: 'constant-arrival-rate',
      rate: Math.ceil(shape.users / windowSec),
      timeUnit: '1s',
      duration: `${windowSec}s`,
      preAllocatedVUs: VUS,
      maxVUs: shape.users,
    },
  },
  thresholds: { ...thresholdsOf(sale.thresholds), retry_mismatches: ['count<1'] },
  teardownTimeout: '20m',
};

export function setup() {
  return {
    couponId: /** @type {number} */ (ok(sale.createCoupon(shape)).couponId),
    productIds: sale.createProducts(shape).map((call) => /** @type {number} */ (ok(call).id)),
    startedAt: Date.now(),
  };
}

/** @typedef {{ couponId: number, productIds: number[], startedAt: number }} Data */

/**
 * @param {Data} data
 * @param {sale.Step} step
 * @param {import('../scenarios/trpc.js').Call} call
 * @param {boolean} [twice]  send it twice at once, as a client retrying a timed-out call
 */
function timed(data, step, call, twice) {
  /** @type {{ status: number, body: string }[]} */
  let answers = [];
  let outcome = '';
  for (let attempt = 1; ; attempt++) {
    const t0 = Date.now();
    answers = twice ? sendAll([call, call], 2) : [send(call)];
    stepTrend[step]?.add(Date.now() - t0);
    const a = /** @type {{ status: number, body: string }} */ (answers[0]);
    outcome = sale.outcomeOf(step, a.status, a.body);
    unexpected.add(outcome === 'unexpected' || sale.SHED.includes(outcome));
    if (!sale.retries(step, call, outcome, attempt)) break;
    sleep(sale.RETRY_PAUSE_MS / 1000);
  }
  let first = /** @type {{ status: number, body: string }} */ (answers[0]);
  check(first, { 'answered as the contract says': () => outcome !== 'unexpected' });
  if (sale.refusals[step].includes(outcome)) soldOutAt.add(Date.now() - data.startedAt, { refusal: outcome });
  const again = answers[1];
  if (again && (step === 'order' || step === 'pay')) {
    const t = sale.newTally(shape);
    first = sale.compareRetry(t, step, first, again);
    outcome = sale.outcomeOf(step, first.status, first.body);
    retryMismatches.add(t.retryMismatches.length);
  }
  return { ...first, outcome };
}

/** One shopper's journey. @param {Data} data */
export default function (data) {
  const index = exec.scenario.iterationInTest;
  if (index >= shape.users) return;
  const p = sale.plan(shape, RUN_ID, index, Math.random);
  const issued = timed(data, 'issue', sale.issueCall(p, data.couponId)).outcome === 'ok';
  if (issued) funnel.issued.add(1);
  const order = sale.orderCall(p, data.productIds, issued ? data.couponId : undefined);
  if (!order) return;
  sleep(p.thinkMs[0] / 1000);
  const o = timed(data, 'order', order, p.retries);
  if (o.outcome !== 'ok') return;
  funnel.ordered.add(1);
  const { orderId, payAmount } = sale.orderOf(o.body);
  if (p.abandons) {
    funnel.abandoned.add(1);
    return;
  }
  sleep(p.thinkMs[1] / 1000);
  if (payAmount > 0 && timed(data, 'charge', sale.chargeCall(p, payAmount)).outcome !== 'ok') return;
  sleep(p.thinkMs[2] / 1000);
  if (timed(data, 'pay', sale.payCall(p, orderId), p.retries).outcome === 'ok') funnel.paid.add(1);
}

/** After the hold time every order is paid or expired. @param {Data} data */
export function teardown(data) {
  sleep(shape.holdSeconds + 3);
  /** @type {import('../scenarios/procedures.ts').OutputOf<'order.list'>['items']} */
  const orders = [];
  for (let i = 0; i < shape.users; i++) orders.push(...allOrders(shape.firstUser + i));
  const calls = sale.closingCalls(shape, sale.newTally(shape), data.productIds, data.couponId);
  const { violations, expired, paid } = sale.ordersVerdict(
    shape,
    data.productIds,
    orders,
    sendAll(calls.products),
    send(calls.coupon),
    send(calls.top),
  );
  console.log(`${orders.length} orders: ${expired} expired, units paid per product ${JSON.stringify(paid)}`);
  assertNone(violations);
}
