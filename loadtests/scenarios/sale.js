// Scenario: a whole sale, shopper by shopper. `users` shoppers arrive within `durationSec` (a
// burst) for `coupons` coupons and `products` products of `stock` units each. Each shopper
// claims the coupon, thinks, orders one unit (with the coupon if it got one; without, only
// `noCouponBuyPct` percent bother), thinks, charges the pay amount and pays. `abandonPct`
// percent leave their order unpaid, so it expires after `holdSeconds` (the runner sets
// ORDER_HOLD_SECONDS to it); `retryPct` percent send order.create and payment.pay twice at once
// with the same idempotency key, as a client retrying a timed-out call does. Orders carry an
// idempotency key for `keyedPct` percent of the shoppers (the others take the keyless path).
//
// Closing check through the API: every retry answered the same order and payment, nobody paid
// more units than were stocked, every abandoned order is EXPIRED, what product.get offers =
// stock - paid units (nothing held once the expiries ran), product.top ranks the paid units, the
// coupon is all given out.
//
// The one definition of this scenario: loadtests/k6/sale.js and the Node runner
// (loadtests/node/sale.ts) only send these calls, wait the think times it plans, and feed the
// answers back here.
import { adminMutation, appCodeOf, dataOf, mutation, query, ranking } from './trpc.js';

/** @import { Call } from './trpc.js' */

export const name = 'sale';

export const shape = {
  users: 20000,
  firstUser: 6000000,
  coupons: 2000,
  products: 2,
  stock: 1500,
  price: 30000,
  discount: 5000,
  /** The arrival window: every shopper arrives within it, at a uniformly random moment. */
  durationSec: 10,
  thinkMinMs: 500,
  thinkMaxMs: 3000,
  abandonPct: 15,
  retryPct: 3,
  keyedPct: 50,
  noCouponBuyPct: 40,
  holdSeconds: 30,
};
/** @typedef {typeof shape} Shape */

/** The sale's size in a line, for the shape that runs (LOADTEST_* overrides included). @param {Shape} s */
export const describe = (s) =>
  `${s.users} shoppers, ${s.coupons} coupons, ${s.products} products of ${s.stock}`;

/** With the default shape: for usage lists; a run prints `describe` of its own shape. */
export const description = describe(shape);

/** Every step of the journey together (each step's percentiles are reported on their own). */
export const thresholds = { p95: 2000, p99: 5000, unexpected: 0.001 };

/** The steps of a journey, in order. */
export const STEPS = /** @type {const} */ (['issue', 'order', 'charge', 'pay']);
/** @typedef {(typeof STEPS)[number]} Step */

/** The refusals a step of the sale expects; anything else not 2xx is unexpected. @type {Record<Step, string[]>} */
export const refusals = {
  issue: ['COUPON_SOLD_OUT'],
  order: ['OUT_OF_STOCK'],
  charge: [],
  pay: ['ORDER_EXPIRED'],
};

/**
 * Answers a client retries after a pause (the service shedding load or a store briefly away):
 * the calls that carry an idempotency key, and coupon.issue (one per user, so a retry of one
 * that did go through answers COUPON_ALREADY_ISSUED). Keyless orders are not retried: their
 * outcome is unknown and a second one could buy twice.
 */
export const RETRY_STATUSES = [429, 503];
export const RETRY_ATTEMPTS = 4;
export const RETRY_PAUSE_MS = 1000;

/** The environment the service runs with for this scenario. @param {Shape} s */
export function serviceEnv(s) {
  return { ORDER_HOLD_SECONDS: String(s.holdSeconds) };
}

/** @param {Shape} s */
export function createCoupon(s) {
  return adminMutation('admin.coupon.create', {
    name: 'sale coupon',
    discount: { type: 'FIXED', value: s.discount },
    totalQuantity: s.coupons,
  });
}

/** @param {Shape} s */
export function createProducts(s) {
  /** @type {Call[]} */
  const calls = [];
  for (let i = 0; i < s.products; i++) {
    calls.push(
      adminMutation('admin.product.create', { name: `sale item ${i + 1}`, price: s.price, stock: s.stock }),
    );
  }
  return calls;
}

/**
 * What one shopper will do, drawn once on arrival.
 * @typedef {{
 *   user: number, arriveMs: number, product: number, keyed: boolean, retries: boolean,
 *   abandons: boolean, buysWithoutCoupon: boolean, thinkMs: [number, number, number], key: string
 * }} Plan
 * @param {Shape} s
 * @param {string} runId  makes this run's idempotency keys its own
 * @param {number} index  0 .. users-1
 * @param {() => number} random
 * @returns {Plan}
 */
export function plan(s, runId, index, random) {
  const pct = (/** @type {number} */ p) => random() * 100 < p;
  const think = () => s.thinkMinMs + Math.floor(random() * (s.thinkMaxMs - s.thinkMinMs));
  const keyed = pct(s.keyedPct);
  return {
    user: s.firstUser + index,
    arriveMs: Math.floor(random() * s.durationSec * 1000),
    product: Math.floor(random() * s.products),
    keyed,
    // A retry needs a key to be safe; shoppers without one never retry.
    retries: keyed && pct((s.retryPct * 100) / Math.max(1, s.keyedPct)),
    abandons: pct(s.abandonPct),
    buysWithoutCoupon: pct(s.noCouponBuyPct),
    thinkMs: [think(), think(), think()],
    key: `sale-${runId}-${index}`,
  };
}

