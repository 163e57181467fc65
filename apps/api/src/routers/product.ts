import { getProduct, getTopProducts, listProducts } from '@flash/core';
import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { publicProcedure } from '../trpc/init.ts';
import { ZId, ZNoInput, ZProduct } from './schemas.ts';

export const productRouter = {
  get: publicProcedure
    .input(z.strictObject({ productId: ZId }))
    .output(ZProduct)
    .query(({ ctx, input }) => getProduct(ctx.rt, input.productId)),

  list: publicProcedure
    .input(
      z
        .strictObject({
          cursor: z.number().int().min(0).optional(),
          limit: z.number().int().min(1).max(100).optional(),
        })
        .optional(),
    )
    .output(z.object({ items: z.array(ZProduct), nextCursor: z.number().nullable() }))
    .query(({ ctx, input }) => listProducts(ctx.rt, { cursor: input?.cursor, limit: input?.limit ?? 20 })),

  // No .output() here: the hot read path of a sale; the shape is fixed by getTopProducts' type.
  top: publicProcedure.input(ZNoInput).query(({ ctx }) => getTopProducts(ctx.rt)),
} satisfies TRPCRouterRecord;
