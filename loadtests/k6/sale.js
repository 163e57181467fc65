// k6 driver of the sale (scenarios/sale.js), plain or, with -e WAITING_ROOM=1, behind a room
// (scenarios/waiting-room.js):
//   k6 run -e BASE_URL=http://127.0.0.1:3000 -e AUTH_JWT_SECRET=... [-e WAITING_ROOM=1] loadtests/k6/sale.js
// The service runs with ORDER_HOLD_SECONDS = HOLD_SECONDS (`pnpm loadtest sale` sets both). -e
// USERS, COUPONS, ADMIT_PER_SECOND, ... override the shape; RUN_ID makes the idempotency keys
// the run's own, VUS pre-allocates virtual users, DURATION is the arrival window. Virtual users
// share nothing: fairness over all shoppers is the Node driver's, each shopper here checks its
// own positions, and teardown judges from every shopper's orders.
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter, Rate, Trend } from 'k6/metrics';
import { setTimeout } from 'k6/timers';
import * as sale from '../scenarios/sale.js';
import { query, withOverrides } from '../scenarios/trpc.js';
import * as wr from '../scenarios/waiting-room.js';

/** @import { Call } from '../scenarios/trpc.js' */

const ROOM = Boolean(__ENV.WAITING_ROOM);
const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:3000';
const SECRET = __ENV.AUTH_JWT_SECRET || 'flash-sale-dev-secret-do-not-use-in-production';
const shape = withOverrides(ROOM ? wr.shape : { ...wr.shape, ...sale.shape }, __ENV);
const RUN_ID = __ENV.RUN_ID || `${Date.now()}`;
const windowSec = Number((__ENV.DURATION || '').replace(/s$/, '')) || shape.durationSec;

// 409 is how the contract refuses (sold out, ...): an answer; unexpected_answers judges it.
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 409));

const unexpected = new Rate('unexpected_answers');
const retryMismatches = new Counter('retry_mismatches');
const positionsUp = new Counter('positions_up');
const stepTrend = Object.fromEntries(
  [...sale.STEPS, ...wr.WAIT_STEPS].map((step) => [step, new Trend(`step_${step}`, true)]),
);
/** The journey's calls (behind a room: the admitted shoppers'). */
const funnelTrend = new Trend('funnel_calls', true);
const waitTrend = new Trend('wait_for_pass', true);
const looks = new Trend('looks_at_room');
/** ms after setup at which each kind of expected refusal was seen (min = the sell-out). */
const soldOutAt = new Trend('sold_out_at_ms');
const funnel = Object.fromEntries(
  ['admitted', 'issued', 'orders_created', 'orders_abandoned', 'orders_paid'].map((n) => [
    n,
    new Counter(`funnel_${n}`),
  ]),
);

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    sale: {
      executor: 'constant-arrival-rate',
      rate: Math.ceil(shape.users / windowSec),
      timeUnit: '1s',
      duration: `${windowSec}s`,
      preAllocatedVUs: Number(__ENV.VUS || 100),
      maxVUs: shape.users,
    },
  },
  thresholds: ROOM
    ? { ...wr.thresholds, retry_mismatches: ['count<1'], positions_up: ['count<1'] }
    : { ...sale.thresholds, retry_mismatches: ['count<1'] },
  teardownTimeout: '30m',
};

/** A token for `userId` (HS256 over AUTH_JWT_SECRET), valid for an hour. @param {number} userId @param {boolean} [admin] */
function mintToken(userId, admin) {
  const now = Math.floor(Date.now() / 1000);
  /** @type {Record<string, string | number>} */
  const claims = { sub: String(userId), iat: now, exp: now + 3600 };
  if (admin) claims.role = 'admin';
  const header = encoding.b64encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' }), 'rawurl');
  const body = `${header}.${encoding.b64encode(JSON.stringify(claims), 'rawurl')}`;
  return `${body}.${crypto.hmac('sha256', SECRET, body, 'base64rawurl')}`;
}

/** Minted once per user and virtual user. @type {Record<number, string>} */
const minted = {};

/** @param {Call} call */
function request(call) {
  /** @type {Record<string, string>} */
  const headers = call.body === undefined ? {} : { 'content-type': 'application/json' };
  if (call.admin) headers.authorization = `Bearer ${mintToken(1, true)}`;
  else if (call.user !== undefined) {
    if (!minted[call.user]) minted[call.user] = mintToken(call.user);
    headers.authorization = `Bearer ${minted[call.user]}`;
  }
  if (call.pass) headers['x-waiting-room-pass'] = call.pass;
  return {
    url: `${BASE_URL}${call.path}`,
    body: call.body ?? null,
    params: { headers, tags: { name: call.procedure } },
  };
}

