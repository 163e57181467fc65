// Scenario 3: mixed sale traffic: browse (product.list, product.get), top 5, charge, order, pay.
//   k6 run -e BASE_URL=... -e AUTH_JWT_SECRET=... loadtests/k6/mixed.js
// Variables: USERS (500), PRODUCTS (10), STOCK (1000), VUS (100), DURATION (20s).
//
// Charges use idempotency keys from a fixed set per user (CHARGE_SLOTS keys of CHARGE KRW): the
// teardown replays every key, which changes nothing for those already done and performs the
// rest, so afterwards every user has been charged exactly CHARGE_SLOTS x CHARGE. Closing check
// (through the API): each balance = that total - the pay amounts of the user's PAID orders;
// units on offer + held + paid = STOCK for every product; product.top = ranking of paid units.
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

const USERS = Number(__ENV.USERS || 500);
const FIRST_USER = Number(__ENV.FIRST_USER || 3000000);
const PRODUCTS = Number(__ENV.PRODUCTS || 10);
const STOCK = Number(__ENV.STOCK || 1000);
const CHARGE = 20000;
const CHARGE_SLOTS = 4;
const RUN = __ENV.RUN_ID || `${Date.now()}`;

const unexpected = new Rate('unexpected_answers');

export const options = {
  scenarios: { mixed: { executor: 'constant-vus', vus: VUS, duration: DURATION } },
  thresholds: {
    http_req_duration: ['p(95)<500', 'p(99)<1000'],
    'http_req_duration{name:product.top}': ['p(95)<50'],
    unexpected_answers: ['rate<0.001'],
  },
  teardownTimeout: '10m',
};

export function setup() {
  const admin = mintToken(1, true);
  const products = [];
  for (let i = 0; i < PRODUCTS; i++)
    products.push(createProduct(admin, `k6 mixed ${i + 1}`, 1000 * (1 + (i % 5)), STOCK));
  return { productIds: products.map((p) => p.id) };
}

const chargeKey = (user, slot) => `k6-${RUN}-charge-${user}-${slot}`;
const rnd = (n) => Math.floor(Math.random() * n);

function expect(res, okCodes) {
  const fine = res.status === 200 || (res.status === 409 && okCodes.includes(appCode(res)));
  unexpected.add(!fine);
  check(res, { 'answered as the contract says': () => fine });
}

export default function (setupData) {
  const ids = setupData.productIds;
  const user = FIRST_USER + rnd(USERS);
  const r = rnd(100);
  if (r < 25) expect(query('product.list', { limit: 10 }), []);
  else if (r < 45) expect(query('product.get', { productId: ids[rnd(ids.length)] }), []);
  else if (r < 65) expect(query('product.top'), []);
  else if (r < 75) {
    const slot = rnd(CHARGE_SLOTS);
    expect(
      mutate('balance.charge', { amount: CHARGE, idempotencyKey: chargeKey(user, slot) }, tokenFor(user)),
      [],
    );
  } else {
    const first = rnd(ids.length);
    const items = [{ productId: ids[first], quantity: 1 + rnd(2) }];
    if (Math.random() < 0.5)
      items.push({ productId: ids[(first + 1 + rnd(ids.length - 1)) % ids.length], quantity: 1 });
    const order = mutate('order.create', { items }, tokenFor(user));
    expect(order, ['OUT_OF_STOCK']);
    if (order.status === 200 && Math.random() < 0.6) {
      const pay = mutate('payment.pay', { orderId: order.json().result.data.orderId }, tokenFor(user));
      expect(pay, ['INSUFFICIENT_BALANCE']);
    }
  }
}

export function teardown(setupData) {
  const violations = [];
  const units = {};
  for (const id of setupData.productIds) units[id] = { held: 0, paid: 0 };
  for (let u = FIRST_USER; u < FIRST_USER + USERS; u++) {
    const token = mintToken(u);
    for (let slot = 0; slot < CHARGE_SLOTS; slot++) {
      data(mutate('balance.charge', { amount: CHARGE, idempotencyKey: chargeKey(u, slot) }, token));
    }
    let paid = 0;
    const seen = {};
    for (const order of allOrders(token)) {
      if (seen[order.orderId]) violations.push(`order ${order.orderId} listed twice`);
      seen[order.orderId] = true;
      if (order.status === 'PAID') paid += order.payAmount;
      if (order.status !== 'PAID' && order.status !== 'PENDING_PAYMENT') continue;
      for (const line of order.items) {
        if (units[line.productId])
          units[line.productId][order.status === 'PAID' ? 'paid' : 'held'] += line.quantity;
      }
    }
    const { balance } = data(query('balance.get', undefined, token));
    const expected = CHARGE_SLOTS * CHARGE - paid;
    if (balance !== expected) violations.push(`user ${u}: balance ${balance}, expected ${expected}`);
  }
  for (const id of setupData.productIds) {
    const { stock } = data(query('product.get', { productId: id }));
    const u = units[id];
    if (stock < 0 || stock + u.held + u.paid !== STOCK) {
      violations.push(`product ${id}: ${stock} on offer + ${u.held} held + ${u.paid} paid != ${STOCK}`);
    }
  }
  sleep(1.5); // product.top may be cached for a second
  const expectedTop = setupData.productIds
    .map((id) => ({ productId: id, soldQuantity: units[id].paid }))
    .filter((x) => x.soldQuantity > 0)
    .sort((a, b) => b.soldQuantity - a.soldQuantity || a.productId - b.productId)
    .slice(0, 5);
  const top = data(query('product.top')).items.map((i) => ({
    productId: i.productId,
    soldQuantity: i.soldQuantity,
  }));
  if (JSON.stringify(top) !== JSON.stringify(expectedTop)) {
    violations.push(`product.top is ${JSON.stringify(top)}, paid orders say ${JSON.stringify(expectedTop)}`);
  }
  assertInvariants(violations);
}
