// Fairness of a waiting room, judged from what the service answered each shopper (node/sale.ts
// records it): join order, a room that never goes back, and admission in ticket order, whose rank
// correlation with the join order is 1.0 exactly when no answer contradicts it (see each check
// below). A shopper's own positions never going up is checked as the answers come (waitForPass).
/** One waitingRoom.get answer: when it was sent and received (ms), and its admittedThrough. */
export type Look = { sentAt: number; receivedAt: number; through: number };

/**
 * What each shopper was told, in flat arrays indexed by shopper (100,000 objects cost the driver
 * GC): the last "not admitted yet" (sent at) and the first "in" (received at) among them.
 */
export type Records = ReturnType<typeof records>;

export function records(n: number) {
  const col = (fill: number) => new Float64Array(n).fill(fill);
  return {
    ticket: col(0),
    joinSentAt: col(Number.NaN),
    joinReceivedAt: col(Number.NaN),
    lastNotYetSentAt: col(Number.NEGATIVE_INFINITY),
    admittedAt: col(Number.POSITIVE_INFINITY),
    passAt: col(Number.NaN),
    looks: new Uint16Array(n),
  };
}

/** A shopper without a ticket (its join failed) is left out. */
export function judgeFairness(rec: Records, n: number, looks: Look[]) {
  const violations: string[] = [];
  const byTicket = Array.from({ length: n }, (_, i) => i)
    .filter((i) => rec.ticket[i]! > 0)
    .sort((a, b) => rec.ticket[a]! - rec.ticket[b]!);

  // Join order: sorted by when joins were sent, every join answered before this one was sent
  // must hold a lower ticket.
  const bySent = [...byTicket].sort((a, b) => rec.joinSentAt[a]! - rec.joinSentAt[b]!);
  const byReceived = [...byTicket].sort((a, b) => rec.joinReceivedAt[a]! - rec.joinReceivedAt[b]!);
  let joinOrderBreaks = 0;
  let highestDone = 0;
  let r = 0;
  for (const i of bySent) {
    while (r < byReceived.length && rec.joinReceivedAt[byReceived[r]!]! < rec.joinSentAt[i]!) {
      highestDone = Math.max(highestDone, rec.ticket[byReceived[r]!]!);
      r++;
    }
    if (rec.ticket[i]! < highestDone) joinOrderBreaks++;
  }
  if (joinOrderBreaks > 0)
    violations.push(`${joinOrderBreaks} joins got a lower ticket than a join answered before them was given`);

  // The room never goes back: a look sent after another was answered sees at least as much admitted.
  const lookSent = [...looks].sort((a, b) => a.sentAt - b.sentAt);
  const lookReceived = [...looks].sort((a, b) => a.receivedAt - b.receivedAt);
  let roomWentBack = 0;
  let seen = 0;
  r = 0;
  for (const look of lookSent) {
    while (r < lookReceived.length && lookReceived[r]!.receivedAt < look.sentAt)
      seen = Math.max(seen, lookReceived[r++]!.through);
    if (look.through < seen) roomWentBack++;
  }
  if (roomWentBack > 0)
    violations.push(`${roomWentBack} waitingRoom.get answers showed fewer admitted than an earlier one`);

  // Each ticket's admission instant lies between the last moment an answer said it was not in
  // yet (its own "not yet", or a look sent whose admittedThrough was below it) and the first an
  // answer said it was (its own "in", or a look received that covered it).
  const upper = byTicket.map((i) => rec.admittedAt[i]!);
  const covering = [...looks].sort((a, b) => b.through - a.through);
  let earliest = Number.POSITIVE_INFINITY;
  let c = 0;
  for (let k = byTicket.length - 1; k >= 0; k--) {
    const ticket = rec.ticket[byTicket[k]!]!;
    while (c < covering.length && covering[c]!.through >= ticket)
      earliest = Math.min(earliest, covering[c++]!.receivedAt);
    upper[k] = Math.min(upper[k]!, earliest);
  }
  const below = [...looks].sort((a, b) => a.through - b.through);
  let latest = Number.NEGATIVE_INFINITY;
  c = 0;
  // The admission order: the earliest schedule in ticket order that every answer allows (a
  // ticket goes in no sooner than the last "not yet" told to it or any lower ticket). A ticket
  // that was told "in" before that was admitted out of order: an inversion, ranked at its "in".
  const admittedAt = new Float64Array(byTicket.length);
  let inversions = 0;
  let schedule = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < byTicket.length; k++) {
    const i = byTicket[k]!;
    const ticket = rec.ticket[i]!;
    while (c < below.length && below[c]!.through < ticket) latest = Math.max(latest, below[c++]!.sentAt);
    schedule = Math.max(schedule, rec.lastNotYetSentAt[i]!, latest);
    if (schedule > upper[k]!) inversions++;
    admittedAt[k] = Math.min(schedule, upper[k]!);
  }
  if (inversions > 0)
    violations.push(`${inversions} tickets were told "in" while a lower ticket was still told "not yet"`);
  const admittedOnes = byTicket.map((_, k) => k).filter((k) => Number.isFinite(upper[k]!));
  const spearman = rankCorrelation(
    admittedOnes.map((k) => rec.ticket[byTicket[k]!]!),
    admittedOnes.map((k) => admittedAt[k]!),
  );
  if (spearman !== 1)
    violations.push(`rank correlation of join order vs admission order is ${spearman}, not 1`);
  return { spearman, ranked: admittedOnes.length, joinOrderBreaks, roomWentBack, inversions, violations };
}

/**
 * Spearman's rank correlation of two equally long series, ties broken by index (tickets admitted
 * by one answer rank in ticket order).
 */
export function rankCorrelation(xs: ArrayLike<number>, ys: ArrayLike<number>): number {
  const n = xs.length;
  if (n < 2) return 1;
  const rank = (v: ArrayLike<number>) => {
    const r = new Float64Array(n);
    Array.from({ length: n }, (_, i) => i)
      .sort((a, b) => v[a]! - v[b]! || a - b)
      .forEach((i, k) => {
        r[i] = k;
      });
    return r;
  };
  const rx = rank(xs);
  const ry = rank(ys);
  let d2 = 0;
  for (let i = 0; i < n; i++) d2 += (rx[i]! - ry[i]!) ** 2;
  return 1 - (6 * d2) / (n * (n * n - 1));
}