/** @param {Plan} p @param {number} couponId */
export function issueCall(p, couponId) {
  return mutation('coupon.issue', { couponId }, p.user);
}

/**
 * The order, or undefined when this shopper leaves without a coupon.
 * @param {Plan} p
 * @param {number[]} productIds
 * @param {number | undefined} couponId  the coupon, when the shopper got it
 */
export function orderCall(p, productIds, couponId) {
  if (couponId === undefined && !p.buysWithoutCoupon) return undefined;
  /** @type {import('./procedures.ts').InputOf<'order.create'>} */
  const input = { items: [{ productId: productIds[p.product] ?? 0, quantity: 1 }] };
  if (couponId !== undefined) input.couponId = couponId;
  if (p.keyed) input.idempotencyKey = `${p.key}-o`;
  return mutation('order.create', input, p.user);
}

/** Charges what the order costs (at least the smallest charge). @param {Plan} p @param {number} payAmount */
export function chargeCall(p, payAmount) {
  return mutation(
    'balance.charge',
    { amount: Math.max(1000, payAmount), idempotencyKey: `${p.key}-c` },
    p.user,
  );
}

/** @param {Plan} p @param {string} orderId */
export function payCall(p, orderId) {
  return mutation('payment.pay', { orderId, idempotencyKey: `${p.key}-p` }, p.user);
}

/**
 * How an answer counts: `ok`, one of the step's expected refusals, or `unexpected`.
 * @param {Step} step
 * @param {number} status
 * @param {string | null | undefined} body
 * @returns {string}
 */
export function outcomeOf(step, status, body) {
  if (status >= 200 && status < 300) return 'ok';
  let code = status === 409 ? appCodeOf(body) : undefined;
  // A shopper who took longer than the hold time finds the order expired: a funnel outcome.
  if (code === 'ORDER_NOT_PAYABLE' && body && JSON.parse(body).error?.data?.status === 'EXPIRED')
    code = 'ORDER_EXPIRED';
  if (code !== undefined && refusals[step].includes(code)) return code;
  // A retried issue that had gone through the first time.
  if (step === 'issue' && code === 'COUPON_ALREADY_ISSUED') return 'ok';
  if (RETRY_STATUSES.includes(status)) return status === 429 ? 'RATE_LIMITED' : 'UNAVAILABLE';
  return 'unexpected';
}

/**
 * Whether the call is sent again after RETRY_PAUSE_MS (see RETRY_STATUSES).
 * @param {Step} step
 * @param {Call} call
 * @param {string} outcome
 * @param {number} attempt  1 for the first call
 */
export function retries(step, call, outcome, attempt) {
  if (attempt >= RETRY_ATTEMPTS || (outcome !== 'UNAVAILABLE' && outcome !== 'RATE_LIMITED')) return false;
  return step !== 'order' || (call.body ?? '').includes('"idempotencyKey"');
}

/** Outcomes that say the service was overloaded, not wrong: thresholds count them, the invariants do not. */
export const SHED = ['UNAVAILABLE', 'RATE_LIMITED'];

/** @param {string} body */
export const orderOf = (body) => dataOf('order.create', body);
/** @param {string} body */
export const paymentOf = (body) => dataOf('payment.pay', body);

/**
 * What the driver counted, in the shape the verdict reads.
 * @typedef {{
 *   issued: number, ordered: number[], paid: number[], abandoned: { user: number, orderId: string }[],
 *   retryMismatches: string[], unexpected: string[]
 * }} Tally  ordered/paid: units per product index
 * @param {Shape} s
 * @returns {Tally}
 */
export function newTally(s) {
  return {
    issued: 0,
    ordered: Array.from({ length: s.products }, () => 0),
    paid: Array.from({ length: s.products }, () => 0),
    abandoned: [],
    retryMismatches: [],
    unexpected: [],
  };
}

/**
 * Two sends of one keyed call at once: when both succeed they answer the same order or payment.
 * A refusal is not kept under its key (the refused attempt changed nothing), so the other send
 * may still succeed, e.g. on stock an expiry gave back in between. Returns the answer the
 * shopper goes on with: the success, if either succeeded.
 * @template {{ status: number, body: string }} A
 * @param {Tally} t
 * @param {'order' | 'pay'} step
 * @param {A} first
 * @param {A} again
 * @returns {A}
 */
export function compareRetry(t, step, first, again) {
  const id = (/** @type {{ status: number, body: string }} */ a) =>
    step === 'order' ? orderOf(a.body).orderId : paymentOf(a.body).paymentId;
  if (first.status === 200 && again.status === 200 && id(first) !== id(again))
    t.retryMismatches.push(`${step} sent twice with one key answered ${id(first)} and ${id(again)}`);
  return first.status !== 200 && again.status === 200 ? again : first;
}

