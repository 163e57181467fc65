import { createCoupon } from '@flash/core';
import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { adminProcedure } from '../../trpc/init.ts';
import { ZName } from '../schemas.ts';

const MAX_KRW = 1_000_000_000;
// An ISO-8601 instant with an explicit zone ("Z" or "+09:00"); absent or null = unbounded.
const ZInstant = z.iso
  .datetime({ offset: true })
  .transform((value) => new Date(value))
  .nullish();

export const adminCouponRouter = {
  create: adminProcedure
    .input(
      z
        .strictObject({
          name: ZName,
          discount: z.discriminatedUnion('type', [
            z.strictObject({ type: z.literal('FIXED'), value: z.number().int().min(1).max(MAX_KRW) }),
            z.strictObject({ type: z.literal('PERCENT'), value: z.number().int().min(1).max(100) }),
          ]),
          totalQuantity: z.number().int().min(1).max(10_000_000),
          issueStartsAt: ZInstant,
          issueEndsAt: ZInstant,
          validDays: z.number().int().min(1).max(36_500).nullish(),
        })
        .refine((c) => !c.issueStartsAt || !c.issueEndsAt || c.issueEndsAt > c.issueStartsAt, {
          message: 'issueEndsAt must be after issueStartsAt',
          path: ['issueEndsAt'],
        }),
    )
    .output(z.object({ couponId: z.number() }))
    .mutation(({ ctx, input }) =>
      createCoupon(ctx.rt, {
        name: input.name,
        discount: input.discount,
        totalQuantity: input.totalQuantity,
        issueStartsAt: input.issueStartsAt ?? null,
        issueEndsAt: input.issueEndsAt ?? null,
        validDays: input.validDays ?? null,
      }),
    ),
} satisfies TRPCRouterRecord;
