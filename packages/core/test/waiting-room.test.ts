// Waiting rooms against the real Redis and Postgres, through the service: ticket order under
// many concurrent joins, admission in ticket order at the rate as the (manual) clock moves,
// pause, resume and rate changes against a model, opensAt, a quiet room that banks no burst,
// a room Redis lost, and the in-memory pass guard.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';
import { manualClock } from '../src/clock.ts';
import { signPass } from '../src/waiting-room/pass.ts';
import {
  createWaitingRoomDirectory,
  type WaitingRoomDirectory,
} from '../src/waiting-room/waiting-room.directory.ts';
import { passRefusal } from '../src/waiting-room/waiting-room.guard.ts';
import {
  createWaitingRoom,
  getWaitingRoom,
  joinWaitingRoom,
  updateWaitingRoom,
  waitingRoomStatus,
} from '../src/waiting-room/waiting-room.service.ts';

const START = Date.parse('2026-12-07T09:00:00.000Z');

describe('waiting rooms', () => {
  const clock = manualClock(new Date(START));
  let env: TestRuntime;
  let dir: WaitingRoomDirectory;
  beforeAll(async () => {
    env = await createTestRuntime({ clock });
    dir = createWaitingRoomDirectory(env.rt.db);
    await dir.refresh();
  });
  afterAll(() => env.cleanup());
  const rt = () => env.rt;

  let nextCoupon = 1_000;
  const newRoom = (input: { admitPerSecond: number; opensAt?: Date; passTtlSeconds?: number }) =>
    createWaitingRoom(rt(), dir, {
      name: 'Sale',
      couponIds: [nextCoupon++],
      productIds: [],
      opensAt: input.opensAt ?? null,
      passTtlSeconds: input.passTtlSeconds ?? 600,
      admitPerSecond: input.admitPerSecond,
    }).then((r) => r.roomId);
  const through = async (roomId: number) => (await getWaitingRoom(rt(), dir, roomId)).admittedThrough;

  it('hands out tickets 1..N once each under many concurrent joins; a user joining again gets the same ticket', async () => {
    const roomId = await newRoom({ admitPerSecond: 1 });
    const users = Array.from({ length: 1_000 }, (_, i) => 10_000 + i);
    // Every user joins twice, all 2,000 joins in flight at once, shuffled.
    const callers = [...users, ...users].sort(() => Math.random() - 0.5);
    const answers = await Promise.all(callers.map((u) => joinWaitingRoom(rt(), dir, u, roomId)));
    const ticketOf = new Map<number, number>();
    for (const [i, a] of answers.entries()) {
      const user = callers[i]!;
      const seen = ticketOf.get(user);
      if (seen === undefined) ticketOf.set(user, a.ticket);
      else expect(a.ticket).toBe(seen);
    }
    expect([...ticketOf.values()].sort((a, b) => a - b)).toEqual(users.map((_, i) => i + 1));
    expect(answers.filter((a) => a.fresh)).toHaveLength(users.length);
    expect((await getWaitingRoom(rt(), dir, roomId)).joined).toBe(users.length);
  });

  it('admits in ticket order at the rate, as a function of time (no job runs), and no position goes up', async () => {
    const rate = 7;
    const roomId = await newRoom({ admitPerSecond: rate });
    const created = clock.now().getTime();
    const users = Array.from({ length: 60 }, (_, i) => 20_000 + i);
    for (const u of users) await joinWaitingRoom(rt(), dir, u, roomId);
    const lastPosition = new Map<number, number>();
    let elapsed = 0;
    while (elapsed < 10_000) {
      const step = 1 + Math.floor(Math.random() * 400);
      clock.advance(step);
      elapsed = clock.now().getTime() - created;
      const expected = Math.min(users.length, Math.floor((rate * elapsed) / 1000));
      expect(await through(roomId)).toBe(expected);
      for (const [i, u] of users.entries()) {
        const s = await waitingRoomStatus(rt(), dir, u, roomId);
        expect(s.ticket).toBe(i + 1);
        expect(s.admitted).toBe(s.ticket <= expected);
        expect(s.pass === null).toBe(!s.admitted);
        expect(s.position).toBe(s.admitted ? 0 : s.ticket - 1 - expected);
        expect(s.position).toBeLessThanOrEqual(lastPosition.get(u) ?? Number.POSITIVE_INFINITY);
        lastPosition.set(u, s.position);
      }
    }
    expect(await through(roomId)).toBe(users.length);
  });

  it('pauses, resumes and changes the rate from that moment on, as a model of the rate history says', async () => {
    const roomId = await newRoom({ admitPerSecond: 10 });
    for (let u = 0; u < 2_000; u++) await joinWaitingRoom(rt(), dir, 30_000 + u, roomId);
    // The model: credit accrues at the current rate while not paused, in milli-tickets.
    let credit = 0;
    let rate = 10;
    let paused = false;
    let last = clock.now().getTime();
    const accrue = () => {
      const now = clock.now().getTime();
      if (!paused) credit += rate * (now - last);
      last = now;
    };
    const steps: (() => Promise<unknown>)[] = [
      async () => {
        paused = true;
        return updateWaitingRoom(rt(), dir, { roomId, paused: true });
      },
      async () => {
        paused = false;
        return updateWaitingRoom(rt(), dir, { roomId, paused: false });
      },
      async () => {
        rate = 1 + Math.floor(Math.random() * 50);
        return updateWaitingRoom(rt(), dir, { roomId, admitPerSecond: rate });
      },
    ];
    let before = 0;
    for (let i = 0; i < 60; i++) {
      clock.advance(Math.floor(Math.random() * 700));
      accrue();
      if (i % 3 === 0) await steps[Math.floor(Math.random() * steps.length)]!();
      const now = await through(roomId);
      expect(now).toBe(Math.min(2_000, Math.floor(credit / 1000)));
      expect(now).toBeGreaterThanOrEqual(before);
      before = now;
    }
    // Paused for a long time: nothing more goes in.
    await updateWaitingRoom(rt(), dir, { roomId, paused: true });
    const frozen = await through(roomId);
    clock.advance(3_600_000);
    expect(await through(roomId)).toBe(frozen);
    const resumed = await updateWaitingRoom(rt(), dir, { roomId, paused: false, admitPerSecond: 3 });
    expect(resumed).toMatchObject({ paused: false, admitPerSecond: 3, admittedThrough: frozen });
    clock.advance(2_000);
    expect(await through(roomId)).toBe(Math.min(2_000, frozen + 6));
  });

  it('lets shoppers join before opensAt and admits nobody until then', async () => {
    const opensAt = new Date(clock.now().getTime() + 60_000);
    const roomId = await newRoom({ admitPerSecond: 2, opensAt });
    for (let u = 0; u < 10; u++) await joinWaitingRoom(rt(), dir, 40_000 + u, roomId);
    const first = await waitingRoomStatus(rt(), dir, 40_000, roomId);
    expect(first).toMatchObject({ admitted: false, position: 0, estimatedWaitSeconds: 60.5 });
    clock.advance(59_999);
    expect(await through(roomId)).toBe(0);
    clock.advance(1_001);
    expect(await through(roomId)).toBe(2);
  });

  it('banks no burst in a quiet room: a crowd after an idle hour goes in at the rate', async () => {
    const roomId = await newRoom({ admitPerSecond: 5 });
    clock.advance(3_600_000);
    // The first shopper of a quiet room goes straight in.
    expect(await joinWaitingRoom(rt(), dir, 50_000, roomId)).toMatchObject({ ticket: 1, admitted: true });
    for (let u = 1; u <= 100; u++) await joinWaitingRoom(rt(), dir, 50_000 + u, roomId);
    expect(await through(roomId)).toBe(1);
    clock.advance(1_000);
    expect(await through(roomId)).toBe(6);
  });

  it('hands out the pass once: it expires passTtlSeconds after the ticket was first seen admitted', async () => {
    const roomId = await newRoom({ admitPerSecond: 1_000, passTtlSeconds: 60 });
    clock.advance(1);
    const joined = await joinWaitingRoom(rt(), dir, 60_000, roomId);
    expect(joined.admitted).toBe(true);
    const expiresAt = clock.now().getTime() + 60_000;
    expect(joined.passExpiresAt).toBe(new Date(expiresAt).toISOString());
    clock.advance(120_000);
    const later = await waitingRoomStatus(rt(), dir, 60_000, roomId);
    expect(later.pass).toBe(joined.pass);
    expect(later.passExpiresAt).toBe(joined.passExpiresAt);
  });

  it('answers WAITING_ROOM_NOT_FOUND and WAITING_ROOM_NOT_JOINED with the room', async () => {
    await expect(getWaitingRoom(rt(), dir, 999_999)).rejects.toMatchObject({
      code: 'WAITING_ROOM_NOT_FOUND',
      details: { roomId: 999_999 },
    });
    await expect(joinWaitingRoom(rt(), dir, 1, 999_999)).rejects.toMatchObject({
      code: 'WAITING_ROOM_NOT_FOUND',
    });
    const roomId = await newRoom({ admitPerSecond: 1 });
    await expect(waitingRoomStatus(rt(), dir, 1, roomId)).rejects.toMatchObject({
      code: 'WAITING_ROOM_NOT_JOINED',
      details: { roomId },
    });
  });

  it('loads a room Redis lost from its record, and a directory refreshed from Postgres knows it', async () => {
    const roomId = await newRoom({ admitPerSecond: 3 });
    await updateWaitingRoom(rt(), dir, { roomId, admitPerSecond: 9 });
    await rt().redis.del(rt().keys.waitingRoom(roomId).room);
    // Another process' directory, which only Postgres told about the room.
    const other = createWaitingRoomDirectory(rt().db);
    await other.refresh();
    expect(other.roomsOfCoupon(nextCoupon - 1)).toEqual([roomId]);
    expect(await getWaitingRoom(rt(), other, roomId)).toMatchObject({ admitPerSecond: 9, joined: 0 });
    expect((await joinWaitingRoom(rt(), other, 70_000, roomId)).ticket).toBe(1);
  });

  it("shares one read among a process' concurrent callers while it is in flight, then reads again", async () => {
    let reads = 0;
    let release: (value: number) => void = () => {};
    const read = () => {
      reads++;
      return new Promise<number>((resolve) => {
        release = resolve;
      });
    };
    const callers = Array.from({ length: 100 }, () => dir.shared('k', read));
    expect(reads).toBe(1);
    release(7);
    expect(await Promise.all(callers)).toEqual(Array(100).fill(7));
    const failing = dir.shared('k', () => {
      reads++;
      return Promise.reject(new Error('Redis down'));
    });
    await expect(failing).rejects.toThrow('Redis down');
    const after = dir.shared('k', async () => {
      reads++;
      return 8;
    });
    expect(await after).toBe(8);
    expect(reads).toBe(3);
  });

  describe('the pass guard (in memory)', () => {
    const secret = () => rt().config.waitingRoomPassSecret;
    it('lets unguarded calls through with no pass, and checks user, room, signature and expiry on guarded ones', async () => {
      const roomA = await newRoom({ admitPerSecond: 1 });
      const couponA = nextCoupon - 1;
      const roomB = await newRoom({ admitPerSecond: 1 });
      const couponB = nextCoupon - 1;
      const nowMs = clock.now().getTime();
      const pass = signPass(secret(), { roomId: roomA, userId: 5, ticket: 1, expiresAtMs: nowMs + 1_000 });
      const check = (
        p: string | undefined,
        userId: number,
        items: Parameters<typeof passRefusal>[3],
        at = nowMs,
      ) => passRefusal(dir, secret(), { pass: p, userId, nowMs: at }, items);
      expect(check(undefined, 5, { couponId: 1 })).toBeUndefined();
      expect(check(undefined, 5, { productIds: [1, 2, 3] })).toBeUndefined();
      expect(check(pass, 5, { couponId: couponA })).toBeUndefined();
      expect(check(undefined, 5, { couponId: couponA })).toEqual({ roomId: roomA, reason: 'missing' });
      expect(check(pass, 6, { couponId: couponA })).toEqual({ roomId: roomA, reason: 'other_user' });
      expect(check(pass, 5, { couponId: couponB })).toEqual({ roomId: roomB, reason: 'other_room' });
      expect(check(pass, 5, { couponId: couponA }, nowMs + 1_000)).toEqual({
        roomId: roomA,
        reason: 'expired',
      });
      expect(check(`${pass}x`, 5, { couponId: couponA })).toEqual({ roomId: roomA, reason: 'malformed' });
      const foreign = signPass('f'.repeat(40), {
        roomId: roomA,
        userId: 5,
        ticket: 1,
        expiresAtMs: nowMs + 1_000,
      });
      expect(check(foreign, 5, { couponId: couponA })).toEqual({ roomId: roomA, reason: 'forged' });
    });

    it('checks every guarded product of an order against the pass room', async () => {
      const { roomId } = await createWaitingRoom(rt(), dir, {
        name: 'Products',
        couponIds: [],
        productIds: [501, 502],
        admitPerSecond: 1,
        opensAt: null,
        passTtlSeconds: 600,
      });
      const other = await createWaitingRoom(rt(), dir, {
        name: 'Other products',
        couponIds: [],
        productIds: [503],
        admitPerSecond: 1,
        opensAt: null,
        passTtlSeconds: 600,
      });
      const nowMs = clock.now().getTime();
      const pass = signPass(secret(), { roomId, userId: 5, ticket: 1, expiresAtMs: nowMs + 1_000 });
      const check = (productIds: number[]) =>
        passRefusal(dir, secret(), { pass, userId: 5, nowMs }, { productIds });
      expect(check([900, 501, 502])).toBeUndefined();
      expect(check([501, 503])).toEqual({ roomId: other.roomId, reason: 'other_room' });
    });
  });
});
