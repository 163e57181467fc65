// k6 driver of loadtests/scenarios/top-storm.js (which defines the scenario).
//   k6 run -e BASE_URL=http://127.0.0.1:3000 -e AUTH_JWT_SECRET=... loadtests/k6/top-storm.js
// Variables: FIRST_USER (the shape's default), VUS (100), DURATION.
import { check, sleep } from 'k6';
import { Rate } from 'k6/metrics';
import * as storm from '../scenarios/top-storm.js';
import { isExpected, TOP_CACHE_MS } from '../scenarios/trpc.js';
import { assertNone, configure, ok, send, thresholdsOf, VUS } from './lib.js';

const { shape, duration } = configure(storm.shape);
const unexpected = new Rate('unexpected_answers');

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: { storm: { executor: 'constant-vus', vus: VUS, duration } },
  thresholds: { ...thresholdsOf(storm.thresholds), checks: ['rate==1'] },
};

export function setup() {
  const products = storm.createProducts().map((call) => ok(call));
  const productIds = products.map((p) => /** @type {number} */ (p.id));
  for (const sale of storm.purchases(shape, productIds)) {
    ok(sale.charge);
    const order = send(sale.order);
    if (order.status !== 200) throw new Error(`order.create: HTTP ${order.status} ${order.body}`);
    ok(storm.payCall(sale.user, order.body));
  }
  sleep(TOP_CACHE_MS / 1000);
  const first = send(storm.topCall);
  assertNone(storm.verdictFirst(first.body, storm.expectedTop(products)));
  return { expected: first.body };
}

/** @param {{ expected: string }} data */
export default function (data) {
  const res = send(storm.topCall);
  unexpected.add(!isExpected(res.status, res.body, storm.refusals));
  // Every answer must be the first one, byte for byte: nothing sells during the storm.
  check(res, { 'is the ranking of the sales': () => res.status === 200 && res.body === data.expected });
}
