// k6 driver of loadtests/scenarios/mixed.js (which defines the scenario).
//   k6 run -e BASE_URL=http://127.0.0.1:3000 -e AUTH_JWT_SECRET=... loadtests/k6/mixed.js
// Variables: USERS, FIRST_USER, PRODUCTS, STOCK, CHARGE, CHARGE_SLOTS (the shape's defaults),
// RUN_ID (makes this run's charge keys its own), VUS (100), DURATION.
import { check, sleep } from 'k6';
import { Rate } from 'k6/metrics';
import * as mixed from '../scenarios/mixed.js';
import { isExpected, TOP_CACHE_MS } from '../scenarios/trpc.js';
import { allOrders, assertNone, configure, ok, send, sendAll, thresholdsOf, VUS } from './lib.js';

const { shape, duration } = configure(mixed.shape);
const RUN_ID = __ENV.RUN_ID || `${Date.now()}`;
const unexpected = new Rate('unexpected_answers');
/** This virtual user's orders waiting to be paid (every VU runs this module on its own). */
const state = mixed.newState();

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: { mixed: { executor: 'constant-vus', vus: VUS, duration } },
  thresholds: thresholdsOf(mixed.thresholds),
  teardownTimeout: '10m',
};

export function setup() {
  return { productIds: mixed.createProducts(shape).map((call) => /** @type {number} */ (ok(call).id)) };
}

/** @param {{ productIds: number[] }} data */
export default function (data) {
  const call = mixed.nextCall(shape, state, data.productIds, RUN_ID, Math.random);
  const res = send(call);
  const expected = isExpected(res.status, res.body, mixed.refusals);
  unexpected.add(!expected);
  check(res, { 'answered as the contract says': () => expected });
  mixed.onAnswer(state, call, res.status, res.body);
}

/** @param {{ productIds: number[] }} data */
export function teardown(data) {
  const violations = sendAll(mixed.replayCharges(shape, RUN_ID))
    .filter((a) => a.status !== 200)
    .slice(0, 5)
    .map((a) => `a charge replay answered HTTP ${a.status} ${a.body}`);
  const tally = mixed.newTally(data.productIds);
  for (const user of mixed.users(shape)) {
    const orders = allOrders(user);
    const balance = send(mixed.balanceCall(user));
    violations.push(...mixed.userVerdict(shape, tally, user, orders, balance.body));
  }
  const stock = sendAll(data.productIds.map((id) => mixed.stockCall(id)));
  violations.push(
    ...mixed.stockVerdict(
      shape,
      tally,
      stock.map((a, i) => ({ productId: data.productIds[i] ?? 0, body: a.body })),
    ),
  );
  sleep(TOP_CACHE_MS / 1000);
  violations.push(...mixed.topVerdict(tally, send(mixed.topCall).body));
  assertNone(violations);
}
