import { issueCoupon, listMyCoupons } from '@flash/core/coupon/coupon.service';
import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { protectedProcedure } from '../trpc/init.ts';
import { rateLimitedProcedure } from '../trpc/rate-limit.ts';
import { ZId } from './schemas.ts';

const ZDiscount = z.object({ type: z.enum(['FIXED', 'PERCENT']), value: z.number() });

export const couponRouter = {
  /**
   * The flash-crowd path: one Redis script decides; see packages/core/src/coupon/coupon.service.ts.
   * No .output() (as product.top): the shape is fixed by issueCoupon's return type, and an
   * output validator is one more middleware level and parse on every call of the crowd.
   */
  issue: rateLimitedProcedure
    .input(z.strictObject({ couponId: ZId }))
    .mutation(({ ctx, input }) => issueCoupon(ctx.rt, ctx.user.userId, input.couponId)),

  mine: protectedProcedure
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
