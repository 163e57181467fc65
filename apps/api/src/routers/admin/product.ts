import { createProduct } from '@flash/core';
import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { adminProcedure } from '../../trpc/init.ts';
import { ZProduct } from '../schemas.ts';

const MAX_KRW = 1_000_000_000;

export const adminProductRouter = {
  create: adminProcedure
    .input(
      z.strictObject({
        name: z.string().trim().min(1).max(200),
        price: z.number().int().min(0).max(MAX_KRW),
        stock: z.number().int().min(0).max(10_000_000),
      }),
    )
    .output(ZProduct)
    .mutation(({ ctx, input }) => createProduct(ctx.rt, input)),
} satisfies TRPCRouterRecord;
