// What a waiting shopper costs Redis: 100,000 joins into one room, then MEMORY USAGE of the
// room's hash (every field sampled) divided by the shoppers. The budget is 200 bytes per
// waiting shopper (issue 31); the measured figure is printed for the report. Memory, unlike
// time, is deterministic enough to assert on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';
import { runJoinWaitingRoom, runLoadWaitingRoom } from '../src/waiting-room/waiting-room.store.ts';

const SHOPPERS = 100_000;
const IN_FLIGHT = 500;
/** User ids as a real crowd has them: 7 to 8 digits. */
const FIRST_USER = 5_000_000;

describe('memory per waiting shopper', () => {
  let env: TestRuntime;
  beforeAll(async () => {
    env = await createTestRuntime();
  });
  afterAll(() => env.cleanup());

  it(`stays within 200 bytes with ${SHOPPERS.toLocaleString('en-US')} shoppers waiting in one room`, async () => {
    const { redis, keys } = env.rt;
    const room = keys.waitingRoom(1);
    const nowMs = Date.now();
    const definition = {
      name: 'Memory',
      couponIds: [1],
      productIds: [],
      admitPerSecond: 1,
      paused: true,
      opensAtMs: 0,
      passTtlSeconds: 600,
    };
    expect(await runLoadWaitingRoom(redis, room, definition, nowMs)).toBe(true);
    const empty = Number(await redis.call('MEMORY', 'USAGE', room.room, 'SAMPLES', '0'));
    for (let first = 0; first < SHOPPERS; first += IN_FLIGHT) {
      const joins = Array.from({ length: Math.min(IN_FLIGHT, SHOPPERS - first) }, (_, i) =>
        runJoinWaitingRoom(redis, room, { userId: FIRST_USER + first + i, nowMs }),
      );
      for (const reply of await Promise.all(joins)) expect(reply.code).toBe('OK');
    }
    const full = Number(await redis.call('MEMORY', 'USAGE', room.room, 'SAMPLES', '0'));
    const perShopper = (full - empty) / SHOPPERS;
    console.log(
      `waiting-room memory: ${full} bytes for ${SHOPPERS} waiting shoppers (empty room ${empty}): ${perShopper.toFixed(1)} bytes per shopper`,
    );
    expect(Number(await redis.hget(room.room, 'n'))).toBe(SHOPPERS);
    expect(perShopper).toBeLessThanOrEqual(200);
  }, 120_000);
});
