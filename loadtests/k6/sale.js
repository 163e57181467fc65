// k6 driver of loadtests/scenarios/sale.js (which defines the scenario), plain or, with
// -e WAITING_ROOM=1, behind a waiting room (loadtests/scenarios/waiting-room.js).
//   k6 run -e BASE_URL=http://127.0.0.1:3000 -e AUTH_JWT_SECRET=... [-e WAITING_ROOM=1] loadtests/k6/sale.js
// The service must run with ORDER_HOLD_SECONDS = HOLD_SECONDS (`pnpm loadtest sale [--waiting-room]`
// sets both). Variables: USERS, COUPONS, PRODUCTS, STOCK, THINK_MIN_MS, ABANDON_PCT, ADMIT_PER_SECOND,
// ... (the shape's names), RUN_ID (makes this run's idempotency keys its own), VUS (pre-allocated
// virtual users), DURATION (the arrival window).
// Shoppers arrive at a constant rate over the window (one iteration each, a virtual user per
// shopper in flight). Behind a room each first joins, sleeps until its turn, looks at the room and
// takes its pass from waitingRoom.status. Virtual users share nothing, so the fairness over all
// shoppers and Redis memory are the Node driver's; here each shopper checks that its own position
// never goes up. The closing check reads every shopper's orders in teardown.

import { check, sleep } from 'k6';
import exec from 'k6/execution';
import { Counter, Rate, Trend } from 'k6/metrics';
import * as sale from '../scenarios/sale.js';
import * as wr from '../scenarios/waiting-room.js';
import { allOrders, assertNone, configure, ok, send, sendAll, thresholdsOf, VUS } from './lib.js';

/** @import { Call } from '../scenarios/trpc.js' */

const ROOM = Boolean(__ENV.WAITING_ROOM);
const { shape, duration } = configure(ROOM ? wr.shape : { ...wr.shape, ...sale.shape });
const RUN_ID = __ENV.RUN_ID || `${Date.now()}`;
const windowSec = Number(duration.replace(/s$/, '')) || shape.durationSec;

const unexpected = new Rate('unexpected_answers');
const retryMismatches = new Counter('retry_mismatches');
const positionsUp = new Counter('positions_up');
/** Per step: its answers' durations, whatever the outcome. */
const stepTrend = Object.fromEntries(
  [...sale.STEPS, ...wr.WAIT_STEPS].map((step) => [step, new Trend(`step_${step}`, true)]),
);
/** Every funnel call's duration (behind a room: the admitted shoppers' calls). */
const funnelTrend = new Trend('admitted_calls', true);
const waitTrend = new Trend('wait_for_pass', true);
const looks = new Trend('looks_at_room');
/** ms after the first arrival at which each kind of sold-out refusal was seen (min = the sell-out). */
const soldOutAt = new Trend('sold_out_at_ms');
const funnel = {
  admitted: new Counter('funnel_admitted'),
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
  thresholds: ROOM
    ? {
        step_join: [`p(99)<=${wr.thresholds.join.p99}`],
        admitted_calls: [`p(95)<=${wr.thresholds.admitted.p95}`, `p(99)<=${wr.thresholds.admitted.p99}`],
        unexpected_answers: [`rate<=${wr.thresholds.unexpected}`],
        positions_up: ['count<1'],
        retry_mismatches: ['count<1'],
      }
    : { ...thresholdsOf(sale.thresholds), retry_mismatches: ['count<1'] },
  teardownTimeout: '30m',
};

export function setup() {
  const couponId = /** @type {number} */ (ok(sale.createCoupon(shape)).couponId);
  const productIds = sale.createProducts(shape).map((call) => /** @type {number} */ (ok(call).id));
  const roomId = ROOM ? /** @type {number} */ (ok(wr.createRoom(shape, couponId, productIds)).roomId) : 0;
  return { couponId, productIds, roomId, startedAt: Date.now() };
}

/** @typedef {{ couponId: number, productIds: number[], roomId: number, startedAt: number }} Data */

/**
 * One step, retried after a pause while the service sheds load when that is safe; a keyed order
 * or payment of a retrying shopper is sent twice at once, as a client retrying a timed-out call.
 * @param {Data} data
 * @param {sale.Step | wr.WaitStep} step
 * @param {Call} call
 * @param {boolean} [twice]
 */
