// The waiting room's fairness judge on made-up records: each check must catch the unfairness it
// names and pass a fair room, and the scenario's poll plan must wait until a ticket's turn.
import { describe, expect, it } from 'vitest';
import * as wr from '../scenarios/waiting-room.js';
import { judgeFairness, type Look, rankCorrelation, records } from './fairness.ts';

/**
 * A fair room: shopper i joins at 10·i ms (answered 5 ms later) and gets ticket i+1; the room
 * admits one ticket every 20 ms from t = 100, each shopper looks once, 3 ms after its turn.
 */
function fairRun(n: number) {
  const rec = records(n);
  const looks: Look[] = [];
  for (let i = 0; i < n; i++) {
    rec.ticket[i] = i + 1;
    rec.joinSentAt[i] = 10 * i;
    rec.joinReceivedAt[i] = 10 * i + 5;
    rec.lastNotYetSentAt[i] = 10 * i;
    const turn = 100 + 20 * (i + 1);
    rec.admittedAt[i] = turn + 3;
    looks.push({ sentAt: turn + 1, receivedAt: turn + 3, through: i + 1 });
  }
  return { rec, looks };
}

describe('waiting-room fairness', () => {
  it('a fair room passes: rank correlation 1, nothing broken', () => {
    const { rec, looks } = fairRun(200);
    expect(judgeFairness(rec, 200, looks)).toMatchObject({
      spearman: 1,
      ranked: 200,
      joinOrderBreaks: 0,
      roomWentBack: 0,
      inversions: 0,
      violations: [],
    });
  });

  it('tickets admitted by one answer tie, and still rank 1.0 (one answer admits a prefix)', () => {
    const { rec, looks } = fairRun(50);
    for (let i = 0; i < 50; i++) rec.admittedAt[i] = 1000;
    looks.length = 0;
    looks.push({ sentAt: 990, receivedAt: 1000, through: 50 });
    expect(judgeFairness(rec, 50, looks).spearman).toBe(1);
  });

  it('a join answered later with a lower ticket breaks join order', () => {
    const { rec, looks } = fairRun(20);
    [rec.ticket[3], rec.ticket[12]] = [rec.ticket[12]!, rec.ticket[3]!];
    const verdict = judgeFairness(rec, 20, looks);
    expect(verdict.joinOrderBreaks).toBeGreaterThan(0);
    expect(verdict.violations.join('\n')).toMatch(/lower ticket/);
  });

  it('a ticket let in ahead of a lower one lowers the rank correlation and counts an inversion', () => {
    const { rec, looks } = fairRun(100);
    // Ticket 80 told "in" at t = 150, while ticket 10 was still told "not yet" at t = 250.
    rec.admittedAt[79] = 150;
    rec.lastNotYetSentAt[9] = 250;
    const verdict = judgeFairness(rec, 100, looks);
    expect(verdict.spearman).toBeLessThan(1);
    expect(verdict.inversions).toBe(1);
    expect(verdict.violations.length).toBeGreaterThanOrEqual(2);
  });

  it('a shopper told "not yet" after its own "in" is out of order too', () => {
    const { rec, looks } = fairRun(30);
    rec.lastNotYetSentAt[5] = rec.admittedAt[5]! + 1;
    expect(judgeFairness(rec, 30, looks).inversions).toBe(1);
  });

  it('a look below a ticket, sent after the ticket was told "in", is an inversion', () => {
    const { rec, looks } = fairRun(30);
    looks.push({ sentAt: rec.admittedAt[20]! + 1, receivedAt: rec.admittedAt[20]! + 2, through: 20 });
    expect(judgeFairness(rec, 30, looks).inversions).toBeGreaterThan(0);
  });

  it('a room answer showing fewer admitted than one answered before it went back', () => {
    const { rec, looks } = fairRun(30);
    looks.push({ sentAt: 5000, receivedAt: 5001, through: 2 });
    expect(judgeFairness(rec, 30, looks).roomWentBack).toBe(1);
  });

  it('shoppers whose join failed are left out', () => {
    const { rec, looks } = fairRun(10);
    rec.ticket[4] = 0;
    expect(judgeFairness(rec, 10, looks)).toMatchObject({ ranked: 9, violations: [] });
  });
});

describe('waiting-room.js', () => {
  const s = { ...wr.shape, minPollMs: 1000, pollJitterMs: 0 };
  const room = { admittedThrough: 100, admitPerSecond: 50, paused: false, opensAt: null };

  it('looks again when the turn comes at the room rate, at least a max-age later', () => {
    expect(wr.pollDelayMs(s, 100, room, 0, () => 0)).toBe(0);
    expect(wr.pollDelayMs(s, 101, room, 0, () => 0)).toBe(1000);
    expect(wr.pollDelayMs(s, 600, room, 0, () => 0)).toBe(10_000);
    expect(wr.pollDelayMs(s, 600, { ...room, paused: true }, 0, () => 0)).toBe(s.pausedPollMs);
    const opensAt = new Date(60_000).toISOString();
    expect(wr.pollDelayMs(s, 600, { ...room, opensAt }, 0, () => 0)).toBe(70_000);
    expect(wr.pollDelayMs({ ...s, pollJitterMs: 500 }, 600, room, 0, () => 0.5)).toBe(10_250);
  });

  it('positions', () => {
    expect(wr.positionOf(150, 100)).toBe(49);
    expect(wr.positionOf(90, 100)).toBe(0);
  });

  it('rank correlation: 1 for the same order, -1 for the reverse', () => {
    expect(rankCorrelation([1, 2, 3, 4], [10, 20, 30, 40])).toBe(1);
    expect(rankCorrelation([1, 2, 3, 4], [40, 30, 20, 10])).toBe(-1);
  });
});
