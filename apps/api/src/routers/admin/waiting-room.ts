import { createWaitingRoom, updateWaitingRoom } from '@flash/core';
import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { adminProcedure } from '../../trpc/init.ts';
import { ZId, ZName } from '../schemas.ts';
import { ZWaitingRoom } from '../waiting-room.ts';

const ZIds = z
  .array(ZId)
  .max(1000)
  .refine((ids) => new Set(ids).size === ids.length, { message: 'each id may appear only once' });
const ZAdmitPerSecond = z.number().int().min(1).max(100_000);

export const adminWaitingRoomRouter = {
  create: adminProcedure
    .input(
      z
        .strictObject({
          name: ZName,
          couponIds: ZIds.optional(),
          productIds: ZIds.optional(),
          admitPerSecond: ZAdmitPerSecond,
          // An ISO-8601 instant with an explicit zone; absent = admission starts at once.
          opensAt: z.iso
            .datetime({ offset: true })
            .transform((value) => new Date(value))
            .optional(),
          passTtlSeconds: z.number().int().min(60).max(3600).default(600),
        })
        .refine((r) => (r.couponIds?.length ?? 0) + (r.productIds?.length ?? 0) > 0, {
          message: 'a waiting room guards at least one coupon or product',
          path: ['couponIds'],
        }),
    )
    .output(z.object({ roomId: z.number() }))
    .mutation(({ ctx, input }) =>
      createWaitingRoom(ctx.rt, ctx.rooms, {
        name: input.name,
        couponIds: input.couponIds ?? [],
        productIds: input.productIds ?? [],
        admitPerSecond: input.admitPerSecond,
        opensAt: input.opensAt ?? null,
        passTtlSeconds: input.passTtlSeconds,
      }),
    ),

  /** A new rate and/or a pause, applied from this moment on; answers the room as waitingRoom.get does. */
  update: adminProcedure
    .input(
      z.strictObject({
        roomId: ZId,
        admitPerSecond: ZAdmitPerSecond.optional(),
        paused: z.boolean().optional(),
      }),
    )
    .output(ZWaitingRoom)
    .mutation(({ ctx, input }) => updateWaitingRoom(ctx.rt, ctx.rooms, input)),
} satisfies TRPCRouterRecord;
