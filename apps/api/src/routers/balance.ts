import { getBalance } from '@flash/core';
import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { protectedProcedure } from '../trpc/init.ts';

export const balanceRouter = {
  get: protectedProcedure
    .output(z.object({ userId: z.number(), balance: z.number() }))
    .query(({ ctx }) => getBalance(ctx.rt, ctx.user.userId)),
} satisfies TRPCRouterRecord;
