import { getWaitingRoom, joinWaitingRoom, waitingRoomStatus } from '@flash/core';
import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { publicCache } from '../trpc/context.ts';
import { fastMutation } from '../trpc/fast-path.ts';
import { Limits } from '../trpc/guards.ts';
import { protectedProcedure, publicProcedure } from '../trpc/init.ts';
import { waitingRoomMetrics } from '../trpc/waiting-room-metrics.ts';
import { ZId } from './schemas.ts';

export const ZWaitingRoom = z.object({
  roomId: z.number(),
  name: z.string(),
  couponIds: z.array(z.number()),
  productIds: z.array(z.number()),
  admitPerSecond: z.number(),
  paused: z.boolean(),
  opensAt: z.string().nullable(),
  joined: z.number(),
  admittedThrough: z.number(),
});

const ZTicket = z.object({
  ticket: z.number(),
  position: z.number(),
  admitted: z.boolean(),
  pass: z.string().nullable(),
  estimatedWaitSeconds: z.number(),
  passExpiresAt: z.string().nullable(),
});

const ZRoomInput = z.strictObject({ roomId: ZId });

/** `waitingRoom.*`: the shopper's side of a waiting room (packages/core/src/waiting-room). */
export const waitingRoomRouter = {
  /**
   * Public and the same for everyone at a given second: every waiting page polls it, so a CDN
   * may keep it a second (`Cache-Control: public, max-age=1`). One HMGET. A client works out its
   * position from its ticket and `admittedThrough`.
   */
  // No .output() on get and join (as product.top and coupon.issue): the crowd's paths, whose
  // shapes are fixed by the service's return types (WaitingRoomView, TicketView).
  get: publicProcedure.input(ZRoomInput).query(async ({ ctx, input }) => {
    const room = await getWaitingRoom(ctx.rt, ctx.rooms, input.roomId);
    publicCache(ctx, 1);
    return room;
  }),

  /**
   * One script in the room's slot counts the call against the caller's limits (per user and per
   * address, in the room's slot) and takes or finds the ticket. A fast mutation (trpc/fast-path.ts).
   */
  join: fastMutation({
    input: ZRoomInput,
    limits: Limits.IN_SCRIPT,
    resolve: async ({ ctx, input }) => {
      const { fresh, ...ticket } = await joinWaitingRoom(ctx.rt, ctx.rooms, ctx.user.userId, input.roomId, {
        ip: ctx.ip,
      });
      if (fresh) waitingRoomMetrics(ctx.rt).joined.inc({ room: input.roomId });
      return ticket;
    },
  }),

  /** The caller's ticket, one script call; admitted, it carries the pass. */
  status: protectedProcedure
    .input(ZRoomInput)
    .output(ZTicket)
    .query(({ ctx, input }) => waitingRoomStatus(ctx.rt, ctx.rooms, ctx.user.userId, input.roomId)),
} satisfies TRPCRouterRecord;
