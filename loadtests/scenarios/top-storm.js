// Scenario: a read storm on product.top. Sales are made first through the API (charge, order,
// pay) with a known number of units per product, ties included; nothing sells during the
// storm, so every single answer must be exactly the contract's ranking of those sales.
//
// The one definition of this scenario: loadtests/k6/top-storm.js and the Node runner
// (loadtests/node/top-storm.ts) only send these calls and feed the answers back here.
import { adminMutation, dataOf, mutation, query, ranking } from './trpc.js';

/** @import { Call } from './trpc.js' */
/** @import { OutputOf } from './procedures.ts' */

export const name = 'top-storm';

/**
 * Units sold per product, in creation order: a tie (5, 5) decided by the lower id, and more
 * products than the top 5 shows.
 */
export const SOLD = [3, 9, 5, 1, 5, 12, 2, 7];

export const shape = { firstUser: 4000000, durationSec: 15 };
/** @typedef {typeof shape} Shape */

export const description = 'a read storm on product.top after known sales';

export const thresholds = { procedure: 'product.top', p95: 25, p99: 50, unexpected: 0.0001 };

/** @type {string[]} */
export const refusals = [];

/** The products, in the order of SOLD. */
export function createProducts() {
  return SOLD.map((_, i) =>
    adminMutation('admin.product.create', { name: `top ${i + 1}`, price: 1000, stock: 100 }),
  );
}

/**
 * The sales, one buyer per unit (so every order is one line of one unit): each buyer charges,
 * orders, then pays with the orderId of the order's answer (`payCall`).
 * @param {Shape} s
 * @param {number[]} productIds  in the order of SOLD
 * @returns {{ user: number, charge: Call, order: Call }[]}
 */
export function purchases(s, productIds) {
  /** @type {{ user: number, charge: Call, order: Call }[]} */
  const out = [];
  let user = s.firstUser;
  SOLD.forEach((units, i) => {
    for (let n = 0; n < units; n++, user++) {
      out.push({
        user,
        charge: mutation('balance.charge', { amount: 10000 }, user),
        order: mutation('order.create', { items: [{ productId: productIds[i] ?? 0, quantity: 1 }] }, user),
      });
    }
  });
  return out;
}

/** @param {number} user @param {string} orderAnswer  the order.create answer */
export function payCall(user, orderAnswer) {
  return mutation('payment.pay', { orderId: dataOf('order.create', orderAnswer).orderId }, user);
}

export const topCall = query('product.top');

/**
 * The ranking the sales must produce, as product.top answers it.
 * @param {OutputOf<'admin.product.create'>[]} products  in the order of SOLD
 */
export function expectedTop(products) {
  return ranking(
    products.map((p, i) => ({ productId: p.id, name: p.name, price: p.price, soldQuantity: SOLD[i] ?? 0 })),
  );
}

/**
 * The first answer of the storm compared as data; the driver then compares every later answer
 * with that body as text (cheap for the load generator).
 * @param {string} body
 * @param {ReturnType<typeof expectedTop>} expected
 */
export function verdictFirst(body, expected) {
  const items = dataOf('product.top', body).items;
  const same =
    items.length === expected.length &&
    items.every((item, i) => {
      const want = expected[i];
      return (
        want !== undefined &&
        Object.keys(item).length === Object.keys(want).length &&
        item.productId === want.productId &&
        item.name === want.name &&
        item.price === want.price &&
        item.soldQuantity === want.soldQuantity
      );
    });
  return same ? [] : [`product.top answered ${body}, the sales say ${JSON.stringify(expected)}`];
}

/** @param {number} wrong @param {string | undefined} example */
export function verdictStorm(wrong, example) {
  return wrong === 0 ? [] : [`${wrong} answers differ from the ranking of the sales, e.g. ${example}`];
}
