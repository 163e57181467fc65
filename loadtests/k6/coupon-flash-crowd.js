// k6 driver of loadtests/scenarios/coupon-flash-crowd.js (which defines the scenario).
//   k6 run -e BASE_URL=http://127.0.0.1:3000 -e AUTH_JWT_SECRET=... loadtests/k6/coupon-flash-crowd.js
// Variables: QUANTITY, USERS, FIRST_USER (the shape's defaults), VUS (100), DURATION.
import { check } from 'k6';
import { Rate } from 'k6/metrics';
import * as crowd from '../scenarios/coupon-flash-crowd.js';
import { isExpected } from '../scenarios/trpc.js';
import { assertNone, configure, ok, send, sendAll, thresholdsOf, VUS } from './lib.js';

const { shape, duration } = configure(crowd.shape);
const unexpected = new Rate('unexpected_answers');

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: { crowd: { executor: 'constant-vus', vus: VUS, duration } },
  thresholds: thresholdsOf(crowd.thresholds),
  teardownTimeout: '10m',
};

export function setup() {
  return { couponId: /** @type {number} */ (ok(crowd.createCoupon(shape)).couponId) };
}

/** @param {{ couponId: number }} data */
export default function (data) {
  const res = send(crowd.nextIssue(shape, data.couponId, Math.random));
  const expected = isExpected(res.status, res.body, crowd.refusals);
  unexpected.add(!expected);
  check(res, { 'issued or refused as the contract says': () => expected });
}

/** @param {{ couponId: number }} data */
export function teardown(data) {
  const calls = crowd.closingCalls(shape);
  const mine = sendAll(calls).map((a, i) => ({ ...a, user: calls[i]?.user ?? 0 }));
  const newcomer = send(crowd.newcomerCall(shape, data.couponId));
  assertNone(crowd.verdict(shape, data.couponId, mine, newcomer).violations);
}
