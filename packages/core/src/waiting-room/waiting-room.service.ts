/**
 * Waiting rooms: a fair queue in front of a sale's coupons and products. Shoppers join and get
 * a ticket in arrival order (one per user); tickets are admitted in order at the room's rate, as
 * a function of the room's clock (admission.ts), and an admitted ticket gets a signed pass
 * (pass.ts) that guarded calls check in memory (waiting-room.guard.ts).
 *
 * Postgres keeps each room's record; Redis keeps its queue, one hash per room (keys.ts). If Redis
 * loses a room, the next call loads it again from its record (with no tickets: shoppers join
 * again; passes already handed out stay valid, they are signed, not stored).
 */
import { AppError, AppErrorCode } from '../errors.ts';
import { callerLimits, enforceRateLimit, rateLimitedError } from '../rate-limit/rate-limit.service.ts';
import type { Resources } from '../resources.ts';
import { admittedThrough, admittedThroughFor, estimatedWaitSeconds } from './admission.ts';
import { signPass } from './pass.ts';
import type { WaitingRoomDirectory } from './waiting-room.directory.ts';
import {
  insertWaitingRoom,
  type NewWaitingRoom,
  updateWaitingRoomRow,
  type WaitingRoomRecord,
} from './waiting-room.repository.ts';
import {
  readRoom,
  runJoinWaitingRoom,
  runLoadWaitingRoom,
  runUpdateWaitingRoom,
  runWaitingRoomStatus,
  type StoredRoom,
  type TicketState,
} from './waiting-room.store.ts';

// What the API's waiting-room gauges read of a room's Redis hash.
export { readOldestWaitingSince, readRoom } from './waiting-room.store.ts';

type Rt = Pick<Resources, 'config' | 'db' | 'redis' | 'keys' | 'clock'>;

export type WaitingRoomView = {
  roomId: number;
  name: string;
  couponIds: number[];
  productIds: number[];
  admitPerSecond: number;
  paused: boolean;
  opensAt: string | null;
  joined: number;
  admittedThrough: number;
};

export type TicketView = {
  ticket: number;
  position: number;
  admitted: boolean;
  pass: string | null;
  estimatedWaitSeconds: number;
  /** When the pass stops being accepted (null until admitted). */
  passExpiresAt: string | null;
};

const notFound = (roomId: number) =>
  new AppError(AppErrorCode.WAITING_ROOM_NOT_FOUND, 'Waiting room not found', { roomId });

function definitionOf(room: WaitingRoomRecord) {
  return {
    name: room.name,
    couponIds: room.couponIds,
    productIds: room.productIds,
    admitPerSecond: room.admitPerSecond,
    paused: room.paused,
    opensAtMs: room.opensAt?.getTime() ?? 0,
    passTtlSeconds: room.passTtlSeconds,
  };
}

/** `admin.waitingRoom.create`: the record in Postgres, then the queue in Redis. */
export async function createWaitingRoom(
  rt: Rt,
  dir: WaitingRoomDirectory,
  input: NewWaitingRoom,
): Promise<{ roomId: number }> {
  const room = await insertWaitingRoom(rt.db, input);
  dir.remember(room);
  // If Redis fails here the room still exists (a retry by the admin would make a second one):
  // the first call that finds it missing loads it from the record.
  await runLoadWaitingRoom(
    rt.redis,
    rt.keys.waitingRoom(room.id),
    definitionOf(room),
    rt.clock.now().getTime(),
  ).catch(() => {});
  return { roomId: room.id };
}

/**
 * Loads a room Redis does not hold from its record; WAITING_ROOM_NOT_FOUND when there is none.
 * The record comes from the directory (memory), so a flood of unknown ids costs no queries.
 */
async function restoreRoom(rt: Rt, dir: WaitingRoomDirectory, roomId: number): Promise<void> {
  const room = dir.room(roomId);
  if (!room) throw notFound(roomId);
  await runLoadWaitingRoom(
    rt.redis,
    rt.keys.waitingRoom(roomId),
    definitionOf(room),
    rt.clock.now().getTime(),
  );
}

function viewOf(roomId: number, stored: StoredRoom, nowMs: number): WaitingRoomView {
  const s = stored.state;
  return {
    roomId,
    name: stored.name,
    couponIds: stored.couponIds,
    productIds: stored.productIds,
    admitPerSecond: s.rate,
    paused: s.paused,
    opensAt: s.opensAtMs > 0 ? new Date(s.opensAtMs).toISOString() : null,
    joined: s.joined,
    admittedThrough: admittedThrough(s, nowMs),
  };
}

/**
 * `waitingRoom.get`: one HMGET, shared by the callers of this process that ask while it is in
 * flight (the answer is the same for everyone; `admittedThrough` is computed at each caller's
 * moment from the state read).
 */
