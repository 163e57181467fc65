import { createOrder, getOrder, isOrderId, listOrders, quoteOrder } from '@flash/core';
import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { fastMutation } from '../trpc/fast-path.ts';
import { Limits, requirePass } from '../trpc/guards.ts';
import { protectedProcedure } from '../trpc/init.ts';
import { ZId, ZIdempotencyKey } from './schemas.ts';

const ZOrderId = z.string().min(1).max(64);
/** A page's `nextCursor`: the id of the last order of the page before. */
const ZOrderCursor = z.string().refine(isOrderId, { message: 'Invalid input: expected an order id' });

const ZOrderItems = z
  .array(z.strictObject({ productId: ZId, quantity: z.number().int().min(1).max(1000) }))
  .min(1)
  .max(50)
  .refine((items) => new Set(items.map((i) => i.productId)).size === items.length, {
    message: 'each product may appear only once',
  });

const ZOrderLine = z.object({ productId: z.number(), quantity: z.number(), unitPrice: z.number() });

const ZOrder = z.object({
  orderId: z.string(),
  status: z.enum(['PENDING_PAYMENT', 'PAID', 'EXPIRED', 'CANCELLED']),
  totalAmount: z.number(),
  discountAmount: z.number(),
  payAmount: z.number(),
  couponId: z.number().nullable(),
  createdAt: z.string(),
  expiresAt: z.string(),
  items: z.array(ZOrderLine),
});

export const orderRouter = {
  /**
   * The order rush: a fast mutation (trpc/fast-path.ts), limited per user and per address (see
   * createOrder, which counts the call in the hold script when it answers from Redis).
   */
  create: fastMutation({
    input: z.strictObject({
      items: ZOrderItems,
      couponId: ZId.optional(),
      idempotencyKey: ZIdempotencyKey.optional(),
    }),
    // createOrder's hold script counts the call in the step that holds the stock.
    limits: Limits.IN_SCRIPT_AND_ON_REFUSED_INPUT,
    output: ZOrder,
    // Typed as the schema's output, as order.get is: clients then see a plain status union, not
    // a name from @flash/core (client.ts).
    resolve: ({ ctx, input }): Promise<z.output<typeof ZOrder>> => {
      // An order with a room's product needs the room's pass, checked in memory before any hold.
      const guarded = requirePass(ctx, ctx.user.userId, { productIds: input.items.map((i) => i.productId) });
      const create = () => createOrder(ctx.rt, ctx.user.userId, input, { ip: ctx.ip });
      return guarded ? guarded.then(create) : create();
    },
  }),

  /**
   * The price order.create would charge now (order.quote.ts: same prices, coupon rules and
   * pricing function), without holding stock or writing anything. Protected: a coupon's discount
   * depends on the caller holding it. The cart calls it as the shopper edits.
   */
  quote: protectedProcedure
    .input(z.strictObject({ items: ZOrderItems, couponId: ZId.optional() }))
    .output(
      z.object({
        totalAmount: z.number(),
        discountAmount: z.number(),
        payAmount: z.number(),
        lines: z.array(ZOrderLine),
      }),
    )
    .query(({ ctx, input }) => quoteOrder(ctx.rt, ctx.user.userId, input)),

  get: protectedProcedure
    .input(z.strictObject({ orderId: ZOrderId }))
    .output(ZOrder)
    .query(({ ctx, input }) => getOrder(ctx.rt, ctx.user.userId, input.orderId)),

  list: protectedProcedure
    .input(
      z
        .strictObject({ cursor: ZOrderCursor.optional(), limit: z.number().int().min(1).max(100).optional() })
        .optional(),
    )
    .output(z.object({ items: z.array(ZOrder), nextCursor: z.string().nullable() }))
    .query(({ ctx, input }) =>
      listOrders(ctx.rt, ctx.user.userId, { cursor: input?.cursor, limit: input?.limit ?? 20 }),
    ),
} satisfies TRPCRouterRecord;
