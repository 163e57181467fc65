import type { TRPCRouterRecord } from '@trpc/server';

// order.create, order.get and order.list arrive with the order flow.
export const orderRouter = {} satisfies TRPCRouterRecord;