/**
 * The calls of the closing check: each abandoned order, every product, the top-5, and a
 * coupon.issue by a shopper who never came (COUPON_SOLD_OUT once every coupon is out).
 * @param {Shape} s
 * @param {Tally} t
 * @param {number[]} productIds
 * @param {number} couponId
 */
export function closingCalls(s, t, productIds, couponId) {
  return {
    abandoned: t.abandoned.map((a) => query('order.get', { orderId: a.orderId }, a.user)),
    products: productIds.map((productId) => query('product.get', { productId })),
    top: query('product.top'),
    coupon: mutation('coupon.issue', { couponId }, s.firstUser + s.users),
  };
}

/**
 * The closing verdict, once the last journey ended and the hold time (plus the expiry sweep) has
 * passed.
 * @param {Shape} s
 * @param {Tally} t
 * @param {{ abandoned: A[], products: A[], top?: A, coupon: A }} answers  product.get answers in productIds' order
 * @typedef {{ status: number, body: string }} A
 */
export function verdict(s, t, answers) {
  /** @type {string[]} */
  const violations = [...t.retryMismatches, ...t.unexpected.slice(0, 20)];
  if (t.unexpected.length > 20)
    violations.push(`... and ${t.unexpected.length - 20} more unexpected answers`);
  let expired = 0;
  answers.abandoned.forEach((a, i) => {
    const status = a.status === 200 ? dataOf('order.get', a.body).status : `HTTP ${a.status}`;
    if (status === 'EXPIRED') expired++;
    else violations.push(`abandoned order ${t.abandoned[i]?.orderId} is ${status}, not EXPIRED`);
  });
  answers.products.forEach((a, i) => {
    const paid = t.paid[i] ?? 0;
    if (paid > s.stock) violations.push(`product ${i + 1}: ${paid} units paid, ${s.stock} stocked`);
    const offered = a.status === 200 ? dataOf('product.get', a.body).stock : Number.NaN;
    if (offered !== s.stock - paid)
      violations.push(
        `product ${i + 1}: ${offered} on offer after the expiries, expected ${s.stock} - ${paid} paid`,
      );
  });
  if (answers.top) {
    // The sale's products are the only ones sold: product.top ranks their paid units.
    const ids = answers.products.map((a) => (a.status === 200 ? dataOf('product.get', a.body).id : 0));
    const want = ranking(t.paid.map((soldQuantity, i) => ({ productId: ids[i] ?? 0, soldQuantity })));
    const got =
      answers.top.status === 200
        ? dataOf('product.top', answers.top.body).items.map((x) => ({
            productId: x.productId,
            soldQuantity: x.soldQuantity,
          }))
        : `HTTP ${answers.top.status}`;
    if (JSON.stringify(got) !== JSON.stringify(want))
      violations.push(`product.top is ${JSON.stringify(got)}, the paid units rank ${JSON.stringify(want)}`);
  }
  if (s.users >= s.coupons) {
    const late =
      answers.coupon.status === 200
        ? 'ISSUED'
        : (appCodeOf(answers.coupon.body) ?? `HTTP ${answers.coupon.status}`);
    if (late !== 'COUPON_SOLD_OUT')
      violations.push(`a newcomer after the sale got ${late}, not COUPON_SOLD_OUT`);
  }
  if (t.issued > s.coupons)
    violations.push(`${t.issued} shoppers were told ISSUED, ${s.coupons} coupons exist`);
  return { violations, expired };
}

/**
 * The closing verdict where the driver cannot keep a tally across shoppers (k6's virtual users
 * share nothing): from every shopper's orders once the hold time has passed, every order is
 * PAID or EXPIRED, paid units fit the stock, and what product.get offers = stock - paid units.
 * @param {Shape} s
 * @param {number[]} productIds
 * @param {import('./procedures.ts').OutputOf<'order.list'>['items']} orders  all shoppers' orders
 * @param {{ status: number, body: string }[]} products  product.get answers, in productIds' order
 * @param {{ status: number, body: string }} coupon  the newcomer's coupon.issue answer
 * @param {{ status: number, body: string }} [top]  the product.top answer
 */
export function ordersVerdict(s, productIds, orders, products, coupon, top) {
  const t = newTally(s);
  /** @type {string[]} */
  const violations = [];
  let expired = 0;
  for (const order of orders) {
    if (order.status === 'EXPIRED') expired++;
    else if (order.status !== 'PAID')
      violations.push(`order ${order.orderId} is ${order.status} after the hold time`);
    if (order.status !== 'PAID') continue;
    for (const line of order.items) {
      const i = productIds.indexOf(line.productId);
      if (i >= 0) t.paid[i] = (t.paid[i] ?? 0) + line.quantity;
    }
  }
  // Only paid orders hold stock now, so the tally's paid units are what product.get must show.
  const result = verdict(s, { ...t, issued: 0 }, { abandoned: [], products, top, coupon });
  return { violations: [...violations, ...result.violations], expired, paid: t.paid };
}
