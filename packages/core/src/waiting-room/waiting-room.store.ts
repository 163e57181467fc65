/**
 * The Redis side of a waiting room: typed wrappers of its scripts (scripts/lua/*WaitingRoom*)
 * and the one-command reads. Every key is the room's (`{wr:<id>}`), one cluster slot per room.
 */

import type { RedisClient } from '../redis/cluster.ts';
import { limitArgs } from '../redis/gcra.ts';
import type { Keys } from '../redis/keys.ts';
import { decodeReply } from '../redis/replies.ts';
import { runScript } from '../redis/scripts.ts';
import type { AdmissionState } from './admission.ts';

export type WaitingRoomKeys = ReturnType<Keys['waitingRoom']>;

/** Every JOIN_MARK-th ticket records its join time (lib/waiting-room.lua's WR_JOIN_MARK). */
export const JOIN_MARK = 100;

/** A caller's ticket and the room's admission state, as a script saw them at `nowMs`. */
export type TicketState = {
  /** 0 = this user has not joined. */
  ticket: number;
  room: AdmissionState;
  /** 0 = not admitted yet. */
  passExpiresAtMs: number;
  /** This call took the ticket. */
  fresh: boolean;
};

function ticketState(v: readonly number[], nowMs: number): TicketState {
  const [ticket, joined, credit, since, rate, paused, opensAtMs, passExpiresAtMs, fresh] = v as number[];
  return {
    ticket: ticket!,
    // The script returns the credit at `nowMs`: as state it is banked at `nowMs`.
    room: {
      joined: joined!,
      credit: credit!,
      since: Math.max(since!, nowMs),
      rate: rate!,
      paused: paused === 1,
      opensAtMs: opensAtMs!,
    },
    passExpiresAtMs: passExpiresAtMs!,
    fresh: fresh === 1,
  };
}

type Limit = { subject: string; intervalMicros: number; burst: number };

export type JoinReply =
  | ({ code: 'OK' } & TicketState)
  | { code: 'NOT_LOADED' }
  | { code: 'RATE_LIMITED'; retryAfterMs: number; limit: 'user' | 'ip' };

/** The join (joinWaitingRoom-3.lua): the caller's limits counted, then its ticket, in one step. */
export async function runJoinWaitingRoom(
  redis: RedisClient,
  keys: WaitingRoomKeys,
  call: { userId: number; nowMs: number; limits?: { user: Limit; ip: Limit } },
): Promise<JoinReply> {
  const user = call.limits?.user ?? { subject: '-', intervalMicros: 0, burst: 0 };
  const ip = call.limits?.ip ?? user;
  const raw = await runScript(
    redis,
    'joinWaitingRoom',
    [keys.room, keys.limiter(user.subject), keys.limiter(ip.subject)],
    [call.userId, call.nowMs, ...limitArgs(user), ...limitArgs(ip)],
  );
  const reply = decodeReply('joinWaitingRoom', raw);
  if (reply.code !== 'OK') return reply;
  return { code: 'OK', ...ticketState(reply.value, call.nowMs) };
}

/** The caller's ticket (waitingRoomStatus-1.lua); undefined when the room is not in Redis. */
export async function runWaitingRoomStatus(
  redis: RedisClient,
  keys: WaitingRoomKeys,
  call: { userId: number; nowMs: number },
): Promise<TicketState | undefined> {
  const reply = decodeReply(
    'waitingRoomStatus',
    await runScript(redis, 'waitingRoomStatus', [keys.room], [call.userId, call.nowMs]),
  );
  return reply.code === 'OK' ? ticketState(reply.value, call.nowMs) : undefined;
}

/** A rate change and/or pause from `nowMs` on (updateWaitingRoom-1.lua); false when not in Redis. */
export async function runUpdateWaitingRoom(
  redis: RedisClient,
  keys: WaitingRoomKeys,
  change: { nowMs: number; admitPerSecond?: number; paused?: boolean },
): Promise<boolean> {
  const raw = await runScript(
    redis,
    'updateWaitingRoom',
    [keys.room],
    [change.nowMs, change.admitPerSecond ?? '', change.paused === undefined ? '' : change.paused ? '1' : '0'],
  );
  return decodeReply('updateWaitingRoom', raw).code === 'OK';
}

export type RoomDefinition = {
  name: string;
  couponIds: number[];
  productIds: number[];
  admitPerSecond: number;
  paused: boolean;
  opensAtMs: number;
  passTtlSeconds: number;
};

/** Creates the room's state unless present (loadWaitingRoom-1.lua); true when it did. */
export async function runLoadWaitingRoom(
  redis: RedisClient,
  keys: WaitingRoomKeys,
  room: RoomDefinition,
  nowMs: number,
): Promise<boolean> {
  const raw = await runScript(
    redis,
    'loadWaitingRoom',
    [keys.room],
    [
      nowMs,
      room.admitPerSecond,
      room.paused ? '1' : '0',
      room.opensAtMs,
      room.passTtlSeconds,
      room.name,
      JSON.stringify(room.couponIds),
      JSON.stringify(room.productIds),
    ],
  );
  return decodeReply('loadWaitingRoom', raw).code === 'OK';
}

/** What `waitingRoom.get` shows, as stored. */
export type StoredRoom = { name: string; couponIds: number[]; productIds: number[]; state: AdmissionState };

const ROOM_FIELDS = ['n', 'a', 't', 'r', 'p', 'o', 'name', 'c', 'pp'] as const;

/** The room's public fields and admission state in one HMGET; undefined when not in Redis. */
export async function readRoom(redis: RedisClient, keys: WaitingRoomKeys): Promise<StoredRoom | undefined> {
  const [n, a, t, r, p, o, name, c, pp] = await redis.hmget(keys.room, ...ROOM_FIELDS);
  if (r === null || r === undefined) return undefined;
  return {
    name: name ?? '',
    couponIds: JSON.parse(c ?? '[]') as number[],
    productIds: JSON.parse(pp ?? '[]') as number[],
    state: {
      joined: Number(n),
      credit: Number(a),
      since: Number(t),
      rate: Number(r),
      paused: p === '1',
      opensAtMs: Number(o),
    },
  };
}

/**
 * When the oldest waiting ticket joined, at JOIN_MARK granularity: the join time of the
 * marked ticket at or before it (so never later than the ticket's own). Undefined when nobody
 * waits or the mark is missing.
 */
export async function readOldestWaitingSince(
  redis: RedisClient,
  keys: WaitingRoomKeys,
  oldestWaiting: number,
): Promise<number | undefined> {
  const mark = Math.floor((oldestWaiting - 1) / JOIN_MARK) * JOIN_MARK + 1;
  const at = await redis.hget(keys.room, `j:${mark}`);
  return at === null ? undefined : Number(at);
}
