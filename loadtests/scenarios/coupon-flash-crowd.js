// Scenario: tens of thousands of users race for 1,000 coupons. Every request is a random user
// of the crowd (so some try twice); after the sell-out the crowd keeps hammering.
// Closing check through the API: every user's coupon.mine, so exactly `quantity` users hold
// the coupon, each once, nobody told ISSUED holds nothing, and a newcomer is told COUPON_SOLD_OUT.
//
// The one definition of this scenario: loadtests/k6/coupon-flash-crowd.js and the Node runner
// (loadtests/node/coupon-flash-crowd.ts) only send these calls and feed the answers back here.
import { adminMutation, appCodeOf, dataOf, mutation, query } from './trpc.js';

/** @import { Call } from './trpc.js' */

export const name = 'coupon-flash-crowd';

export const shape = { quantity: 1000, users: 20000, firstUser: 1000000, durationSec: 15 };
/** @typedef {typeof shape} Shape */

export const description = `${shape.users} users race for ${shape.quantity} coupons`;

export const thresholds = { procedure: 'coupon.issue', p95: 50, p99: 100, unexpected: 0.001 };

/** The refusals the crowd expects once the coupon runs out or a user comes back. */
export const refusals = ['COUPON_SOLD_OUT', 'COUPON_ALREADY_ISSUED'];

/** @param {Shape} s */
export function createCoupon(s) {
  return adminMutation('admin.coupon.create', {
    name: 'flash crowd',
    discount: { type: 'FIXED', value: 1000 },
    totalQuantity: s.quantity,
  });
}

/**
 * The next request of the crowd: a random user of it.
 * @param {Shape} s
 * @param {number} couponId
 * @param {() => number} random
 * @returns {Call & { user: number }}
 */
export function nextIssue(s, couponId, random) {
  const user = s.firstUser + Math.floor(random() * s.users);
  return { ...mutation('coupon.issue', { couponId }, user), user };
}

/**
 * Every user of the crowd asks coupon.mine (the closing check).
 * @param {Shape} s
 */
export function closingCalls(s) {
  /** @type {(Call & { user: number })[]} */
  const calls = [];
  for (let user = s.firstUser; user < s.firstUser + s.users; user++) {
    calls.push({ ...query('coupon.mine', undefined, user), user });
  }
  return calls;
}

/**
 * A user who never took part: after the sale the answer must be COUPON_SOLD_OUT.
 * @param {Shape} s
 * @param {number} couponId
 */
export function newcomerCall(s, couponId) {
  return mutation('coupon.issue', { couponId }, s.firstUser + s.users);
}

/**
 * The closing verdict.
 * @param {Shape} s
 * @param {number} couponId
 * @param {{ user: number, status: number, body: string }[]} mine  every closingCalls answer
 * @param {{ status: number, body: string }} newcomer  the newcomerCall answer
 * @param {Set<number>} [toldIssued]  users answered ISSUED, where the driver can know it
 * @returns {{ violations: string[], holders: number }}
 */
export function verdict(s, couponId, mine, newcomer, toldIssued) {
  /** @type {string[]} */
  const violations = [];
  let holders = 0;
  for (const answer of mine) {
    if (answer.status !== 200) {
      violations.push(`coupon.mine for user ${answer.user}: HTTP ${answer.status}`);
      continue;
    }
    const held = dataOf('coupon.mine', answer.body).items.filter((i) => i.couponId === couponId).length;
    if (held > 1) violations.push(`user ${answer.user} holds coupon ${couponId} ${held} times`);
    if (held === 1) holders++;
    if (held === 0 && toldIssued?.has(answer.user))
      violations.push(`user ${answer.user} was told ISSUED but holds nothing`);
  }
  if (holders !== s.quantity) violations.push(`${holders} users hold the coupon, quantity is ${s.quantity}`);
  const late = newcomer.status === 200 ? 'ISSUED' : (appCodeOf(newcomer.body) ?? `HTTP ${newcomer.status}`);
  if (late !== 'COUPON_SOLD_OUT')
    violations.push(`a newcomer after the sale got ${late}, not COUPON_SOLD_OUT`);
  return { violations, holders };
}
