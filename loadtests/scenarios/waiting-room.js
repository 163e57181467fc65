// The sale behind a waiting room (`--waiting-room`; k6: -e WAITING_ROOM=1). The room guards the
// sale's coupon and products and admits `admitPerSecond` shoppers a second. Admission follows the
// ticket order at a known rate, so a shopper works out its turn from its ticket, the room's
// admittedThrough and the rate, sleeps until then, looks (waitingRoom.get, the same answer for
// everyone) and only once admitted asks waitingRoom.status for its pass.
import * as sale from './sale.js';
import { adminMutation, dataOf, mutation, query } from './trpc.js';

export const shape = {
  ...sale.shape,
  // The scale target: five times the plain sale's crowd, arriving over 30 s.
  users: 100000,
  durationSec: 30,
  firstUser: 8000000,
  admitPerSecond: 1000,
  passTtlSeconds: 600,
  /** A look never follows the previous one sooner than this (waitingRoom.get's max-age). */
  minPollMs: 1000,
  /** Spread added to each planned look, so neighbouring tickets do not ask in one instant. */
  pollJitterMs: 500,
  /** How often a shopper looks while admission is paused. */
  pausedPollMs: 5000,
};
/** @typedef {typeof shape} Shape */

/** Joining stays fast for the crowd, the admitted shoppers' calls as fast as the room promises. */
export const thresholds = {
  step_join: ['p(99)<=1000'],
  funnel_calls: ['p(95)<=1000', 'p(99)<=2000'],
  unexpected_answers: ['rate<=0'],
};

export const WAIT_STEPS = /** @type {const} */ (['join', 'get', 'status']);

/** @param {Shape} s @param {number} couponId @param {number[]} productIds */
export function createRoom(s, couponId, productIds) {
  return adminMutation('admin.waitingRoom.create', {
    name: 'sale',
    couponIds: [couponId],
    productIds,
    admitPerSecond: s.admitPerSecond,
    passTtlSeconds: s.passTtlSeconds,
  });
}

/** The public answer every waiting page polls. @param {number} roomId */
export function roomCall(roomId) {
  return query('waitingRoom.get', { roomId });
}

/**
 * ms until a shopper holding `ticket` looks again, from what the room said at `nowMs`: 0 once
 * admitted; else when its turn comes at the room's rate (after the room opens), at least
 * minPollMs later, plus a random spread.
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

/** The position a room answer gives `ticket` (the contract's `position`). @param {number} ticket @param {number} admittedThrough */
export function positionOf(ticket, admittedThrough) {
  return Math.max(0, ticket - admittedThrough - 1);
}

/**
 * What the room told a shopper: whether it was in, when (the driver's clock) and, for a look,
 * the room's admittedThrough.
 * @typedef {{ admitted: boolean, sentAt?: number, receivedAt?: number, through?: number }} Told
 */

/**
 * Joins, waits for the shopper's turn and takes its pass (undefined when the service failed
 * the shopper). Returns what the room told it, and its positions that went up (a violation).
 * @param {sale.Io} io
 * @param {Shape} s
 * @param {sale.Plan} p
 * @param {number} roomId
 * @param {sale.Tally} t  where an admitted shopper without a pass is counted as unexpected
 */
export async function waitForPass(io, s, p, roomId, t) {
  /** @type {{ pass?: string, ticket: number, told: Told[], positionsUp: string[] }} */
  const w = { ticket: 0, told: [], positionsUp: [] };
  const j = await sale.send(io, 'join', mutation('waitingRoom.join', { roomId }, p.user));
  if (j.outcome !== 'ok') return w;
  const joined = dataOf('waitingRoom.join', j.body);
  w.ticket = joined.ticket;
  let position = joined.position;
  const saw = (
    /** @type {sale.Answer} */ a,
    /** @type {boolean} */ admitted,
    /** @type {number} */ next,
    through = Number.NaN,
  ) => {
    w.told.push({ admitted, sentAt: a.sentAt, receivedAt: a.receivedAt, through });
    if (next > position) w.positionsUp.push(`ticket ${joined.ticket}: position ${position} then ${next}`);
    position = next;
  };
  saw(j, joined.admitted, joined.position);
  if (joined.pass) return { ...w, pass: joined.pass };
  // The first wait follows the join's own estimate, by the rule of pollDelayMs.
  await io.sleep(
    joined.admitted
      ? 0
      : Math.max(s.minPollMs, Math.ceil(joined.estimatedWaitSeconds * 1000)) +
          Math.floor(Math.random() * s.pollJitterMs),
  );
  for (;;) {
    const g = await sale.send(io, 'get', roomCall(roomId));
    if (g.outcome !== 'ok') return w;
    const room = dataOf('waitingRoom.get', g.body);
    const through = room.admittedThrough;
    saw(g, joined.ticket <= through, positionOf(joined.ticket, through), through);
    const delay = pollDelayMs(s, joined.ticket, room, Date.now(), Math.random);
    if (delay === 0) break;
    await io.sleep(delay);
  }
  const st = await sale.send(io, 'status', query('waitingRoom.status', { roomId }, p.user));
  if (st.outcome !== 'ok') return w;
  const status = dataOf('waitingRoom.status', st.body);
  saw(st, status.admitted, status.position);
  if (!status.pass)
    t.unexpected.push(`ticket ${joined.ticket}: waitingRoom.get said admitted, status said ${st.body}`);
  return { ...w, pass: status.pass ?? undefined };
}