function timed(data, step, call, twice) {
  const waiting = wr.WAIT_STEPS.some((s) => s === step);
  /** @type {{ status: number, body: string }[]} */
  let answers = [];
  let outcome = '';
  for (let attempt = 1; ; attempt++) {
    const t0 = Date.now();
    answers = twice ? sendAll([call, call], 2) : [send(call)];
    stepTrend[step]?.add(Date.now() - t0);
    if (!waiting) funnelTrend.add(Date.now() - t0);
    const a = /** @type {{ status: number, body: string }} */ (answers[0]);
    outcome = waiting
      ? wr.waitOutcomeOf(a.status)
      : wr.funnelOutcomeOf(/** @type {sale.Step} */ (step), a.status, a.body);
    unexpected.add(outcome === 'unexpected' || outcome === 'NOT_ADMITTED' || sale.SHED.includes(outcome));
    const retry = waiting
      ? sale.SHED.includes(outcome) && attempt < sale.RETRY_ATTEMPTS
      : sale.retries(/** @type {sale.Step} */ (step), call, outcome, attempt);
    if (!retry) break;
    sleep(sale.RETRY_PAUSE_MS / 1000);
  }
  let first = /** @type {{ status: number, body: string }} */ (answers[0]);
  check(first, {
    'answered as the contract says': () => outcome !== 'unexpected' && outcome !== 'NOT_ADMITTED',
  });
  if (!waiting && sale.refusals[/** @type {sale.Step} */ (step)].includes(outcome))
    soldOutAt.add(Date.now() - data.startedAt, { refusal: outcome });
  const again = answers[1];
  if (again && (step === 'order' || step === 'pay')) {
    const t = sale.newTally(shape);
    first = sale.compareRetry(t, step, first, again);
    outcome = sale.outcomeOf(step, first.status, first.body);
    retryMismatches.add(t.retryMismatches.length);
  }
  return { ...first, outcome };
}

/**
 * Joins and waits; the pass, or undefined when the service failed this shopper.
 * @param {Data} data
 * @param {sale.Plan} p
 */
function waitForPass(data, p) {
  const j = timed(data, 'join', wr.joinCall(p, data.roomId));
  if (j.outcome !== 'ok') return undefined;
  const joined = wr.joinOf(j.body);
  let position = joined.position;
  /** @param {number} next */
  const saw = (next) => {
    if (next > position) positionsUp.add(1);
    position = next;
  };
  if (joined.pass) return joined.pass;
  sleep(wr.firstDelayMs(shape, joined, Math.random) / 1000);
  let n = 0;
  for (;;) {
    const g = timed(data, 'get', wr.roomCall(data.roomId));
    if (g.outcome !== 'ok') return undefined;
    n++;
    const room = wr.roomOf(g.body);
    saw(wr.positionOf(joined.ticket, room.admittedThrough));
    const delay = wr.pollDelayMs(shape, joined.ticket, room, Date.now(), Math.random);
    if (delay === 0) break;
    sleep(delay / 1000);
  }
  looks.add(n);
  const st = timed(data, 'status', wr.statusCall(p, data.roomId));
  if (st.outcome !== 'ok') return undefined;
  const status = wr.statusOf(st.body);
  saw(status.position);
  unexpected.add(!status.pass);
  return status.pass ?? undefined;
}

/** One shopper's journey. @param {Data} data */
export default function (data) {
  const index = exec.scenario.iterationInTest;
  if (index >= shape.users) return;
  const p = sale.plan(shape, RUN_ID, index, Math.random);
  const t0 = Date.now();
  const pass = ROOM ? waitForPass(data, p) : undefined;
  if (ROOM && !pass) return;
  if (pass) {
    waitTrend.add(Date.now() - t0);
    funnel.admitted.add(1);
  }
  const guarded = (/** @type {Call | undefined} */ call) => (pass ? wr.withPass(call, pass) : call);
  const issued =
    timed(data, 'issue', /** @type {Call} */ (guarded(sale.issueCall(p, data.couponId)))).outcome === 'ok';
  if (issued) funnel.issued.add(1);
  const order = guarded(sale.orderCall(p, data.productIds, issued ? data.couponId : undefined));
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

/** After the hold time every order is paid or expired; a newcomer (behind a room: once its turn came) finds the coupon gone. @param {Data} data */
export function teardown(data) {
  sleep(shape.holdSeconds + 3);
  /** @type {import('../scenarios/procedures.ts').OutputOf<'order.list'>['items']} */
  const orders = [];
  for (let i = 0; i < shape.users; i++) orders.push(...allOrders(shape.firstUser + i));
  const pass = ROOM ? waitForPass(data, sale.plan(shape, RUN_ID, shape.users, Math.random)) : undefined;
  const calls = sale.closingCalls(shape, sale.newTally(shape), data.productIds, data.couponId);
  const { violations, expired, paid } = sale.ordersVerdict(
    shape,
    data.productIds,
    orders,
    sendAll(calls.products),
    ROOM && !pass ? { status: 0, body: 'the newcomer got no pass' } : send({ ...calls.coupon, pass }),
    send(calls.top),
  );
  console.log(`${orders.length} orders: ${expired} expired, units paid per product ${JSON.stringify(paid)}`);
  assertNone(violations);
}