/** @param {import('k6/http').RefinedResponse<'text'>} res */
const answer = (res) => ({ status: res.status, body: typeof res.body === 'string' ? res.body : '' });

/** @param {Call} call */
function send(call) {
  const r = request(call);
  return answer(http.request(call.method, r.url, r.body, r.params));
}

/** @param {Call} call @returns {any} the `data` of a call that must succeed */
function ok(call) {
  const a = send(call);
  if (a.status !== 200) throw new Error(`${call.procedure}: HTTP ${a.status} ${a.body}`);
  return JSON.parse(a.body).result.data;
}

export function setup() {
  const couponId = /** @type {number} */ (ok(sale.createCoupon(shape)).couponId);
  const productIds = sale.createProducts(shape).map((call) => /** @type {number} */ (ok(call).id));
  const roomId = ROOM ? /** @type {number} */ (ok(wr.createRoom(shape, couponId, productIds)).roomId) : 0;
  return { couponId, productIds, roomId, startedAt: Date.now() };
}

/** @typedef {ReturnType<typeof setup>} Data */

/** @param {Data} data @returns {sale.Io} */
function io(data) {
  return {
    async send(step, call) {
      const r = request(call);
      const t0 = Date.now();
      const a = answer(await http.asyncRequest(call.method, r.url, r.body, r.params));
      stepTrend[step]?.add(Date.now() - t0);
      if (!(/** @type {readonly string[]} */ (wr.WAIT_STEPS).includes(step)))
        funnelTrend.add(Date.now() - t0);
      return a;
    },
    count(_step, _call, _answer, outcome) {
      const kind = sale.kindOf(outcome);
      unexpected.add(kind === 'unexpected' || kind === 'shed');
      if (kind === 'refused') soldOutAt.add(Date.now() - data.startedAt, { refusal: outcome });
    },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}

/** One shopper's journey. @param {Data} data */
export default async function (data) {
  const index = exec.scenario.iterationInTest;
  if (index >= shape.users) return;
  const p = sale.plan(shape, RUN_ID, index, Math.random);
  const t = sale.newTally(shape);
  const t0 = Date.now();
  const w = ROOM ? await wr.waitForPass(io(data), shape, p, data.roomId, t) : undefined;
  if (w) {
    positionsUp.add(w.positionsUp.length);
    looks.add(w.told.filter((x) => Number.isFinite(x.through)).length);
    if (t.unexpected.length > 0) unexpected.add(true); // admitted, but no pass
    if (!w.pass) return;
    waitTrend.add(Date.now() - t0);
    funnel.admitted?.add(1);
  }
  await sale.shop(io(data), p, data, t, w?.pass);
  const sum = (/** @type {number[]} */ xs) => xs.reduce((a, b) => a + b, 0);
  funnel.issued?.add(t.issued);
  funnel.orders_created?.add(sum(t.ordered));
  funnel.orders_abandoned?.add(t.abandoned.length);
  funnel.orders_paid?.add(sum(t.paid));
  retryMismatches.add(t.retryMismatches.length);
}

/** After the hold time every order is paid or expired, and a newcomer finds the coupon gone. @param {Data} data */
export async function teardown(data) {
  await io(data).sleep((shape.holdSeconds + 3) * 1000);
  /** @type {import('../scenarios/procedures.ts').OutputOf<'order.list'>['items']} */
  const orders = [];
  for (let i = 0; i < shape.users; i++) {
    /** @type {string | undefined} */
    let cursor;
    do {
      const page = ok(
        query('order.list', cursor ? { cursor, limit: 100 } : { limit: 100 }, shape.firstUser + i),
      );
      orders.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }
  const t = sale.newTally(shape);
  const newcomer = sale.plan(shape, RUN_ID, shape.users, Math.random);
  const pass = ROOM ? (await wr.waitForPass(io(data), shape, newcomer, data.roomId, t)).pass : undefined;
  const calls = sale.closingCalls(shape, t, data.productIds, data.couponId);
  const { violations, expired, paid } = sale.ordersVerdict(
    shape,
    data.productIds,
    orders,
    calls.products.map(send),
    ROOM && !pass ? { status: 0, body: 'the newcomer got no pass' } : send({ ...calls.coupon, pass }),
    send(calls.top),
  );
  console.log(`${orders.length} orders: ${expired} expired, units paid per product ${JSON.stringify(paid)}`);
  if (violations.length > 0)
    throw new Error(`${violations.length} invariant violations:\n${violations.slice(0, 50).join('\n')}`);
  console.log('invariants: all hold');
}
