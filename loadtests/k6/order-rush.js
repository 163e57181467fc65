// k6 driver of loadtests/scenarios/order-rush.js (which defines the scenario).
//   k6 run -e BASE_URL=http://127.0.0.1:3000 -e AUTH_JWT_SECRET=... loadtests/k6/order-rush.js
// Variables: STOCK, USERS, FIRST_USER (the shape's defaults), VUS (100), DURATION.
// A watcher samples product.get all along; the closing check runs in teardown.
import { check, sleep } from 'k6';
import { Rate, Trend } from 'k6/metrics';
import * as orderRush from '../scenarios/order-rush.js';
import { isExpected } from '../scenarios/trpc.js';
import { allOrders, assertNone, configure, ok, send, thresholdsOf, VUS } from './lib.js';

const { shape, duration } = configure(orderRush.shape);
const unexpected = new Rate('unexpected_answers');
/** The stock product.get showed during the rush: never below 0 (a threshold). */
const stockSeen = new Trend('stock_seen');

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    rush: { executor: 'constant-vus', vus: VUS, duration, exec: 'rush' },
    watch: { executor: 'constant-vus', vus: 1, duration, exec: 'watch' },
  },
  thresholds: { ...thresholdsOf(orderRush.thresholds), stock_seen: ['min>=0'] },
  teardownTimeout: '10m',
};

export function setup() {
  return { productId: /** @type {number} */ (ok(orderRush.createProduct(shape)).id) };
}

/** @param {{ productId: number }} data */
export function rush(data) {
  const res = send(orderRush.nextOrder(shape, data.productId, Math.random));
  const expected = isExpected(res.status, res.body, orderRush.refusals);
  unexpected.add(!expected);
  check(res, { 'ordered or OUT_OF_STOCK': () => expected });
}

/** @param {{ productId: number }} data */
export function watch(data) {
  const res = send(orderRush.stockCall(data.productId));
  if (res.status === 200) stockSeen.add(orderRush.stockOf(res.body));
  sleep(shape.sampleEveryMs / 1000);
}

/** @param {{ productId: number }} data */
export function teardown(data) {
  let unitsInOrders = 0;
  for (let user = shape.firstUser; user < shape.firstUser + shape.users; user++) {
    unitsInOrders += orderRush.unitsInOrders(data.productId, allOrders(user));
  }
  const stockLeft = orderRush.stockOf(send(orderRush.stockCall(data.productId)).body);
  // The samples are judged by the stock_seen threshold: virtual users share no state with teardown.
  assertNone(orderRush.verdict(shape, { unitsInOrders, stockLeft }));
}
