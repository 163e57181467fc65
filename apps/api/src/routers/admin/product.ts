import { createProduct, restockProduct } from '@flash/core';
import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { adminProcedure } from '../../trpc/init.ts';
import { isPlainText, ZId, ZName, ZProduct } from '../schemas.ts';

const MAX_KRW = 1_000_000_000;
/** Upper bound for one stock figure or restock, far above any sale and far below 2^53. */
const MAX_UNITS = 10_000_000;

/**
 * A product picture the storefront can show under its CSP (img-src 'self' https:): an https URL,
 * or a path on the storefront's own origin ("/images/keyboard.webp").
 */
const ZImageUrl = z
  .string()
  .max(2048)
  .refine(
    (v) =>
      /^\/(?!\/)/.test(v)
        ? isPlainText(v) && !/\s/.test(v)
        : z.url({ protocol: /^https$/ }).safeParse(v).success,
    { message: 'must be an https URL or a path starting with /' },
  );

export const adminProductRouter = {
  create: adminProcedure
    .input(
      z.strictObject({
        name: ZName,
        price: z.number().int().min(0).max(MAX_KRW),
        stock: z.number().int().min(0).max(MAX_UNITS),
        imageUrl: ZImageUrl.optional(),
      }),
    )
    .output(ZProduct)
    .mutation(({ ctx, input }) => createProduct(ctx.rt, input)),

  restock: adminProcedure
    .input(z.strictObject({ productId: ZId, quantity: z.number().int().min(1).max(MAX_UNITS) }))
    .output(ZProduct)
    .mutation(({ ctx, input }) => restockProduct(ctx.rt, input.productId, input.quantity)),
} satisfies TRPCRouterRecord;
