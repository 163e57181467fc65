import type { TRPCRouterRecord } from '@trpc/server';

// payment.pay arrives with the order flow.
export const paymentRouter = {} satisfies TRPCRouterRecord;
