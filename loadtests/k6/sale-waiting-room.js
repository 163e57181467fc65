// k6 driver of loadtests/scenarios/waiting-room.js: the sale behind a waiting room.
//   k6 run -e BASE_URL=http://127.0.0.1:3000 -e AUTH_JWT_SECRET=... loadtests/k6/sale-waiting-room.js
// The service must run with ORDER_HOLD_SECONDS = HOLD_SECONDS (`pnpm loadtest sale --waiting-room`
// sets both). Variables: USERS, ADMIT_PER_SECOND, COUPONS, STOCK, ... (the shape's names), RUN_ID,
// VUS, DURATION (the arrival window).
// Each shopper is one iteration: join, sleep until its turn, look at the room, take its pass from
// waitingRoom.status, then the sale's funnel with the pass. Virtual users share nothing, so the
// fairness over all shoppers (rank correlation, inversions) and Redis memory are the Node
// driver's; here each shopper checks that its own position never goes up.

import { check, sleep } from 'k6';
import exec from 'k6/execution';
import { Counter, Rate, Trend } from 'k6/metrics';
import * as sale from '../scenarios/sale.js';
import * as wr from '../scenarios/waiting-room.js';
import { allOrders, assertNone, configure, ok, send, sendAll, VUS } from './lib.js';

/** @import { Call } from '../scenarios/trpc.js' */

const { shape, duration } = configure(wr.shape);
const RUN_ID = __ENV.RUN_ID || `${Date.now()}`;
const windowSec = Number(duration.replace(/s$/, '')) || shape.durationSec;

const unexpected = new Rate('unexpected_answers');
const positionsUp = new Counter('positions_up');
const retryMismatches = new Counter('retry_mismatches');
const joinTrend = new Trend('step_join', true);
const admittedTrend = new Trend('admitted_calls', true);
const waitTrend = new Trend('wait_for_pass', true);
const looks = new Trend('looks_at_room');
const admitted = new Counter('funnel_admitted');

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
  thresholds: {
    step_join: [`p(99)<=${wr.thresholds.join.p99}`],
    admitted_calls: [`p(95)<=${wr.thresholds.admitted.p95}`, `p(99)<=${wr.thresholds.admitted.p99}`],
    unexpected_answers: [`rate<=${wr.thresholds.unexpected}`],
    positions_up: ['count<1'],
    retry_mismatches: ['count<1'],
  },
  teardownTimeout: '30m',
};

export function setup() {
  const couponId = /** @type {number} */ (ok(sale.createCoupon(shape)).couponId);
  const productIds = sale.createProducts(shape).map((call) => /** @type {number} */ (ok(call).id));
  const roomId = /** @type {number} */ (ok(wr.createRoom(shape, couponId, productIds)).roomId);
  return { couponId, productIds, roomId };
}

/** @typedef {{ couponId: number, productIds: number[], roomId: number }} Data */

/**
 * A waiting step: retried after a pause while the service sheds load.
 * @param {Call} call
 */
function waitStep(call) {
  for (let attempt = 1; ; attempt++) {
    const a = send(call);
    const outcome = wr.waitOutcomeOf(a.status);
    unexpected.add(outcome !== 'ok');
    if (outcome === 'ok' || outcome === 'unexpected' || attempt >= sale.RETRY_ATTEMPTS)
      return { ...a, outcome };
    sleep(sale.RETRY_PAUSE_MS / 1000);
  }
}

/**
 * A funnel step, as the plain sale sends it.
 * @param {sale.Step} step
 * @param {Call} call
 * @param {boolean} [twice]
 */
function funnelStep(step, call, twice) {
  /** @type {{ status: number, body: string }[]} */
  let answers = [];
  let outcome = '';
  for (let attempt = 1; ; attempt++) {
    const t0 = Date.now();
    answers = twice ? sendAll([call, call], 2) : [send(call)];
    admittedTrend.add(Date.now() - t0);
    const a = /** @type {{ status: number, body: string }} */ (answers[0]);
    outcome = wr.funnelOutcomeOf(step, a.status, a.body);
    unexpected.add(outcome === 'unexpected' || outcome === 'NOT_ADMITTED' || sale.SHED.includes(outcome));
    if (!sale.retries(step, call, outcome, attempt)) break;
    sleep(sale.RETRY_PAUSE_MS / 1000);
  }
  let first = /** @type {{ status: number, body: string }} */ (answers[0]);
  check(first, {
    'answered as the contract says': () => outcome !== 'unexpected' && outcome !== 'NOT_ADMITTED',
  });
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
  const t0 = Date.now();
  const j = waitStep(wr.joinCall(p, data.roomId));
  joinTrend.add(Date.now() - t0);
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
    const g = waitStep(wr.roomCall(data.roomId));
    if (g.outcome !== 'ok') return undefined;
    n++;
    const room = wr.roomOf(g.body);
    saw(wr.positionOf(joined.ticket, room.admittedThrough));
    const delay = wr.pollDelayMs(shape, joined.ticket, room, Date.now(), Math.random);
    if (delay === 0) break;
    sleep(delay / 1000);
  }
  looks.add(n);
  const st = waitStep(wr.statusCall(p, data.roomId));
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
  const pass = waitForPass(data, p);
  if (!pass) return;
  waitTrend.add(Date.now() - t0);
  admitted.add(1);
  const issue = /** @type {Call} */ (wr.withPass(sale.issueCall(p, data.couponId), pass));
  const issued = funnelStep('issue', issue).outcome === 'ok';
  const order = wr.withPass(sale.orderCall(p, data.productIds, issued ? data.couponId : undefined), pass);
  if (!order) return;
  sleep(p.thinkMs[0] / 1000);
  const o = funnelStep('order', order, p.retries);
  if (o.outcome !== 'ok') return;
  const { orderId, payAmount } = sale.orderOf(o.body);
  if (p.abandons) return;
  sleep(p.thinkMs[1] / 1000);
  if (payAmount > 0 && funnelStep('charge', sale.chargeCall(p, payAmount)).outcome !== 'ok') return;
  sleep(p.thinkMs[2] / 1000);
  funnelStep('pay', sale.payCall(p, orderId), p.retries);
}

/** After the hold time every order is paid or expired; a newcomer waits its turn and finds the coupon gone. @param {Data} data */
export function teardown(data) {
  sleep(shape.holdSeconds + 3);
  /** @type {import('../scenarios/procedures.ts').OutputOf<'order.list'>['items']} */
  const orders = [];
  for (let i = 0; i < shape.users; i++) orders.push(...allOrders(shape.firstUser + i));
  const newcomer = sale.plan(shape, RUN_ID, shape.users, Math.random);
  const pass = waitForPass(data, newcomer);
  const calls = sale.closingCalls(shape, sale.newTally(shape), data.productIds, data.couponId);
  const { violations, expired, paid } = sale.ordersVerdict(
    shape,
    data.productIds,
    orders,
    sendAll(calls.products),
    pass ? send({ ...calls.coupon, pass }) : { status: 0, body: 'the newcomer got no pass' },
    send(calls.top),
  );
  console.log(`${orders.length} orders: ${expired} expired, units paid per product ${JSON.stringify(paid)}`);
  assertNone(violations);
}
