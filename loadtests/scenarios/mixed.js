// Scenario: mixed traffic of a sale from a pool of users: browse (product.list, product.get),
// the top 5, charge, order and pay. Charges use idempotency keys from a fixed set per user
// (`chargeSlots` keys of `charge` KRW), and the closing check first replays every one of them:
// that changes nothing for those already done and performs the rest, so afterwards every user
// has been charged exactly chargeSlots x charge, whatever answers the load cut off.
// Closing check through the API: each balance = that total - the pay amounts of the user's PAID
// orders; units on offer + held + paid = stock for every product; product.top = the ranking of
// paid units.
//
// The one definition of this scenario: loadtests/k6/mixed.js and the Node runner
// (loadtests/node/mixed.ts) only send these calls and feed the answers back here.
import { adminMutation, appCodeOf, dataOf, mutation, query, ranking } from './trpc.js';

/** @import { Call } from './trpc.js' */
/** @import { OutputOf } from './procedures.ts' */

export const name = 'mixed';

export const shape = {
  users: 500,
  firstUser: 3000000,
  products: 10,
  stock: 1000,
  charge: 20000,
  chargeSlots: 4,
  durationSec: 20,
};
/** @typedef {typeof shape} Shape */

export const description = `browse, top 5, charge, order and pay from ${shape.users} users`;

/** Every kind of call together. */
export const thresholds = { procedure: undefined, p95: 500, p99: 1000, unexpected: 0.001 };

export const refusals = ['OUT_OF_STOCK', 'INSUFFICIENT_BALANCE'];

/** @typedef {'list' | 'get' | 'top' | 'charge' | 'order' | 'pay'} Kind */

/** Shares of the traffic, in percent. @type {[Kind, number][]} */
export const MIX = [
  ['list', 25],
  ['get', 20],
  ['top', 20],
  ['charge', 10],
  ['order', 15],
  ['pay', 10],
];

/** @param {Shape} s */
export function createProducts(s) {
  /** @type {Call[]} */
  const calls = [];
  for (let i = 0; i < s.products; i++) {
    calls.push(
      adminMutation('admin.product.create', {
        name: `mixed ${i + 1}`,
        price: 1000 * (1 + (i % 5)),
        stock: s.stock,
      }),
    );
  }
  return calls;
}

/**
 * What a driver keeps between calls: orders waiting to be paid. One per k6 virtual user (each
 * pays the orders it made), one for the whole Node run.
 * @typedef {{ payable: { user: number, orderId: string }[] }} State
 * @returns {State}
 */
export function newState() {
  return { payable: [] };
}

/** @param {string} runId @param {number} user @param {number} slot */
export function chargeKey(runId, user, slot) {
  return `mixed-${runId}-${user}-${slot}`;
}

/**
 * The next call of the mix.
 * @param {Shape} s
 * @param {State} state
 * @param {number[]} productIds
 * @param {string} runId  makes the charge keys of this run its own
 * @param {() => number} random
 * @returns {Call & { kind: Kind }}
 */
export function nextCall(s, state, productIds, runId, random) {
  const rnd = (/** @type {number} */ n) => Math.floor(random() * n);
  let r = random() * 100;
  /** @type {Kind} */
  let kind = 'list';
  for (const [k, weight] of MIX) {
    r -= weight;
    if (r < 0) {
      kind = k;
      break;
    }
  }
  if (kind === 'pay' && state.payable.length === 0) kind = 'order';
  const user = s.firstUser + rnd(s.users);
  const productId = () => productIds[rnd(productIds.length)] ?? 0;
  switch (kind) {
    case 'list':
      return { kind, ...query('product.list', { limit: 10 }) };
    case 'get':
      return { kind, ...query('product.get', { productId: productId() }) };
    case 'top':
      return { kind, ...query('product.top') };
    case 'charge': {
      const idempotencyKey = chargeKey(runId, user, rnd(s.chargeSlots));
      return { kind, ...mutation('balance.charge', { amount: s.charge, idempotencyKey }, user) };
    }
    case 'order': {
      const first = rnd(productIds.length);
      const items = [{ productId: productIds[first] ?? 0, quantity: 1 + rnd(2) }];
      if (random() < 0.5) {
        const other = (first + 1 + rnd(productIds.length - 1)) % productIds.length;
        items.push({ productId: productIds[other] ?? 0, quantity: 1 });
      }
      return { kind, ...mutation('order.create', { items }, user) };
    }
    case 'pay': {
      const order = state.payable.splice(rnd(state.payable.length), 1)[0];
      if (!order) throw new Error('pay without a payable order');
      return { kind, ...mutation('payment.pay', { orderId: order.orderId }, order.user) };
    }
  }
}

