import { getCoupon, issueCoupon, listCoupons, listMyCoupons } from '@flash/core';
import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { fastMutation } from '../trpc/fast-path.ts';
import { Limits, requirePass } from '../trpc/guards.ts';
import { protectedProcedure, publicProcedure } from '../trpc/init.ts';
import { ZId, ZNoInput } from './schemas.ts';

const ZDiscount = z.object({ type: z.enum(['FIXED', 'PERCENT']), value: z.number() });
const ZPublicCoupon = z.object({
  id: z.number(),
  name: z.string(),
  discount: ZDiscount,
  totalQuantity: z.number(),
  remaining: z.number(),
  issueStartsAt: z.string().nullable(),
  issueEndsAt: z.string().nullable(),
  validDays: z.number().nullable(),
});

export const couponRouter = {
  /** Public; the sale page polls it every second: one Redis round trip (coupon.catalog.ts). */
  get: publicProcedure
    .input(z.strictObject({ couponId: ZId }))
    .output(ZPublicCoupon)
    .query(({ ctx, input }) => getCoupon(ctx.rt, input.couponId)),

  /** Public: coupons whose issue window has not ended, soonest to open first. */
  list: publicProcedure
    .input(
      z
        .strictObject({
          cursor: ZId.optional(),
          limit: z.number().int().min(1).max(100).optional(),
        })
        .optional(),
    )
    .output(z.object({ items: z.array(ZPublicCoupon), nextCursor: z.number().nullable() }))
    .query(({ ctx, input }) => listCoupons(ctx.rt, { cursor: input?.cursor, limit: input?.limit ?? 20 })),

  /**
   * The flash-crowd path: one Redis script checks the caller's limits (per user and per address,
   * on this coupon), decides and records; see packages/core/src/coupon/coupon.service.ts. A fast
   * mutation (trpc/fast-path.ts). No .output() (as product.top): the shape is fixed by
   * issueCoupon's return type, and validating it again costs every call of the crowd.
   */
  issue: fastMutation({
    input: z.strictObject({ couponId: ZId }),
    limits: Limits.IN_SCRIPT,
    resolve: ({ ctx, input }) => {
      // A room's coupon needs the room's pass, checked in memory before the script runs.
      const guarded = requirePass(ctx, ctx.user.userId, { couponId: input.couponId });
      const issue = () => issueCoupon(ctx.rt, ctx.user.userId, input.couponId, { ip: ctx.ip });
      return guarded ? guarded.then(issue) : issue();
    },
  }),

  mine: protectedProcedure
    .input(ZNoInput)
    .output(
      z.object({
        items: z.array(
          z.object({
            couponId: z.number(),
            name: z.string(),
            discount: ZDiscount,
            status: z.enum(['AVAILABLE', 'USED', 'EXPIRED']),
            issuedAt: z.string(),
            expiresAt: z.string().nullable(),
          }),
        ),
      }),
    )
    .query(({ ctx }) => listMyCoupons(ctx.rt, ctx.user.userId)),
} satisfies TRPCRouterRecord;
