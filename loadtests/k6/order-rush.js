// Scenario 2: an order rush on one hot product with little stock.
//   k6 run -e BASE_URL=... -e AUTH_JWT_SECRET=... loadtests/k6/order-rush.js
// Variables: STOCK (2000), USERS (5000), VUS (100), DURATION (15s).
// A watcher samples product.get all along: stock must never be negative. Closing check
// (teardown, through the API): units in every user's orders + what is still on offer = STOCK.
import { check, sleep } from 'k6';
import { Rate } from 'k6/metrics';
import {
  allOrders,
  appCode,
  assertInvariants,
  createProduct,
  DURATION,
  data,
  mintToken,
  mutate,
  query,
  tokenFor,
  VUS,
} from './lib.js';

const STOCK = Number(__ENV.STOCK || 2000);
const USERS = Number(__ENV.USERS || 5000);
const FIRST_USER = Number(__ENV.FIRST_USER || 2000000);

const unexpected = new Rate('unexpected_answers');
const negative = new Rate('negative_stock_seen');

export const options = {
  scenarios: {
    rush: { executor: 'constant-vus', vus: VUS, duration: DURATION, exec: 'rush' },
    watch: { executor: 'constant-vus', vus: 1, duration: DURATION, exec: 'watch' },
  },
  thresholds: {
    'http_req_duration{name:order.create}': ['p(95)<250', 'p(99)<500'],
    unexpected_answers: ['rate<0.001'],
    negative_stock_seen: ['rate==0'],
  },
  teardownTimeout: '10m',
};

export function setup() {
  const product = createProduct(mintToken(1, true), 'k6 hot product', 10000, STOCK);
  return { productId: product.id };
}

export function rush(setupData) {
  const user = FIRST_USER + Math.floor(Math.random() * USERS);
  const quantity = 1 + (user % 2);
  const res = mutate(
    'order.create',
    { items: [{ productId: setupData.productId, quantity }] },
    tokenFor(user),
  );
  const expected = res.status === 200 || (res.status === 409 && appCode(res) === 'OUT_OF_STOCK');
  unexpected.add(!expected);
  check(res, { 'ordered or OUT_OF_STOCK': () => expected });
}

export function watch(setupData) {
  const { stock } = data(query('product.get', { productId: setupData.productId }));
  negative.add(stock < 0);
  sleep(0.1);
}

export function teardown(setupData) {
  const violations = [];
  let units = 0;
  for (let u = FIRST_USER; u < FIRST_USER + USERS; u++) {
    for (const order of allOrders(mintToken(u))) {
      if (order.status !== 'PENDING_PAYMENT' && order.status !== 'PAID') continue;
      for (const line of order.items) if (line.productId === setupData.productId) units += line.quantity;
    }
  }
  const { stock } = data(query('product.get', { productId: setupData.productId }));
  if (stock < 0) violations.push(`stock ended at ${stock}`);
  if (units + stock !== STOCK)
    violations.push(`orders hold ${units} units and ${stock} remain; ${STOCK} were stocked`);
  assertInvariants(violations);
}
