import { chargeBalance, getBalance } from '@flash/core';
import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { protectedProcedure, rateLimitedProcedure } from '../trpc/init.ts';
import { ZIdempotencyKey, ZNoInput } from './schemas.ts';

export const balanceRouter = {
  get: protectedProcedure
    .input(ZNoInput)
    .output(z.object({ userId: z.number(), balance: z.number() }))
    .query(({ ctx }) => getBalance(ctx.rt, ctx.user.userId)),

  // Only the shape is checked here (a finite integer >= 0): amounts that are well-formed but
  // outside the limits get their own codes from the service (CHARGE_AMOUNT_TOO_SMALL,
  // CHARGE_LIMIT_EXCEEDED), also integers too large for int64 such as 1e20, which .int()
  // would call INVALID_INPUT.
  charge: rateLimitedProcedure
    .input(
      z.strictObject({
        amount: z
          .number()
          .min(0)
          .refine((n) => Number.isInteger(n), { message: 'Invalid input: expected an integer' }),
        idempotencyKey: ZIdempotencyKey.optional(),
      }),
    )
    .output(z.object({ userId: z.number(), balance: z.number(), transactionId: z.string() }))
    .mutation(({ ctx, input }) => chargeBalance(ctx.rt, ctx.user.userId, input)),
} satisfies TRPCRouterRecord;
