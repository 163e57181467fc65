// Scenario: the sale (scenarios/sale.js) behind a waiting room, `pnpm loadtest sale --waiting-room`.
// `users` shoppers arrive within `durationSec`; the room guards the sale's coupon and products
// and admits `admitPerSecond` shoppers a second, a rate the plain sale rehearsal showed the
// service answers within its thresholds. Every shopper joins, waits, and once admitted goes
// through the sale's funnel (claim, order, charge, pay) with its pass on the guarded calls.
//
// Waiting costs almost nothing: admission follows the ticket order at a known rate, so a
// shopper works out when its turn comes from its ticket, the room's `admittedThrough` and
// `admitPerSecond`, sleeps until then and looks again (waitingRoom.get, the same answer for
// everyone); only once that says admitted does it ask waitingRoom.status for its pass.
//
// What is judged (the drivers collect, this module decides): join p99, the admitted shoppers'
// calls p95/p99, no unexpected answer, no shopper's position ever going up, and the sale's own
// closing verdict (scenarios/sale.js). The Node driver adds fairness over all shoppers (the
// rank correlation of join order against admission order) and Redis memory per shopper.
//
// The one definition of this scenario: loadtests/k6/sale.js (-e WAITING_ROOM=1) and
// loadtests/node/sale.ts only send these calls and wait the times it plans.
import * as sale from './sale.js';
import { adminMutation, appCodeOf, dataOf, mutation, query } from './trpc.js';

/** @import { Call } from './trpc.js' */

export const name = 'sale --waiting-room';

export const shape = {
  ...sale.shape,
  // The scale target: five times the plain sale's crowd, arriving over 30 s.
  users: 100000,
  durationSec: 30,
  firstUser: 8000000,
  /** The room's admission rate (shoppers a second). */
  admitPerSecond: 1000,
  passTtlSeconds: 600,
  /** A poll never follows the previous look sooner than this (waitingRoom.get's max-age). */
  minPollMs: 1000,
  /** Spread added to each planned look, so neighbouring tickets do not ask in one instant. */
  pollJitterMs: 500,
  /** How often a shopper looks while admission is paused. */
  pausedPollMs: 5000,
};
/** @typedef {typeof shape} Shape */

export const description =
  'the sale behind a waiting room: every shopper joins, waits its turn and shops with its pass';

/** Joining must stay fast for the crowd; the admitted shoppers' calls as fast as the room promises. */
export const thresholds = {
  join: { p99: 1000 },
  admitted: { p95: 1000, p99: 2000 },
  /** No unexpected answer at all (the scale target's "0 unexpected answers"). */
  unexpected: 0,
};

/** The waiting steps; the funnel's are sale.STEPS. */
export const WAIT_STEPS = /** @type {const} */ (['join', 'get', 'status']);
/** @typedef {(typeof WAIT_STEPS)[number]} WaitStep */

export const PASS_HEADER = 'x-waiting-room-pass';

/**
 * @param {Shape} s
 * @param {number} couponId
 * @param {number[]} productIds
 */
export function createRoom(s, couponId, productIds) {
  return adminMutation('admin.waitingRoom.create', {
    name: 'sale',
    couponIds: [couponId],
    productIds,
    admitPerSecond: s.admitPerSecond,
    passTtlSeconds: s.passTtlSeconds,
  });
}

/** @param {sale.Plan} p @param {number} roomId */
export function joinCall(p, roomId) {
  return mutation('waitingRoom.join', { roomId }, p.user);
}

/** The public answer every waiting page polls. @param {number} roomId */
export function roomCall(roomId) {
  return query('waitingRoom.get', { roomId });
}

/** @param {sale.Plan} p @param {number} roomId */
export function statusCall(p, roomId) {
  return query('waitingRoom.status', { roomId }, p.user);
}

/**
 * A funnel call with the shopper's pass (the drivers send it as X-Waiting-Room-Pass).
 * @param {Call | undefined} call
 * @param {string} pass
 * @returns {Call | undefined}
 */
