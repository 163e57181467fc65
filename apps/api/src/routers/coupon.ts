import { issueCoupon, listMyCoupons } from '@flash/core/coupon/coupon.service';
import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { fastMutation } from '../trpc/fast-path.ts';
import { Limits } from '../trpc/guards.ts';
import { protectedProcedure } from '../trpc/init.ts';
import { ZId, ZNoInput } from './schemas.ts';

const ZDiscount = z.object({ type: z.enum(['FIXED', 'PERCENT']), value: z.number() });

export const couponRouter = {
  /**
   * The flash-crowd path: one Redis script checks the caller's limits (per user and per address,
   * on this coupon), decides and records; see packages/core/src/coupon/coupon.service.ts. A fast
   * mutation (trpc/fast-path.ts). No .output() (as product.top): the shape is fixed by
   * issueCoupon's return type, and validating it again costs every call of the crowd.
   */
  issue: fastMutation({
    input: z.strictObject({ couponId: ZId }),
    limits: Limits.IN_SCRIPT,
    resolve: ({ ctx, input }) => issueCoupon(ctx.rt, ctx.user.userId, input.couponId, { ip: ctx.ip }),
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
          }),
        ),
      }),
    )
    .query(({ ctx }) => listMyCoupons(ctx.rt, ctx.user.userId)),
} satisfies TRPCRouterRecord;
