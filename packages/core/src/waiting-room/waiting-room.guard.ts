/**
 * The pass check of a guarded call (`coupon.issue` of a room's coupon, `order.create` with a
 * room's product): in memory, before any Redis work. The API runs it in both the tRPC chain and
 * the fast path (apps/api/src/trpc/guards.ts).
 */
import { AppError, AppErrorCode } from '../errors.ts';
import { type PassRefusal, readPass } from './pass.ts';
import type { WaitingRoomDirectory } from './waiting-room.directory.ts';

export type GuardedItems = { couponId?: number; productIds?: readonly number[] };

export type Refusal = { roomId: number; reason: PassRefusal };

/**
 * Undefined when the call may go on: none of its items is guarded, or the pass is this user's,
 * signed, unexpired, and of a room that guards every guarded item. Otherwise the room whose
 * pass it needs and why the pass was refused.
 */
export function passRefusal(
  dir: WaitingRoomDirectory,
  secret: string,
  call: { pass: string | undefined; userId: number; nowMs: number },
  items: GuardedItems,
): Refusal | undefined {
  if (!dir.loaded) {
    throw new AppError(AppErrorCode.UNAVAILABLE, 'Waiting rooms are not loaded yet, please retry');
  }
  // The rooms of each guarded item; most calls touch none, and allocate nothing.
  let first: readonly number[] | undefined;
  let roomsOf: (readonly number[])[] | undefined;
  const guard = (rooms: readonly number[] | undefined) => {
    if (!rooms) return;
    if (!first) first = rooms;
    else {
      roomsOf ??= [first];
      roomsOf.push(rooms);
    }
  };
  if (items.couponId !== undefined) guard(dir.roomsOfCoupon(items.couponId));
  if (items.productIds) for (const id of items.productIds) guard(dir.roomsOfProduct(id));
  if (!first) return undefined;

  const read = readPass(secret, call.pass, call.nowMs);
  if (!read.ok) return { roomId: first[0]!, reason: read.reason };
  const { claims } = read;
  if (claims.userId !== call.userId) return { roomId: first[0]!, reason: 'other_user' };
  for (const rooms of roomsOf ?? [first]) {
    if (!rooms.includes(claims.roomId)) return { roomId: rooms[0]!, reason: 'other_room' };
  }
  return undefined;
}

/** NOT_ADMITTED (403) for a refusal, naming the room. */
export function notAdmitted(refusal: Refusal): AppError {
  const why =
    refusal.reason === 'missing'
      ? 'needs a pass of waiting room'
      : refusal.reason === 'expired'
        ? 'has an expired pass of waiting room'
        : 'has no valid pass of waiting room';
  return new AppError(AppErrorCode.NOT_ADMITTED, `This call ${why} ${refusal.roomId}`, {
    roomId: refusal.roomId,
  });
}
