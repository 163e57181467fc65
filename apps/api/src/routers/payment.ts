import { payOrder } from '@flash/core';
import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { fastMutation } from '../trpc/fast-path.ts';
import { Limits } from '../trpc/guards.ts';
import { ZIdempotencyKey } from './schemas.ts';

export const paymentRouter = {
  /**
   * The checkout rush after a sale: a fast mutation (trpc/fast-path.ts), limited per user and
   * per address before its input is read (`Limits.BEFORE_INPUT`).
   */
  pay: fastMutation({
    input: z.strictObject({ orderId: z.string().min(1).max(64), idempotencyKey: ZIdempotencyKey.optional() }),
    limits: Limits.BEFORE_INPUT,
    output: z.object({
      paymentId: z.string(),
      orderId: z.string(),
      amount: z.number(),
      status: z.literal('PAID'),
      balance: z.number(),
    }),
    resolve: ({ ctx, input }) => payOrder(ctx.rt, ctx.user.userId, input),
  }),
} satisfies TRPCRouterRecord;