/**
 * Feeds an answer back: orders made become payable; an order refused for the balance waits for
 * a later charge.
 * @param {State} state
 * @param {Call & { kind: Kind }} call
 * @param {number} status
 * @param {string} body
 */
export function onAnswer(state, call, status, body) {
  if (call.user === undefined) return;
  if (call.kind === 'order' && status === 200) {
    state.payable.push({ user: call.user, orderId: dataOf('order.create', body).orderId });
  } else if (call.kind === 'pay' && status === 409 && appCodeOf(body) === 'INSUFFICIENT_BALANCE') {
    const { orderId } = JSON.parse(call.body ?? '{}');
    state.payable.push({ user: call.user, orderId });
  }
}

/**
 * Every charge key of every user, replayed before the check.
 * @param {Shape} s
 * @param {string} runId
 */
export function replayCharges(s, runId) {
  /** @type {Call[]} */
  const calls = [];
  for (let user = s.firstUser; user < s.firstUser + s.users; user++) {
    for (let slot = 0; slot < s.chargeSlots; slot++) {
      calls.push(
        mutation('balance.charge', { amount: s.charge, idempotencyKey: chargeKey(runId, user, slot) }, user),
      );
    }
  }
  return calls;
}

/** The users whose orders and balance the closing check reads. @param {Shape} s */
export function users(s) {
  return Array.from({ length: s.users }, (_, i) => s.firstUser + i);
}

/** @param {number} user */
export const balanceCall = (user) => query('balance.get', undefined, user);

/**
 * Units per product held by pending orders and sold by paid ones, filled by userVerdict.
 * @typedef {Record<number, { held: number, paid: number }>} Tally
 * @param {number[]} productIds
 * @returns {Tally}
 */
export function newTally(productIds) {
  /** @type {Tally} */
  const tally = {};
  for (const id of productIds) tally[id] = { held: 0, paid: 0 };
  return tally;
}

/**
 * One user, after the charge replay: the balance is every charge minus the paid orders.
 * @param {Shape} s
 * @param {Tally} tally
 * @param {number} user
 * @param {OutputOf<'order.list'>['items']} orders  all of the user's pages
 * @param {string} balanceBody  the balance.get answer
 */
export function userVerdict(s, tally, user, orders, balanceBody) {
  /** @type {string[]} */
  const violations = [];
  /** @type {Set<string>} */
  const seen = new Set();
  let paid = 0;
  for (const order of orders) {
    if (seen.has(order.orderId)) violations.push(`order ${order.orderId} listed twice`);
    seen.add(order.orderId);
    if (order.status === 'PAID') paid += order.payAmount;
    if (order.status !== 'PAID' && order.status !== 'PENDING_PAYMENT') continue;
    for (const line of order.items) {
      const units = tally[line.productId];
      if (units) units[order.status === 'PAID' ? 'paid' : 'held'] += line.quantity;
    }
  }
  const { balance } = dataOf('balance.get', balanceBody);
  const expected = s.chargeSlots * s.charge - paid;
  if (balance !== expected) violations.push(`user ${user}: balance ${balance}, expected ${expected}`);
  return violations;
}

/**
 * Every product: on offer + held + paid = stock.
 * @param {Shape} s
 * @param {Tally} tally
 * @param {{ productId: number, body: string }[]} products  product.get answers
 */
export function stockVerdict(s, tally, products) {
  /** @type {string[]} */
  const violations = [];
  for (const { productId, body } of products) {
    const { stock } = dataOf('product.get', body);
    const u = tally[productId] ?? { held: 0, paid: 0 };
    if (stock < 0 || stock + u.held + u.paid !== s.stock) {
      violations.push(
        `product ${productId}: ${stock} on offer + ${u.held} held + ${u.paid} paid != ${s.stock}`,
      );
    }
  }
  return violations;
}

/**
 * product.top = the ranking of the paid units.
 * @param {Tally} tally
 * @param {string} body  a product.top answer
 */
export function topVerdict(tally, body) {
  const expected = ranking(
    Object.entries(tally).map(([id, u]) => ({ productId: Number(id), soldQuantity: u.paid })),
  );
  const actual = dataOf('product.top', body).items.map((i) => ({
    productId: i.productId,
    soldQuantity: i.soldQuantity,
  }));
  return JSON.stringify(actual) === JSON.stringify(expected)
    ? []
    : [`product.top is ${JSON.stringify(actual)}, paid orders say ${JSON.stringify(expected)}`];
}

/** @param {number} productId */
export const stockCall = (productId) => query('product.get', { productId });

export const topCall = query('product.top');
