import { listProducts } from '@flash/core';
import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { publicProcedure } from '../trpc/init.ts';
import { ZProduct } from './schemas.ts';

export const productRouter = {
  list: publicProcedure
    .input(
      z
        .strictObject({
          cursor: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
          limit: z.number().int().min(1).max(100).optional(),
        })
        .optional(),
    )
    .output(z.object({ items: z.array(ZProduct), nextCursor: z.number().nullable() }))
    .query(({ ctx, input }) => listProducts(ctx.rt, { cursor: input?.cursor, limit: input?.limit ?? 20 })),
} satisfies TRPCRouterRecord;
