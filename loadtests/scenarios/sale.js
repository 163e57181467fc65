// The sale rehearsal, defined once for both drivers (k6/sale.js, node/sale.ts), which only send
// the calls, sleep and count. `users` shoppers arrive within `durationSec` for `coupons` coupons
// and `products` × `stock` units. A shopper claims the coupon, thinks, orders one unit (without
// a coupon only `noCouponBuyPct` percent do), thinks, charges and pays. `abandonPct` percent leave
// the order to expire after `holdSeconds` (the service's ORDER_HOLD_SECONDS), `retryPct` percent
// send order and payment twice with one key, `keyedPct` percent use idempotency keys.
import { adminMutation, appCodeOf, dataOf, mutation, query, ranking } from './trpc.js';

/** @import { Call } from './trpc.js' */

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

/** In k6's syntax, judged by the Node driver too (funnel_calls: the journey's calls; shed load is unexpected). */
export const thresholds = { funnel_calls: ['p(95)<2000', 'p(99)<5000'], unexpected_answers: ['rate<0.001'] };

export const STEPS = /** @type {const} */ (['issue', 'order', 'charge', 'pay']);
/** @typedef {(typeof STEPS)[number]} Step */

/** The refusals each step expects; a waiting room's steps expect none. @type {Record<string, string[]>} */
export const REFUSALS = { issue: ['COUPON_SOLD_OUT'], order: ['OUT_OF_STOCK'], pay: ['ORDER_EXPIRED'] };

/** Shed load is retried after a pause where that is safe (see `retries`). */
export const RETRY_ATTEMPTS = 4;
export const RETRY_PAUSE_MS = 1000;

/** @param {Shape} s */
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
  return Array.from({ length: s.products }, (_, i) =>
    adminMutation('admin.product.create', { name: `sale item ${i + 1}`, price: s.price, stock: s.stock }),
  );
}

/**
 * What one shopper will do, drawn once on arrival (`runId` makes the run's idempotency keys its
 * own; index `users` is the closing check's newcomer).
 * @typedef {{ user: number, arriveMs: number, product: number, keyed: boolean, retries: boolean,
 *   abandons: boolean, buysWithoutCoupon: boolean, thinkMs: [number, number, number], key: string }} Plan
 * @param {Shape} s @param {string} runId @param {number} index @param {() => number} random @returns {Plan}
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

/** The order (with the coupon when the shopper got it), or undefined when it leaves. @param {Plan} p @param {number[]} productIds @param {number} [couponId] */
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
 * How an answer counts: `ok`, one of the step's expected refusals, shed (UNAVAILABLE, RATE_LIMITED)
 * or unexpected (NO_ANSWER: socket error or timeout; NOT_ADMITTED to a pass holder; `unexpected`).
 * @param {string} step @param {number} status @param {string | null | undefined} body @returns {string}
 */
export function outcomeOf(step, status, body) {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 0) return 'NO_ANSWER';
  if (status === 429) return 'RATE_LIMITED';
  if (status === 503) return 'UNAVAILABLE';
  let code = appCodeOf(body);
  // A shopper who took longer than the hold time finds the order expired: a funnel outcome.
  if (code === 'ORDER_NOT_PAYABLE' && JSON.parse(body ?? '{}').error?.data?.status === 'EXPIRED')
    code = 'ORDER_EXPIRED';
  if (status === 409 && code !== undefined && (REFUSALS[step] ?? []).includes(code)) return code;
  // A retried issue that had gone through the first time.
  if (step === 'issue' && code === 'COUPON_ALREADY_ISSUED') return 'ok';
  return code === 'NOT_ADMITTED' ? code : 'unexpected';
}

/** `refused`: expected by the sale; `shed`: thresholds count it, invariants do not. @param {string} outcome */
export function kindOf(outcome) {
  if (outcome === 'ok') return 'ok';
  if (outcome === 'UNAVAILABLE' || outcome === 'RATE_LIMITED') return 'shed';
  return Object.values(REFUSALS).some((r) => r.includes(outcome)) ? 'refused' : 'unexpected';
}

