// Scenario 4: a read storm on product.top after known sales (ties included); nothing sells
// during the storm, so every answer must be exactly the contract's ranking of those sales.
//   k6 run -e BASE_URL=... -e AUTH_JWT_SECRET=... loadtests/k6/top-storm.js
// Variables: VUS (100), DURATION (15s).
import { check, sleep } from 'k6';
import { assertInvariants, createProduct, DURATION, data, mintToken, mutate, query, VUS } from './lib.js';

const FIRST_USER = Number(__ENV.FIRST_USER || 4000000);
const SOLD = [3, 9, 5, 1, 5, 12, 2, 7];

export const options = {
  scenarios: { storm: { executor: 'constant-vus', vus: VUS, duration: DURATION } },
  thresholds: {
    'http_req_duration{name:product.top}': ['p(95)<25', 'p(99)<50'],
    http_req_failed: ['rate<0.0001'],
    checks: ['rate==1'],
  },
};

export function setup() {
  const admin = mintToken(1, true);
  const products = SOLD.map((_, i) => createProduct(admin, `k6 top ${i + 1}`, 1000, 100));
  let user = FIRST_USER;
  products.forEach((product, i) => {
    for (let n = 0; n < SOLD[i]; n++) {
      const token = mintToken(user++);
      data(mutate('balance.charge', { amount: 10000 }, token));
      const order = data(mutate('order.create', { items: [{ productId: product.id, quantity: 1 }] }, token));
      data(mutate('payment.pay', { orderId: order.orderId }, token));
    }
  });
  const expected = products
    .map((p, i) => ({ productId: p.id, name: p.name, price: p.price, soldQuantity: SOLD[i] }))
    .sort((a, b) => b.soldQuantity - a.soldQuantity || a.productId - b.productId)
    .slice(0, 5);
  sleep(1.5); // let any cached ranking expire
  const first = data(query('product.top')).items;
  assertInvariants(
    JSON.stringify(first) === JSON.stringify(expected)
      ? []
      : [`product.top is ${JSON.stringify(first)}, the sales say ${JSON.stringify(expected)}`],
  );
  return { expected: JSON.stringify(expected) };
}

export default function (setupData) {
  const res = query('product.top');
  check(res, {
    'is the ranking of the sales': (r) =>
      r.status === 200 && JSON.stringify(r.json().result.data.items) === setupData.expected,
  });
}