export async function getWaitingRoom(
  rt: Rt,
  dir: WaitingRoomDirectory,
  roomId: number,
): Promise<WaitingRoomView> {
  const keys = rt.keys.waitingRoom(roomId);
  let stored = await dir.shared(keys.room, () => readRoom(rt.redis, keys));
  if (!stored) {
    await restoreRoom(rt, dir, roomId);
    stored = await readRoom(rt.redis, keys);
    if (!stored) throw new AppError(AppErrorCode.UNAVAILABLE, 'Waiting room is being restored, please retry');
  }
  return viewOf(roomId, stored, rt.clock.now().getTime());
}

/** `admin.waitingRoom.update`: the record, then the queue from this moment on. */
export async function updateWaitingRoom(
  rt: Rt,
  dir: WaitingRoomDirectory,
  change: { roomId: number; admitPerSecond?: number; paused?: boolean },
): Promise<WaitingRoomView> {
  const room = await updateWaitingRoomRow(rt.db, change.roomId, change);
  if (!room) throw notFound(change.roomId);
  dir.remember(room);
  const keys = rt.keys.waitingRoom(room.id);
  const nowMs = rt.clock.now().getTime();
  const applied = await runUpdateWaitingRoom(rt.redis, keys, { ...change, nowMs });
  // Not in Redis: loading it from the record just written applies the change.
  if (!applied) await runLoadWaitingRoom(rt.redis, keys, definitionOf(room), nowMs);
  // Read afresh, not through the shared read: one already in flight may predate the change.
  const stored = await readRoom(rt.redis, keys);
  if (!stored) throw new AppError(AppErrorCode.UNAVAILABLE, 'Waiting room is being restored, please retry');
  return viewOf(room.id, stored, nowMs);
}

function ticketView(rt: Rt, roomId: number, userId: number, s: TicketState, nowMs: number): TicketView {
  const through = admittedThroughFor(s.room.joined, s.room.credit);
  const admitted = s.ticket <= through && s.passExpiresAtMs > 0;
  return {
    ticket: s.ticket,
    position: admitted ? 0 : Math.max(0, s.ticket - 1 - through),
    admitted,
    pass: admitted
      ? signPass(rt.config.waitingRoomPassSecret, {
          roomId,
          userId,
          ticket: s.ticket,
          expiresAtMs: s.passExpiresAtMs,
        })
      : null,
    estimatedWaitSeconds: admitted ? 0 : estimatedWaitSeconds(s.ticket, s.room, nowMs),
    passExpiresAt: admitted ? new Date(s.passExpiresAtMs).toISOString() : null,
  };
}

/**
 * `waitingRoom.join`: one script in the room's slot counts the call against the caller's limits
 * and takes (or finds) the caller's ticket. `fresh` says this call took it (for the metrics).
 */
export async function joinWaitingRoom(
  rt: Rt,
  dir: WaitingRoomDirectory,
  userId: number,
  roomId: number,
  /** A client's call, limited per user and per address (config.rateLimit); without it, not limited. */
  caller?: { ip: string },
): Promise<TicketView & { fresh: boolean }> {
  const keys = rt.keys.waitingRoom(roomId);
  const limits = caller ? callerLimits(rt, { userId, ip: caller.ip }) : undefined;
  for (let attempt = 0; ; attempt++) {
    const nowMs = rt.clock.now().getTime();
    const reply = await runJoinWaitingRoom(rt.redis, keys, { userId, nowMs, limits });
    if (reply.code === 'OK') return { ...ticketView(rt, roomId, userId, reply, nowMs), fresh: reply.fresh };
    if (reply.code === 'RATE_LIMITED') throw rateLimitedError(reply.limit, reply.retryAfterMs);
    if (attempt > 0)
      throw new AppError(AppErrorCode.UNAVAILABLE, 'Waiting room is being restored, please retry');
    // The script's limits are per room: unknown ids are counted by the procedure-wide limits.
    if (caller) await enforceRateLimit(rt, { procedure: 'waitingRoom.join', userId, ip: caller.ip });
    await restoreRoom(rt, dir, roomId);
  }
}

/** `waitingRoom.status`: one script call; WAITING_ROOM_NOT_JOINED without a ticket. */
export async function waitingRoomStatus(
  rt: Rt,
  dir: WaitingRoomDirectory,
  userId: number,
  roomId: number,
): Promise<TicketView> {
  const keys = rt.keys.waitingRoom(roomId);
  let nowMs = rt.clock.now().getTime();
  let s = await runWaitingRoomStatus(rt.redis, keys, { userId, nowMs });
  if (!s) {
    await restoreRoom(rt, dir, roomId);
    nowMs = rt.clock.now().getTime();
    s = await runWaitingRoomStatus(rt.redis, keys, { userId, nowMs });
    if (!s) throw new AppError(AppErrorCode.UNAVAILABLE, 'Waiting room is being restored, please retry');
  }
  if (s.ticket === 0) {
    throw new AppError(AppErrorCode.WAITING_ROOM_NOT_JOINED, 'You have not joined this waiting room', {
      roomId,
    });
  }
  return ticketView(rt, roomId, userId, s, nowMs);
}