/**
 * Whether a call goes again after RETRY_PAUSE_MS: shed keyed calls and coupon.issue (a repeat
 * answers COUPON_ALREADY_ISSUED), not a keyless order (it could buy twice); a waiting page also
 * asks again after no answer (joining twice answers the same ticket, the rest only read).
 * @param {string} step @param {Call} call @param {string} outcome @param {number} attempt  1 for the first
 */
export function retries(step, call, outcome, attempt) {
  if (attempt >= RETRY_ATTEMPTS) return false;
  const shed = kindOf(outcome) === 'shed';
  if (!(/** @type {readonly string[]} */ (STEPS).includes(step))) return shed || outcome === 'NO_ANSWER';
  return shed && (step !== 'order' || (call.body ?? '').includes('"idempotencyKey"'));
}

/**
 * What a driver gives the journeys: `send` one call (the answer whatever its status), `count`
 * each answer with its outcome, `sleep`.
 * @typedef {{ status: number, body: string, sentAt?: number, receivedAt?: number }} Answer
 * @typedef {{
 *   send(step: string, call: Call): Promise<Answer>,
 *   count(step: string, call: Call, answer: Answer, outcome: string): void,
 *   sleep(ms: number): Promise<unknown>,
 * }} Io
 */

/**
 * One step's call, sent again while `retries` says so: the last answer with its outcome and the
 * first attempt's sentAt (a join answered late may have taken its ticket then).
 * @param {Io} io @param {string} step @param {Call} call
 */
export async function send(io, step, call) {
  /** @type {number | undefined} */
  let sentAt;
  for (let attempt = 1; ; attempt++) {
    const a = await io.send(step, call);
    if (sentAt === undefined) sentAt = a.sentAt;
    const outcome = outcomeOf(step, a.status, a.body);
    io.count(step, call, a, outcome);
    if (!retries(step, call, outcome, attempt)) return { ...a, sentAt, outcome };
    await io.sleep(RETRY_PAUSE_MS);
  }
}

/**
 * What the journeys counted, for the verdict (ordered, paid: units per product index).
 * @typedef {{ issued: number, ordered: number[], paid: number[], abandoned: { user: number, orderId: string }[],
 *   retryMismatches: string[], unexpected: string[] }} Tally
 * @param {Shape} s @returns {Tally}
 */
export function newTally(s) {
  const zeros = () => Array.from({ length: s.products }, () => 0);
  return { issued: 0, ordered: zeros(), paid: zeros(), abandoned: [], retryMismatches: [], unexpected: [] };
}

/** @param {string} body */
export const orderOf = (body) => dataOf('order.create', body);

/**
 * Two sends of one keyed call: when both succeed they answer the same order or payment. A refusal
 * is not kept under its key, so the other may still succeed (on stock an expiry gave back); the
 * shopper goes on with the success, if any.
 * @template {{ status: number, body: string }} A
 * @param {Tally} t @param {'order' | 'pay'} step @param {A} first @param {A} again @returns {A}
 */
export function compareRetry(t, step, first, again) {
  const id = (/** @type {A} */ a) =>
    step === 'order' ? orderOf(a.body).orderId : dataOf('payment.pay', a.body).paymentId;
  if (first.status === 200 && again.status === 200 && id(first) !== id(again))
    t.retryMismatches.push(`${step} sent twice with one key answered ${id(first)} and ${id(again)}`);
  return first.status !== 200 && again.status === 200 ? again : first;
}

/** A retrying shopper's keyed call goes twice at once, as a client retrying a timed-out call. @param {Io} io @param {Tally} t @param {'order' | 'pay'} step @param {Call} call @param {boolean} twice */
async function keyed(io, t, step, call, twice) {
  if (!twice) return send(io, step, call);
  const [first, again] = await Promise.all([send(io, step, call), send(io, step, call)]);
  return compareRetry(t, step, first, again);
}

