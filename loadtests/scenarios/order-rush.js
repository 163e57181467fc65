// Scenario: an order rush on one hot product with little stock. Random users order 1 or 2
// units until it is gone, then keep trying (OUT_OF_STOCK). While the rush runs, product.get is
// sampled: the stock it shows must never be negative. Closing check through the API: the units
// of every order the users hold plus what product.get still offers equal the initial stock.
//
// The one definition of this scenario: loadtests/k6/order-rush.js and the Node runner
// (loadtests/node/order-rush.ts) only send these calls and feed the answers back here.
import { adminMutation, dataOf, mutation, query } from './trpc.js';

/** @import { Call } from './trpc.js' */

export const name = 'order-rush';

export const shape = { stock: 2000, users: 5000, firstUser: 2000000, durationSec: 15, sampleEveryMs: 100 };
/** @typedef {typeof shape} Shape */

export const description = `${shape.users} users rush ${shape.stock} units of one product`;

export const thresholds = { procedure: 'order.create', p95: 250, p99: 500, unexpected: 0.001 };

export const refusals = ['OUT_OF_STOCK'];

/** @param {Shape} s */
export function createProduct(s) {
  return adminMutation('admin.product.create', { name: 'hot product', price: 10000, stock: s.stock });
}

/**
 * The next order of the rush: a random user, for 1 or 2 units (by the user's id).
 * @param {Shape} s
 * @param {number} productId
 * @param {() => number} random
 * @returns {Call & { user: number, units: number }}
 */
export function nextOrder(s, productId, random) {
  const user = s.firstUser + Math.floor(random() * s.users);
  const units = 1 + (user % 2);
  return { ...mutation('order.create', { items: [{ productId, quantity: units }] }, user), user, units };
}

/** The watcher's sample, every `sampleEveryMs` during the rush. @param {number} productId */
export function stockCall(productId) {
  return query('product.get', { productId });
}

/** @param {string} body  a product.get answer */
export function stockOf(body) {
  return dataOf('product.get', body).stock;
}

/**
 * Units of `productId` held or sold by one user's orders (every order.list page of that user).
 * @param {number} productId
 * @param {import('./procedures.ts').OutputOf<'order.list'>['items']} orders
 */
export function unitsInOrders(productId, orders) {
  let units = 0;
  for (const order of orders) {
    if (order.status !== 'PENDING_PAYMENT' && order.status !== 'PAID') continue;
    for (const line of order.items) if (line.productId === productId) units += line.quantity;
  }
  return units;
}

/**
 * The closing verdict.
 * @param {Shape} s
 * @param {{ unitsInOrders: number, stockLeft: number, lowestSeen?: number, confirmedUnits?: number }} seen
 *   units in every user's orders, product.get at the end, and where the driver can know them,
 *   the lowest sample during the rush and the units confirmed to clients
 */
export function verdict(s, seen) {
  /** @type {string[]} */
  const violations = [];
  if (seen.lowestSeen !== undefined && seen.lowestSeen < 0)
    violations.push(`product.get showed stock ${seen.lowestSeen} during the rush`);
  if (seen.stockLeft < 0) violations.push(`the product ends with stock ${seen.stockLeft}`);
  if (seen.unitsInOrders + seen.stockLeft !== s.stock)
    violations.push(
      `orders hold ${seen.unitsInOrders} units and ${seen.stockLeft} remain, but ${s.stock} were stocked`,
    );
  if (seen.confirmedUnits !== undefined && seen.confirmedUnits > seen.unitsInOrders)
    violations.push(`clients were confirmed ${seen.confirmedUnits} units, orders hold ${seen.unitsInOrders}`);
  return violations;
}
