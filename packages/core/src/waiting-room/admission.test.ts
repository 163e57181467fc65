import { describe, expect, it } from 'vitest';
import { type AdmissionState, admittedThrough, creditAt, estimatedWaitSeconds } from './admission.ts';

const T0 = 1_800_000_000_000;
const room = (s: Partial<AdmissionState> = {}): AdmissionState => ({
  joined: 100,
  credit: 0,
  since: T0,
  rate: 4,
  paused: false,
  opensAtMs: 0,
  ...s,
});

describe('admission as a function of time', () => {
  it('admits rate tickets per second from `since`, never beyond the tickets handed out', () => {
    expect(admittedThrough(room(), T0)).toBe(0);
    expect(admittedThrough(room(), T0 + 249)).toBe(0);
    expect(admittedThrough(room(), T0 + 250)).toBe(1);
    expect(admittedThrough(room(), T0 + 10_000)).toBe(40);
    expect(admittedThrough(room({ joined: 30 }), T0 + 10_000)).toBe(30);
    // Credit banked before `since` counts, in whole tickets.
    expect(admittedThrough(room({ credit: 2_500 }), T0)).toBe(2);
  });

  it('stands still while paused and before opensAt', () => {
    expect(creditAt(room({ credit: 3_000, paused: true }), T0 + 60_000)).toBe(3_000);
    const opens = room({ opensAtMs: T0 + 5_000 });
    expect(admittedThrough(opens, T0 + 5_000)).toBe(0);
    expect(admittedThrough(opens, T0 + 6_000)).toBe(4);
  });

  it('estimates the wait from the missing credit and the rate, to a tenth of a second up', () => {
    expect(estimatedWaitSeconds(1, room(), T0)).toBe(0.3);
    expect(estimatedWaitSeconds(40, room(), T0)).toBe(10);
    expect(estimatedWaitSeconds(40, room(), T0 + 10_000)).toBe(0);
    expect(estimatedWaitSeconds(4, room({ opensAtMs: T0 + 5_000 }), T0)).toBe(6);
    expect(estimatedWaitSeconds(3, room({ rate: 3 }), T0)).toBe(1);
  });
});
