/**
 * The admission rule of a waiting room, as the reads compute it (`waitingRoom.get`, the
 * metrics). The scripts that change a room apply the same rule (scripts/lua/lib/waiting-room.lua);
 * both work in whole milli-tickets and milliseconds, so they agree exactly.
 *
 * A room banks admission credit: `credit(now) = a + rate × max(0, now − max(since, opensAt))`
 * (frozen while paused), and every ticket up to `floor(credit / 1000)` is admitted, never
 * beyond the tickets handed out. A change folds the credit so far into `a` and restarts
 * `since`, so the rate history is one segment and no job has to run for anyone to get in.
 */

/** Milli-tickets per ticket: credit is kept in whole units so integer arithmetic is exact. */
export const CREDIT_PER_TICKET = 1000;

/** A room's admission state as its hash holds it. */
export type AdmissionState = {
  /** Tickets handed out. */
  joined: number;
  /** Credit banked at `since` (milli-tickets). */
  credit: number;
  /** ms epoch the credit was banked at. */
  since: number;
  /** Admissions per second. */
  rate: number;
  paused: boolean;
  /** ms epoch admission starts; 0 = at once. */
  opensAtMs: number;
};

/** The credit at `nowMs` (milli-tickets), not capped by the tickets handed out. */
export function creditAt(s: AdmissionState, nowMs: number): number {
  const from = Math.max(s.since, s.opensAtMs);
  if (s.paused || nowMs <= from) return s.credit;
  return s.credit + s.rate * (nowMs - from);
}

/** The highest ticket admitted given the credit at some moment. */
export function admittedThroughFor(joined: number, credit: number): number {
  return Math.min(joined, Math.floor(credit / CREDIT_PER_TICKET));
}

/** The highest ticket admitted at `nowMs`. */
export function admittedThrough(s: AdmissionState, nowMs: number): number {
  return admittedThroughFor(s.joined, creditAt(s, nowMs));
}

/**
 * Seconds until `ticket` is admitted if nothing changes (to a tenth of a second, rounded up;
 * 0 once admitted). `state.credit`/`since` as at `nowMs`. A paused room is estimated as if it
 * resumed now: there is no better guess, and the page says it is paused.
 */
export function estimatedWaitSeconds(ticket: number, s: AdmissionState, nowMs: number): number {
  const credit = creditAt(s, nowMs);
  const missing = ticket * CREDIT_PER_TICKET - credit;
  if (missing <= 0) return 0;
  const opensIn = Math.max(0, Math.max(s.since, s.opensAtMs) - nowMs);
  const ms = opensIn + missing / s.rate;
  return Math.ceil(ms / 100) / 10;
}