/**
 * One shopper's journey once it arrived (behind a room: its pass on the guarded calls).
 * @param {Io} io @param {Plan} p @param {{ couponId: number, productIds: number[] }} sale @param {Tally} t @param {string} [pass]
 */
export async function shop(io, p, sale, t, pass) {
  const guarded = (/** @type {Call} */ call) => (pass ? { ...call, pass } : call);
  const issued = (await send(io, 'issue', guarded(issueCall(p, sale.couponId)))).outcome === 'ok';
  if (issued) t.issued++;
  const order = orderCall(p, sale.productIds, issued ? sale.couponId : undefined);
  if (!order) return;
  await io.sleep(p.thinkMs[0]);
  const o = await keyed(io, t, 'order', guarded(order), p.retries);
  if (o.outcome !== 'ok') return;
  const { orderId, payAmount } = orderOf(o.body);
  t.ordered[p.product] = (t.ordered[p.product] ?? 0) + 1;
  if (p.abandons) {
    t.abandoned.push({ user: p.user, orderId });
    return;
  }
  await io.sleep(p.thinkMs[1]);
  if (payAmount > 0 && (await send(io, 'charge', chargeCall(p, payAmount))).outcome !== 'ok') return;
  await io.sleep(p.thinkMs[2]);
  if ((await keyed(io, t, 'pay', payCall(p, orderId), p.retries)).outcome === 'ok')
    t.paid[p.product] = (t.paid[p.product] ?? 0) + 1;
}

/**
 * The closing check's calls: each abandoned order, every product, the top-5, and a coupon.issue
 * by a shopper who never came. @param {Shape} s @param {Tally} t @param {number[]} productIds @param {number} couponId
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
 * The closing verdict after the hold time and the expiry sweep: every retry answered alike, every
 * abandoned order EXPIRED, on offer = stock − paid units, product.top ranks the paid units, a
 * newcomer finds the coupon sold out, nobody told ISSUED beyond the coupons.
 * @typedef {{ status: number, body: string }} A
 * @param {Shape} s @param {Tally} t @param {{ abandoned: A[], products: A[], top?: A, coupon: A }} answers  products in productIds' order
 */
export function verdict(s, t, answers) {
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
    const ids = answers.products.map((a) => (a.status === 200 ? dataOf('product.get', a.body).id : 0));
    const want = ranking(t.paid.map((soldQuantity, i) => ({ productId: ids[i] ?? 0, soldQuantity })));
    const got =
      answers.top.status === 200
        ? dataOf('product.top', answers.top.body).items.map(({ productId, soldQuantity }) => ({
            productId,
            soldQuantity,
          }))
        : `HTTP ${answers.top.status}`;
    if (JSON.stringify(got) !== JSON.stringify(want))
      violations.push(`product.top is ${JSON.stringify(got)}, the paid units rank ${JSON.stringify(want)}`);
  }
  const late =
    answers.coupon.status === 200
      ? 'ISSUED'
      : (appCodeOf(answers.coupon.body) ?? `HTTP ${answers.coupon.status}`);
  if (s.users >= s.coupons && late !== 'COUPON_SOLD_OUT')
    violations.push(`a newcomer after the sale got ${late}, not COUPON_SOLD_OUT`);
  if (t.issued > s.coupons)
    violations.push(`${t.issued} shoppers were told ISSUED, ${s.coupons} coupons exist`);
  return { violations, expired };
}

/**
 * The verdict without a tally across shoppers (k6's virtual users share nothing): every order
 * PAID or EXPIRED after the hold time, the paid units as the tally.
 * @param {Shape} s @param {number[]} productIds @param {import('./procedures.ts').OutputOf<'order.list'>['items']} orders
 * @param {A[]} products @param {A} coupon @param {A} [top]
 */
export function ordersVerdict(s, productIds, orders, products, coupon, top) {
  const t = newTally(s);
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
  const result = verdict(s, t, { abandoned: [], products, top, coupon });
  return { violations: [...violations, ...result.violations], expired, paid: t.paid };
}