export function withPass(call, pass) {
  return call && { ...call, pass };
}

/** @param {string} body */
export const joinOf = (body) => dataOf('waitingRoom.join', body);
/** @param {string} body */
export const roomOf = (body) => dataOf('waitingRoom.get', body);
/** @param {string} body */
export const statusOf = (body) => dataOf('waitingRoom.status', body);

/**
 * ms until a shopper holding `ticket` looks at the room again, from what the room said at
 * `nowMs`: 0 once admitted; otherwise when its turn comes at the room's rate (after the room
 * opens), at least minPollMs after this look, plus a random spread.
 * @param {Shape} s
 * @param {number} ticket
 * @param {{ admittedThrough: number, admitPerSecond: number, paused: boolean, opensAt: string | null }} room
 * @param {number} nowMs
 * @param {() => number} random
 */
export function pollDelayMs(s, ticket, room, nowMs, random) {
  if (ticket <= room.admittedThrough) return 0;
  if (room.paused) return s.pausedPollMs;
  const untilOpen = room.opensAt ? Math.max(0, Date.parse(room.opensAt) - nowMs) : 0;
  const etaMs = untilOpen + ((ticket - room.admittedThrough) * 1000) / Math.max(1, room.admitPerSecond);
  return Math.max(s.minPollMs, Math.ceil(etaMs)) + Math.floor(random() * s.pollJitterMs);
}

/**
 * The first wait after joining, from the join's own estimate (the same rule as pollDelayMs).
 * @param {Shape} s
 * @param {{ admitted: boolean, estimatedWaitSeconds: number }} joined
 * @param {() => number} random
 */
export function firstDelayMs(s, joined, random) {
  if (joined.admitted) return 0;
  return (
    Math.max(s.minPollMs, Math.ceil(joined.estimatedWaitSeconds * 1000)) +
    Math.floor(random() * s.pollJitterMs)
  );
}

/** The position a room answer gives `ticket` (the contract's `position`). @param {number} ticket @param {number} admittedThrough */
export function positionOf(ticket, admittedThrough) {
  return Math.max(0, ticket - admittedThrough - 1);
}

/**
 * How a waiting step's answer counts: `ok`, a load-shedding answer the driver retries
 * (sale.SHED), or `unexpected` (a refusal on a waiting step is never expected).
 * @param {number} status
 */
export function waitOutcomeOf(status) {
  if (status >= 200 && status < 300) return 'ok';
  if (sale.RETRY_STATUSES.includes(status)) return status === 429 ? 'RATE_LIMITED' : 'UNAVAILABLE';
  return 'unexpected';
}

/**
 * A funnel step's outcome: the sale's, except that a NOT_ADMITTED to a shopper holding a pass
 * is a violation of the room's promise, so it is unexpected like any other.
 * @param {sale.Step} step
 * @param {number} status
 * @param {string} body
 */
export function funnelOutcomeOf(step, status, body) {
  const outcome = sale.outcomeOf(step, status, body);
  return outcome === 'unexpected' && appCodeOf(body) === 'NOT_ADMITTED' ? 'NOT_ADMITTED' : outcome;
}

/**
 * Spearman's rank correlation of two equally long series without ties (the drivers break ties
 * by ticket: tickets admitted by one answer go in as a prefix, in ticket order).
 * @param {ArrayLike<number>} xs
 * @param {ArrayLike<number>} ys
 */
export function spearman(xs, ys) {
  const n = xs.length;
  if (n < 2) return 1;
  const rank = (/** @type {ArrayLike<number>} */ v) => {
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (v[a] ?? 0) - (v[b] ?? 0) || a - b);
    const r = new Float64Array(n);
    order.forEach((i, k) => {
      r[i] = k;
    });
    return r;
  };
  const rx = rank(xs);
  const ry = rank(ys);
  let d2 = 0;
  for (let i = 0; i < n; i++) d2 += ((rx[i] ?? 0) - (ry[i] ?? 0)) ** 2;
  return 1 - (6 * d2) / (n * (n * n - 1));
}
