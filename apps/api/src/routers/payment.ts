import { payOrder } from '@flash/core/payment/payment.service';
import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { rateLimitedProcedure } from '../trpc/rate-limit.ts';
import { ZIdempotencyKey } from './schemas.ts';

export const paymentRouter = {
  pay: rateLimitedProcedure
    .input(z.strictObject({ orderId: z.string().min(1).max(64), idempotencyKey: ZIdempotencyKey.optional() }))
    .output(
      z.object({
        paymentId: z.string(),
        orderId: z.string(),
        amount: z.number(),
        status: z.literal('PAID'),
        balance: z.number(),
      }),
    )
    .mutation(({ ctx, input }) => payOrder(ctx.rt, ctx.user.userId, input)),
} satisfies TRPCRouterRecord;
